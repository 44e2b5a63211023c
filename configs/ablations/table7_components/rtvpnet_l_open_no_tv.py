# Table VII, RTVPNet-L open: without the Text-Visual gating in the neck (eq.
# 10): YOLOv8's C2f blocks.
_base_ = '../../rtvpnet_l_open.py'
model = dict(neck=dict(
    block_cfg=dict(_delete_=True, type='UnguidedCSPLayerWithTwoConv')))
