# Table VII, RTVPNet-S closed: without the Text-Visual gating in the neck (eq.
# 10): YOLOv8's C2f blocks.
_base_ = '../../rtvpnet_s_closed.py'
model = dict(neck=dict(
    block_cfg=dict(_delete_=True, type='UnguidedCSPLayerWithTwoConv')))
