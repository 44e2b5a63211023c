# YOLO-World-S open with exemplar prompts, as rtvpnet_s_open_exemplar.py (the
# fair comparison). Not trained here (no MMIOC-1M, no GPU).
_base_ = ['../baselines/yolo_world_s_open.py', '../_base_/models/exemplar_prompts.py']

model = dict(
    exemplar_encoder=_base_.exemplar_encoder_s,
    exemplar_train_cfg=_base_.exemplar_train_cfg)
