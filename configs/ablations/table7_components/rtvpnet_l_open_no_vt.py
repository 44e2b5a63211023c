# Table VII, RTVPNet-L open: without the Visual-Text update of the prompts (eq.
# 11).
_base_ = '../../rtvpnet_l_open.py'
model = dict(visual_text=None)
