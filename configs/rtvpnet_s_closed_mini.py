# RTVPNet-S-mini on MMIOC-mini's closed split (all 18 classes, their text
# prompts in every batch), for 2 CPU cores; compare with
# configs/baselines/yolov8_s_closed_mini.py (same data, schedule, seeds).
_base_ = [
    './_base_/models/rtvpnet_mini.py',
    './_base_/datasets/mmioc_mini_closed_text.py',
    './_base_/schedules/cpu_20e.py'
]
num_train_classes = _base_.num_train_classes
num_test_classes = _base_.num_test_classes

model = dict(
    num_train_classes=num_train_classes,
    num_test_classes=num_test_classes,
    bbox_head=dict(head_module=dict(num_classes=num_train_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_train_classes)))
