# Table VII, RTVPNet-S closed: without the Visual-Text update of the prompts
# (eq. 11).
_base_ = '../../rtvpnet_s_closed.py'
model = dict(visual_text=None)
