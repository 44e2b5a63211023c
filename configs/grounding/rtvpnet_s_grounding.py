# RTVPNet-S for visual grounding (paper sec. 4.7) on MMIOC-1M's grounding
# split (tools/dataset_converters/make_grounding_split.py --data-root
# data/mmioc): one referring expression per image in, ranked boxes out.
# The paper's detection settings (AdamW 2e-3, wd 0.025, 200 epochs, 640 px,
# CLIP text and Mobile-SAM-T frozen, the expert from the YOLOv8 seen-class
# pre-training); the paper gives no separate grounding schedule and no
# grounding figure for MMIOC-1M (not reproduced here).
# Metric: precision@1/5/10 at IoU 0.5 (mmdet's RefExpMetric rule; @1 is the
# paper's Acc@0.5), mean top-1 IoU, per supercategory, unseen and seen.
_base_ = [
    '../_base_/models/rtvpnet_s.py', '../_base_/models/grounding.py',
    '../_base_/datasets/mmioc_grounding.py',
    '../_base_/schedules/adamw_200e.py'
]
expert_checkpoint = 'work_dirs/yolov8_s_seen/epoch_200.pth'

model = dict(
    _base_.rtvpnet_grounding_model,
    backbone=dict(
        image_model=dict(
            init_cfg=dict(
                type='Pretrained',
                checkpoint=expert_checkpoint,
                prefix='backbone.'))))
default_hooks = dict(
    checkpoint=dict(save_best='unseen/grounding/precision@1', rule='greater'))
