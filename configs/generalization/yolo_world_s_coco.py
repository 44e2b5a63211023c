# YOLO-World-S baseline with the 80 class prompts: COCO 2017 closed set, 80
# classes (Table VI; not reproduced here).
_base_ = [
    '../_base_/models/yolo_world_s.py', './_base_/coco_closed_text.py',
    '../_base_/schedules/adamw_200e.py'
]
num_train_classes = _base_.num_train_classes
num_test_classes = _base_.num_test_classes

model = dict(
    num_train_classes=num_train_classes,
    num_test_classes=num_test_classes,
    bbox_head=dict(head_module=dict(num_classes=num_train_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_train_classes)))
