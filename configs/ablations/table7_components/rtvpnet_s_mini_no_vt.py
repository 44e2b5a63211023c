# Table VII, RTVPNet-S-mini (open, CPU): without the Visual-Text update of the
# prompts (eq. 11).
_base_ = '../../rtvpnet_s_mini.py'
model = dict(visual_text=None)
