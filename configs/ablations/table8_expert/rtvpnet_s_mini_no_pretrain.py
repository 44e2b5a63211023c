# Table VIII, RTVPNet-S-mini (open, CPU): without the expert pre-training (eq.
# 1): the expert starts from random weights.
_base_ = '../../rtvpnet_s_mini.py'
model = dict(backbone=dict(image_model=dict(init_cfg=None)))
