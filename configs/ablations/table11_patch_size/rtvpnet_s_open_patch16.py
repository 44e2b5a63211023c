# Table XI, RTVPNet-S open: sparse-selection patch of 16 px (default 32).
_base_ = '../../rtvpnet_s_open.py'
model = dict(visual_prompt=dict(patch_size=16))
