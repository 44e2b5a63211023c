# Table XIII, RTVPNet-S-mini (open, CPU): Mobile-SAM's TinyViT structure at
# half its width and a third of its depth, with RANDOM frozen weights (the
# mini default before the pretrained MobileNetV2; Mobile-SAM's weights cannot
# be obtained here). Compared with rtvpnet_s_mini.py it isolates what a real
# pretrained general-domain encoder brings.
_base_ = '../../rtvpnet_s_mini.py'
model = dict(
    visual_encoder=dict(
        _delete_=True,
        type='MobileSAMTinyViT',
        checkpoint=None,
        embed_dims=(32, 64, 80, 160),
        depths=(1, 1, 2, 1),
        num_heads=(1, 2, 5, 5),
        neck_channels=128,
        out_strides=(8, 16, 32),
        pixel_mean=(0.485, 0.456, 0.406),
        pixel_std=(0.229, 0.224, 0.225)))
