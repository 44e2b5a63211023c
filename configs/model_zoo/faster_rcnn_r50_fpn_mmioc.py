# Faster R-CNN R50-FPN (mmdet 3.3, stock 1x schedule) on MMIOC-1M's closed
# split.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
          './_base_/mmioc_closed.py']
default_scope = 'mmioc_rtvp'  # then mmyolo's and mmdet's registries
runner_type = 'mmioc_rtvp.MMIOCRunner'  # CPU/GPU/DDP, weights-only loading
num_classes = _base_.mmioc_num_classes
model = dict(
    # random init, nothing is downloaded (torchvision's ImageNet ResNet-50
    # file can be given: init_cfg=dict(type='Pretrained', checkpoint=PATH))
    backbone=dict(init_cfg=None),
    roi_head=dict(bbox_head=dict(num_classes=num_classes)))
train_dataloader = dict(dataset=_base_.mmioc_train_dataset)
val_dataloader = dict(dataset=_base_.mmioc_val_dataset)
test_dataloader = val_dataloader
val_evaluator = _base_.mmioc_evaluator
test_evaluator = val_evaluator
