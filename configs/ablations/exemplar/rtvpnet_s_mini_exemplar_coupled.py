# Exemplar training, coupled setting: half of the eligible prompt slots take
# an exemplar, the encoder's gradients flow back into the detector's
# features, alignment weight 1.0 (the shipped config: a quarter, detached,
# 0.5). Results: docs/results.md, exemplar prompts.
_base_ = '../../exemplar/rtvpnet_s_mini_exemplar.py'

model = dict(
    exemplar_train_cfg=dict(
        swap_prob=0.5,
        detach_features=False,
        align_loss=dict(type='InfoNCERegionTextLoss', loss_weight=1.0)))
