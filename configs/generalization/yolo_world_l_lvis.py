# YOLO-World-L baseline: Objects365 v1 pre-training, zero-shot LVIS v1 minival
# (Table IV; the paper's numbers are not reproduced here).
_base_ = [
    '../_base_/models/yolo_world_l.py', './_base_/lvis_open.py',
    '../_base_/schedules/adamw_200e.py'
]
num_train_classes = _base_.num_train_classes
num_test_classes = _base_.num_test_classes

model = dict(
    num_train_classes=num_train_classes,
    num_test_classes=num_test_classes,
    bbox_head=dict(head_module=dict(num_classes=num_train_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_train_classes)))
