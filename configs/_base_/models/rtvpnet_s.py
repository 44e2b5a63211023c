# RTVPNet-S (paper section 4): the YOLO-World-S text side and neck around a
# C2F-S expert (YOLOv8-S backbone), plus a frozen Mobile-SAM TinyViT-5M
# encoder whose features are projected into the expert's domain (EDP,
# eqs. 2-6), refined into sparse visual prompts (RVP, eqs. 7-9) and
# injected into the expert's pyramid levels; text-visual gating in the neck
# (T-V, eq. 10), an image-guided text update (V-T, eq. 11) and an InfoNCE
# region-text loss next to YOLOv8's losses. Each part has a switch (see
# configs/ablations/).
_base_ = './yolo_world_s.py'

# Mobile-SAM's official weights (MobileSAM's weights/mobile_sam.pt, or the
# encoder extracted from it), loaded strictly; nothing is downloaded: a
# missing file stops the build with its path
sam_checkpoint = 'checkpoints/mobile_sam.pt'
# the expert's initialisation: the YOLOv8 pre-training (eq. 1) checkpoint,
# set by the leaf config (None: random initialisation)
expert_checkpoint = None
mask_ratio = 0.2
patch_size = 32
prompt_activation = dict(type='EnergyActivation')

model = dict(
    type='RTVPNet',
    visual_encoder=dict(
        type='MobileSAMTinyViT',
        checkpoint=sam_checkpoint,
        out_strides=_base_.strides,
        # the data preprocessor gives RGB in [0, 1]; SAM's ImageNet stats
        pixel_mean=(0.485, 0.456, 0.406),
        pixel_std=(0.229, 0.224, 0.225)),
    domain_projection=dict(
        type='ExpertDomainProjection',
        align_channels=256,
        hidden_channels=256,
        mask_ratio=mask_ratio,
        stop_threshold=0.0,
        loss_weight=1.0),
    visual_prompt=dict(
        type='EnergySparsePrompt',
        patch_size=patch_size,
        activation_cfg=prompt_activation),
    prompt_aux_head=dict(type='CIoUAuxHead', feat_channels=64),
    visual_text=dict(type='VisualTextUpdate', temperature=0.1,
                     init_scale=0.01),
    bbox_head=dict(
        type='RTVPHead',
        head_module=dict(type='RTVPHeadModule'),
        loss_region_text=dict(
            type='InfoNCERegionTextLoss', temperature=0.07,
            loss_weight=0.5)))
# the expert's optimizer parameter group (its coupling lr, eq. 6) is set in
# the schedule: ../schedules/adamw_200e.py, expert_lr
