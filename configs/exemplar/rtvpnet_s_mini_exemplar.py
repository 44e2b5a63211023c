# RTVPNet-S-mini with exemplar prompts (docs/exemplar_prompts.md): the same
# model, data, schedule and seeds as configs/rtvpnet_s_mini.py, plus an
# ExemplarPromptEncoder trained jointly: in a quarter of the eligible prompt
# slots of a batch, the class's text embedding is replaced by the embedding
# of a box of that class from another image, aligned to the text by InfoNCE;
# the encoder reads the image features detached (they learn only from the
# detection losses). configs/ablations/exemplar/ has the coupled setting.
_base_ = '../rtvpnet_s_mini.py'

model = dict(
    exemplar_encoder=dict(
        type='ExemplarPromptEncoder', feat_channels=64, num_groups=8),
    exemplar_train_cfg=dict(
        swap_prob=0.25,
        detach_features=True,
        align_loss=dict(type='InfoNCERegionTextLoss', loss_weight=0.5)))
