# RTVPNet-S-mini on MMIOC-mini's open split, for 2 CPU cores: 320 px,
# 12 seen classes for training, 6 unseen for evaluation, MiniLM text, the
# same data, schedule and seeds as configs/baselines/yolo_world_s_open_mini.py.
# Mobile-SAM is random and frozen unless its weights are given (see
# _base_/models/rtvpnet_mini.py); the expert starts from random weights
# (the fair comparison with YOLO-World-S-mini); to start it from a YOLOv8
# seen-class run (configs/baselines/yolov8_s_seen_mini.py) add
#   --cfg-options model.backbone.image_model.init_cfg.type=Pretrained \
#     model.backbone.image_model.init_cfg.checkpoint=<its .pth> \
#     model.backbone.image_model.init_cfg.prefix=backbone.
# `make demo` trains this config.
_base_ = [
    './_base_/models/rtvpnet_mini.py',
    './_base_/datasets/mmioc_mini_open.py',
    './_base_/schedules/cpu_20e.py'
]
num_train_classes = _base_.num_train_classes
num_test_classes = _base_.num_test_classes

model = dict(
    num_train_classes=num_train_classes,
    num_test_classes=num_test_classes,
    bbox_head=dict(head_module=dict(num_classes=num_train_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_train_classes)))
