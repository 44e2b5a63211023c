# YOLO-World-S-mini with exemplar prompts: configs/baselines/
# yolo_world_s_open_mini.py plus the exemplar encoder and training of
# rtvpnet_s_mini_exemplar.py (the fair comparison).
_base_ = '../baselines/yolo_world_s_open_mini.py'

model = dict(
    exemplar_encoder=dict(
        type='ExemplarPromptEncoder', feat_channels=64, num_groups=8),
    exemplar_train_cfg=dict(
        swap_prob=0.25,
        detach_features=True,
        align_loss=dict(type='InfoNCERegionTextLoss', loss_weight=0.5)))
