# RTVPNet-S-mini for CPU budgets: the YOLO-World-S-mini widths (deepen 0.33,
# widen 0.25, offline all-MiniLM-L6-v2 384-d text) and a narrower EDP.
# Mobile-SAM's weights cannot be obtained on a machine without them: here the
# TinyViT-5M encoder is built with RANDOM frozen weights unless
# sam_checkpoint is set (e.g. --cfg-options
# model.visual_encoder.checkpoint=checkpoints/mobile_sam.pt); learning
# checks with random SAM features measure the architecture, not SAM.
_base_ = './rtvpnet_s.py'
widen_factor = 0.25
text_channels = 384

model = dict(
    backbone=dict(
        image_model=dict(widen_factor=widen_factor),
        text_model=dict(_delete_=True, type='MiniLMTextEncoder')),
    visual_encoder=dict(checkpoint=None),
    domain_projection=dict(align_channels=64, hidden_channels=64),
    prompt_aux_head=dict(feat_channels=32),
    neck=dict(widen_factor=widen_factor, guide_channels=text_channels),
    bbox_head=dict(
        head_module=dict(
            widen_factor=widen_factor, embed_dims=text_channels)))
