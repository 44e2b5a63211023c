# RTVPNet-L whose expert is YOLO11-L's backbone (C3k blocks in every
# stage, channels capped at 512); its levels have 512 / 512 / 512 channels.
_base_ = '../../_base_/models/rtvpnet_l.py'
neck_channels = [512, 512, 512]
model = dict(
    backbone=dict(
        image_model=dict(
            _delete_=True,
            type='YOLO11Backbone',
            deepen_factor=1.0,
            widen_factor=1.0,
            max_channels=512,
            c3k_all_stages=True,
            norm_cfg=_base_.norm_cfg,
            act_cfg=_base_.act_cfg)),
    # mmyolo's YOLOv8 PAFPN needs out_channels = in_channels on P3 / P4
    neck=dict(in_channels=neck_channels, out_channels=neck_channels),
    bbox_head=dict(head_module=dict(in_channels=neck_channels)))
