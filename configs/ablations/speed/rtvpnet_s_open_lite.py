# Speed switches together, RTVPNet-S (open): TinyViT on the image pooled by
# 2 (rtvpnet_s_open_encoder_half.py) and the lighter EDP
# (rtvpnet_s_open_edp_lite.py). Beside the default until both are measured
# (the TinyViT part cannot be on MMIOC-mini).
_base_ = './rtvpnet_s_open_edp_lite.py'
model = dict(visual_encoder=dict(input_downsample=2))
