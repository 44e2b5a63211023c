# YOLO-World-L open with exemplar prompts, as rtvpnet_l_open_exemplar.py (the
# fair comparison). Not trained here (no MMIOC-1M, no GPU).
_base_ = ['../baselines/yolo_world_l_open.py', '../_base_/models/exemplar_prompts.py']

model = dict(
    exemplar_encoder=_base_.exemplar_encoder_l,
    exemplar_train_cfg=_base_.exemplar_train_cfg)
