# rtvpnet_s_open with exemplar prompts (docs/exemplar_prompts.md): the paper's
# settings plus an ExemplarPromptEncoder trained jointly (a quarter of the
# eligible prompt slots of a batch take an exemplar of their class from
# another image). Not trained here (no MMIOC-1M, no GPU).
_base_ = '../rtvpnet_s_open.py'

model = dict(
    exemplar_encoder=dict(
        type='ExemplarPromptEncoder', feat_channels=128, num_groups=8),
    exemplar_train_cfg=dict(
        swap_prob=0.25,
        detach_features=True,
        align_loss=dict(type='InfoNCERegionTextLoss', loss_weight=0.5)))
