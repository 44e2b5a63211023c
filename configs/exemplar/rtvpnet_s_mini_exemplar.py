# RTVPNet-S-mini with exemplar prompts (docs/exemplar_prompts.md): the same
# model, data, schedule and seeds as configs/rtvpnet_s_mini.py, plus an
# ExemplarPromptEncoder trained jointly (_base_/models/exemplar_prompts.py).
# configs/ablations/exemplar/ has the coupled training setting.
_base_ = ['../rtvpnet_s_mini.py', '../_base_/models/exemplar_prompts.py']

model = dict(
    exemplar_encoder=_base_.exemplar_encoder_mini,
    exemplar_train_cfg=_base_.exemplar_train_cfg)
