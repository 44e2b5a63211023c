# RTVPNet-S whose expert is YOLO11-S's backbone (paper 5.3.3 / 5.3.5:
# "we replace the expert model of RTVPNet with YOLOv11's S and L versions
# of backbone"); its levels have 256 / 256 / 512 channels.
_base_ = '../../_base_/models/rtvpnet_s.py'
neck_channels = [512, 512, 1024]  # x widen 0.5: 256 / 256 / 512
model = dict(
    backbone=dict(
        image_model=dict(
            _delete_=True,
            type='YOLO11Backbone',
            deepen_factor=0.5,
            widen_factor=0.5,
            max_channels=1024,
            norm_cfg=_base_.norm_cfg,
            act_cfg=_base_.act_cfg)),
    # widths before widen_factor, as mmyolo's necks take them; mmyolo's
    # YOLOv8 PAFPN needs out_channels = in_channels on the P3 / P4 levels
    neck=dict(in_channels=neck_channels, out_channels=neck_channels),
    bbox_head=dict(head_module=dict(in_channels=neck_channels)))
