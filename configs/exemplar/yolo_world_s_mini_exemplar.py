# YOLO-World-S-mini with exemplar prompts: configs/baselines/
# yolo_world_s_open_mini.py plus the exemplar encoder and training of
# rtvpnet_s_mini_exemplar.py (the fair comparison).
_base_ = ['../baselines/yolo_world_s_open_mini.py', '../_base_/models/exemplar_prompts.py']

model = dict(
    exemplar_encoder=_base_.exemplar_encoder_mini,
    exemplar_train_cfg=_base_.exemplar_train_cfg)
