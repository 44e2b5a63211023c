# RTMDet-S (mmyolo 0.6, stock 300-epoch recipe) on MMIOC-1M's closed split.
_base_ = ['mmyolo::rtmdet/rtmdet_s_syncbn_fast_8xb32-300e_coco.py',
          './_base_/mmioc_closed.py']
default_scope = 'mmioc_rtvp'  # then mmyolo's and mmdet's registries
runner_type = 'mmioc_rtvp.MMIOCRunner'  # CPU/GPU/DDP, weights-only loading
num_classes = _base_.mmioc_num_classes
model = dict(
    # random init, nothing is downloaded (the stock ImageNet CSPNeXt-S file
    # can be given: init_cfg=dict(type='Pretrained', checkpoint=PATH, ...))
    backbone=dict(init_cfg=None),
    bbox_head=dict(head_module=dict(num_classes=num_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_classes)))
train_dataloader = dict(dataset=_base_.mmioc_train_dataset)
val_dataloader = dict(dataset=_base_.mmioc_val_dataset)
test_dataloader = val_dataloader
val_evaluator = _base_.mmioc_evaluator
test_evaluator = val_evaluator
