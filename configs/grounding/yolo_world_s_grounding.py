# YOLO-World-S grounding baseline on MMIOC-1M's grounding split, the paper's
# detection settings (as rtvpnet_s_grounding.py): the expression is a
# one-class vocabulary and the answer the top-scoring box (mmyolo's decoding
# returns boxes by descending score). Not run here.
_base_ = [
    '../_base_/models/yolo_world_s.py', '../_base_/models/grounding.py',
    '../_base_/datasets/mmioc_grounding.py',
    '../_base_/schedules/adamw_200e.py'
]
model = _base_.grounding_model
default_hooks = dict(
    checkpoint=dict(save_best='unseen/grounding/precision@1', rule='greater'))
