# YOLO-World-L (v2 style) on YOLOv8-L.
_base_ = './yolo_world_s.py'
deepen_factor = 1.0
widen_factor = 1.0
last_stage_out_channels = 512

model = dict(
    backbone=dict(
        image_model=dict(
            deepen_factor=deepen_factor,
            widen_factor=widen_factor,
            last_stage_out_channels=last_stage_out_channels)),
    neck=dict(
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        in_channels=[256, 512, last_stage_out_channels],
        out_channels=[256, 512, last_stage_out_channels],
        embed_channels=[128, 256, last_stage_out_channels // 2],
        num_heads=[4, 8, last_stage_out_channels // 2 // 32]),
    bbox_head=dict(
        head_module=dict(
            widen_factor=widen_factor,
            in_channels=[256, 512, last_stage_out_channels])))
