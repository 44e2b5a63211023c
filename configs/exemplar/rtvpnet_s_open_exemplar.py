# RTVPNet-S open with exemplar prompts (docs/exemplar_prompts.md): the
# paper's settings plus an ExemplarPromptEncoder trained jointly. Not trained
# here (no MMIOC-1M, no GPU).
_base_ = ['../rtvpnet_s_open.py', '../_base_/models/exemplar_prompts.py']

model = dict(
    exemplar_encoder=_base_.exemplar_encoder_s,
    exemplar_train_cfg=_base_.exemplar_train_cfg)
