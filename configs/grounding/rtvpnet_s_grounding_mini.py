# RTVPNet-S-mini grounding on MMIOC-mini (`make data` writes its grounding
# split), for 2 CPU cores: the RTVPNet-S-mini model of configs/rtvpnet_s_mini.py
# (random expert, frozen encoder of _base_/models/rtvpnet_mini.py, MiniLM
# text) in grounding mode, 320 px, the 40-epoch CPU schedule. Same data,
# schedule and seed as yolo_world_s_grounding_mini.py.
_base_ = [
    '../_base_/models/rtvpnet_mini.py', '../_base_/models/grounding.py',
    '../_base_/datasets/mmioc_mini_grounding.py',
    '../_base_/schedules/cpu_40e.py'
]
model = _base_.rtvpnet_grounding_model
