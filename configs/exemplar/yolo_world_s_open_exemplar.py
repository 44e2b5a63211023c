# yolo_world_s_open with exemplar prompts, as configs/exemplar/rtvpnet_*_open_exemplar.py
# (the fair comparison). Not trained here (no MMIOC-1M, no GPU).
_base_ = '../baselines/yolo_world_s_open.py'

model = dict(
    exemplar_encoder=dict(
        type='ExemplarPromptEncoder', feat_channels=128, num_groups=8),
    exemplar_train_cfg=dict(
        swap_prob=0.25,
        detach_features=True,
        align_loss=dict(type='InfoNCERegionTextLoss', loss_weight=0.5)))
