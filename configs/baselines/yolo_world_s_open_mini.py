# YOLO-World-S-mini on MMIOC-mini's open split, for 2 CPU cores: 320 px,
# 12 seen classes for training, 6 unseen for evaluation, MiniLM text.
# `make demo` trains this config.
_base_ = [
    '../_base_/models/yolo_world_s_mini.py',
    '../_base_/datasets/mmioc_mini_open.py', '../_base_/schedules/cpu_20e.py'
]
num_train_classes = _base_.num_train_classes
num_test_classes = _base_.num_test_classes

model = dict(
    num_train_classes=num_train_classes,
    num_test_classes=num_test_classes,
    bbox_head=dict(head_module=dict(num_classes=num_train_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_train_classes)))
