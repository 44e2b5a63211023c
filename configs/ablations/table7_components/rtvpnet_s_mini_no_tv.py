# Table VII, RTVPNet-S-mini (open, CPU): without the Text-Visual gating in the
# neck (eq. 10): YOLOv8's C2f blocks.
_base_ = '../../rtvpnet_s_mini.py'
model = dict(neck=dict(
    block_cfg=dict(_delete_=True, type='UnguidedCSPLayerWithTwoConv')))
