# YOLOv8-L baseline: COCO 2017 closed set, 80 classes (Table VI; not
# reproduced here).
_base_ = [
    '../_base_/models/yolov8_l.py', './_base_/coco_closed.py',
    '../_base_/schedules/adamw_200e.py'
]
num_classes = _base_.num_classes

model = dict(
    bbox_head=dict(head_module=dict(num_classes=num_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_classes)))
