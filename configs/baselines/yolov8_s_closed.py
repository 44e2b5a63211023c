# YOLOv8-S on MMIOC-1M's closed split (351 classes): the paper's closed-set
# baseline. 8 GPUs x 16 images, AdamW 2e-3, 200 epochs, 640 px.
_base_ = [
    '../_base_/models/yolov8_s.py', '../_base_/datasets/mmioc_closed.py',
    '../_base_/schedules/adamw_200e.py'
]
num_classes = _base_.num_classes

model = dict(
    bbox_head=dict(head_module=dict(num_classes=num_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_classes)))
