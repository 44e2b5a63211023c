# YOLO-World-S (v2 style) on YOLOv8-S: a frozen text encoder, a text-guided
# max-sigmoid PAFPN and a BatchNorm contrastive head. The vocabulary sizes
# are set by the leaf config from its dataset.
_base_ = './yolov8_s.py'

# CLIP ViT-B/32 text tower, as the paper and the authors' run; it loads
# from a local directory or the local HF cache only (see docs/get_started.md)
text_model = dict(
    type='HFCLIPTextEncoder',
    model_name_or_path='openai/clip-vit-base-patch32')
text_channels = 512
neck_embed_channels = [128, 256, _base_.last_stage_out_channels // 2]
neck_num_heads = [4, 8, _base_.last_stage_out_channels // 2 // 32]

model = dict(
    type='YOLOWorldDetector',
    num_train_classes=None,  # set by the leaf config
    num_test_classes=None,
    data_preprocessor=dict(type='MultiModalDetDataPreprocessor'),
    backbone=dict(
        _delete_=True,
        type='MultiModalYOLOBackbone',
        image_model=_base_.model.backbone,
        text_model=text_model),
    neck=dict(
        type='YOLOWorldPAFPN',
        guide_channels=text_channels,
        embed_channels=neck_embed_channels,
        num_heads=neck_num_heads,
        block_cfg=dict(type='MaxSigmoidCSPLayerWithTwoConv')),
    bbox_head=dict(
        type='YOLOWorldHead',
        head_module=dict(
            type='YOLOWorldHeadModule',
            embed_dims=text_channels,
            use_bn_head=True)))
