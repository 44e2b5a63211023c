# YOLOv8-S-mini seen-class (expert) pre-training on MMIOC-mini (12 classes),
# 320 px, for 2 CPU cores.
_base_ = [
    '../_base_/models/yolov8_s_mini.py', '../_base_/datasets/mmioc_mini_seen.py',
    '../_base_/schedules/cpu_20e.py'
]
num_classes = _base_.num_classes

model = dict(
    bbox_head=dict(head_module=dict(num_classes=num_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_classes)))
