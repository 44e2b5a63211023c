# Table X, RTVPNet-L closed: ECAActivation instead of the energy activation
# (eq. 7) in the refined visual prompt.
_base_ = '../../rtvpnet_l_closed.py'
model = dict(visual_prompt=dict(
    activation_cfg=dict(_delete_=True, type='ECAActivation')))
