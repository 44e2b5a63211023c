# Speed switch, RTVPNet-S-mini (open, CPU): the EDP change of
# rtvpnet_s_open_edp_lite.py at the mini width (32 hidden channels instead
# of 64, branch strides 2 and 4), for the learning check against
# rtvpnet_s_mini.py (same seeds, paired differences).
_base_ = '../../rtvpnet_s_mini.py'
model = dict(
    domain_projection=dict(hidden_channels=32, branch_strides=(2, 4)))
