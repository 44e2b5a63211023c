# YOLOv8-L on MMIOC-1M's closed split (351 classes).
_base_ = [
    '../_base_/models/yolov8_l.py', '../_base_/datasets/mmioc_closed.py',
    '../_base_/schedules/adamw_200e.py'
]
num_classes = _base_.num_classes

model = dict(
    bbox_head=dict(head_module=dict(num_classes=num_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_classes)))
