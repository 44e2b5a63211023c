# Exemplar prompts (docs/exemplar_prompts.md): the encoder per model size and
# how it is trained. A leaf config adds them to its model:
#   model = dict(exemplar_encoder=_base_.exemplar_encoder_s,
#                exemplar_train_cfg=_base_.exemplar_train_cfg)
exemplar_encoder_mini = dict(
    type='ExemplarPromptEncoder', feat_channels=64, num_groups=8)
exemplar_encoder_s = dict(
    type='ExemplarPromptEncoder', feat_channels=128, num_groups=8)
exemplar_encoder_l = dict(
    type='ExemplarPromptEncoder', feat_channels=256, num_groups=16)
# a quarter of the eligible prompt slots of a batch take the exemplar of a
# box of their class from another image; the encoder reads the image
# features detached (they learn from the detection losses only); InfoNCE
# alignment of each exemplar with its class's text
exemplar_train_cfg = dict(
    swap_prob=0.25,
    detach_features=True,
    align_loss=dict(type='InfoNCERegionTextLoss', loss_weight=0.5))
