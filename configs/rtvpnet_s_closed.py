# RTVPNet-S, closed split of MMIOC-1M, the paper's settings (AdamW 2e-3,
# wd 0.025, 200 epochs, 640 px, 16 images x 8 GPUs, CLIP text and
# Mobile-SAM-T frozen). Paper Table V: AP 36.7 / AP50 60.7
# (not reproduced here).
# The expert starts from the YOLOv8 pre-training (eq. 1), whose last
# checkpoint is expert_checkpoint:
#   mim train mmdet configs/baselines/yolov8_s_closed.py
_base_ = [
    './_base_/models/rtvpnet_s.py', './_base_/datasets/mmioc_closed_text.py',
    './_base_/schedules/adamw_200e.py'
]
num_train_classes = _base_.num_train_classes
num_test_classes = _base_.num_test_classes
expert_checkpoint = 'work_dirs/yolov8_s_closed/epoch_200.pth'

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
