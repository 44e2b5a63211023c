# YOLO-World-S (v2 style), open split of MMIOC-1M: trained on the 94 seen
# classes, evaluated on the 64 unseen classes from their text prompts.
_base_ = [
    '../_base_/models/yolo_world_s.py', '../_base_/datasets/mmioc_open.py',
    '../_base_/schedules/adamw_200e.py'
]
num_train_classes = _base_.num_train_classes
num_test_classes = _base_.num_test_classes

model = dict(
    num_train_classes=num_train_classes,
    num_test_classes=num_test_classes,
    bbox_head=dict(head_module=dict(num_classes=num_train_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_train_classes)))
