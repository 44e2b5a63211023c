# Table VIII, RTVPNet-L closed: without the expert pre-training (eq. 1): the
# expert starts from random weights.
_base_ = '../../rtvpnet_l_closed.py'
model = dict(backbone=dict(image_model=dict(init_cfg=None)))
