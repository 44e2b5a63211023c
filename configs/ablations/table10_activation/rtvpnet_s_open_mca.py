# Table X, RTVPNet-S open: MCAActivation instead of the energy activation (eq.
# 7) in the refined visual prompt.
_base_ = '../../rtvpnet_s_open.py'
model = dict(visual_prompt=dict(
    activation_cfg=dict(_delete_=True, type='MCAActivation')))
