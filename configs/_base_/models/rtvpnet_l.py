# RTVPNet-L: RTVPNet-S with the C2F-L expert (deepen 1.0, widen 1.0, last
# stage 512), i.e. YOLO-World-L's backbone, neck and head widths.
_base_ = './rtvpnet_s.py'
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
