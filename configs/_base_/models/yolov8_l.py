# YOLOv8-L (C2F-L: deepen 1.0, widen 1.0, last stage 512): the closed-set
# baseline and the expert of RTVPNet-L.
_base_ = './yolov8_s.py'
deepen_factor = 1.0
widen_factor = 1.0
last_stage_out_channels = 512

model = dict(
    backbone=dict(
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        last_stage_out_channels=last_stage_out_channels),
    neck=dict(
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        in_channels=[256, 512, last_stage_out_channels],
        out_channels=[256, 512, last_stage_out_channels]),
    bbox_head=dict(
        head_module=dict(
            widen_factor=widen_factor,
            in_channels=[256, 512, last_stage_out_channels])))
