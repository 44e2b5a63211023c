# Table VII, RTVPNet-S closed: without the Refined Visual Prompt: the coarse
# prompt F^R is injected unselected and the auxiliary CIoU head is dropped.
_base_ = '../../rtvpnet_s_closed.py'
model = dict(visual_prompt=None, prompt_aux_head=None)
