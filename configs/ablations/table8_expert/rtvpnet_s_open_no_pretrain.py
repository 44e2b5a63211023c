# Table VIII, RTVPNet-S open: without the expert pre-training (eq. 1): the
# expert starts from random weights.
_base_ = '../../rtvpnet_s_open.py'
model = dict(backbone=dict(image_model=dict(init_cfg=None)))
