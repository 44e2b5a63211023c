# Speed switch, RTVPNet-S (open): EDP's reconstruction network G with 128
# hidden channels (default 256) and without its full-resolution branch
# (branch strides 2 and 4; default 1, 2, 4). Accuracy: its mini counterpart
# rtvpnet_s_mini_edp_lite.py in the learning check.
_base_ = '../../rtvpnet_s_open.py'
model = dict(
    domain_projection=dict(hidden_channels=128, branch_strides=(2, 4)))
