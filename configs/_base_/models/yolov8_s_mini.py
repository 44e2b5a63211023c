# YOLOv8-S-mini for CPU budgets: YOLOv8-S depth at half its width
# (deepen 0.33, widen 0.25).
_base_ = './yolov8_s.py'
widen_factor = 0.25

model = dict(
    backbone=dict(widen_factor=widen_factor),
    neck=dict(widen_factor=widen_factor),
    bbox_head=dict(head_module=dict(widen_factor=widen_factor)))
