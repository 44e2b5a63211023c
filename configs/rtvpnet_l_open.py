# RTVPNet-L, open split of MMIOC-1M, the paper's settings (AdamW 2e-3,
# wd 0.025, 200 epochs, 640 px, 16 images x 8 GPUs, CLIP text and
# Mobile-SAM-T frozen). Paper Table III: unseen AP 17.4 / AP50 30.7
# (not reproduced here).
# The expert starts from the YOLOv8 pre-training (eq. 1), whose last
# checkpoint is expert_checkpoint:
#   mim train mmdet configs/baselines/yolov8_l_seen.py
_base_ = [
    './_base_/models/rtvpnet_l.py', './_base_/datasets/mmioc_open.py',
    './_base_/schedules/adamw_200e.py'
]
num_train_classes = _base_.num_train_classes
num_test_classes = _base_.num_test_classes
expert_checkpoint = 'work_dirs/yolov8_l_seen/epoch_200.pth'

model = dict(
    num_train_classes=num_train_classes,
    num_test_classes=num_test_classes,
    backbone=dict(
        image_model=dict(
            init_cfg=dict(
                type='Pretrained',
                checkpoint=expert_checkpoint,
                prefix='backbone.'))),
    bbox_head=dict(head_module=dict(num_classes=num_train_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_train_classes)))
