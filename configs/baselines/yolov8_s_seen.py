# YOLOv8-S on the 94 seen classes of MMIOC-1M's open split: the expert
# pre-training of RTVPNet-S (paper eq. 1).
_base_ = [
    '../_base_/models/yolov8_s.py', '../_base_/datasets/mmioc_seen.py',
    '../_base_/schedules/adamw_200e.py'
]
num_classes = _base_.num_classes

model = dict(
    bbox_head=dict(head_module=dict(num_classes=num_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_classes)))
