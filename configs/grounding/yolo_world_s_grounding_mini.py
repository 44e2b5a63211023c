# YOLO-World-S-mini grounding baseline on MMIOC-mini: the expression is a
# one-class vocabulary (K = 1, the referent is class 0) and the answer is the
# top-scoring box. YOLO-World's own losses (BCE, CIoU, DFL), no ranking
# loss; same data, schedule and seed as rtvpnet_s_grounding_mini.py.
_base_ = [
    '../_base_/models/yolo_world_s_mini.py', '../_base_/models/grounding.py',
    '../_base_/datasets/mmioc_mini_grounding.py',
    '../_base_/schedules/cpu_40e.py'
]
model = _base_.grounding_model
