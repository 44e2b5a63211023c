# YOLOv5-S v6.1 (mmyolo 0.6, stock 300-epoch recipe) on MMIOC-1M's closed
# split, with COCO's anchors (mmyolo's optimize_anchors.py fits new ones).
_base_ = ['mmyolo::yolov5/yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py',
          './_base_/mmioc_closed.py']
default_scope = 'mmioc_rtvp'  # then mmyolo's and mmdet's registries
runner_type = 'mmioc_rtvp.MMIOCRunner'  # CPU/GPU/DDP, weights-only loading
num_classes = _base_.mmioc_num_classes
model = dict(
    bbox_head=dict(
        head_module=dict(num_classes=num_classes),
        # the stock scaling: 0.5 x num_classes / 80 (3 detection layers)
        loss_cls=dict(loss_weight=0.5 * num_classes / 80)))
train_dataloader = dict(dataset=_base_.mmioc_train_dataset)
val_dataloader = dict(dataset=_base_.mmioc_val_dataset)
test_dataloader = val_dataloader
val_evaluator = _base_.mmioc_evaluator
test_evaluator = val_evaluator
