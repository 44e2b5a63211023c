# MMIOC grounding split (tools/dataset_converters/make_grounding_split.py,
# docs/grounding.md): one referring expression and one referent box per
# record, MDETR-style COCO files under <data_root>/grounding/. Training on
# the expressions of the seen classes; evaluation on the unseen classes and
# on held-out images of the seen classes, together, as the refcoco configs
# of mmdet's mm_grounding_dino do (ConcatDataset + MultiDatasetsEvaluator;
# keys unseen/grounding/precision@1, seen/grounding/mean_iou, ...).
# The closed split's loaders, sizes and test resize; no flips and no mosaic
# in training: "left"/"right" and "the only ..." must stay true.
_base_ = './mmioc_closed.py'

train_ann_file = 'grounding/train.json'
test_ann_files = dict(
    unseen='grounding/test_unseen.json', seen='grounding/test_seen.json')

train_pipeline = [
    *_base_.pre_transform,
    dict(_base_.keep_ratio_affine_transform[0]),
    dict(_base_.keep_ratio_affine_transform[1]),
    dict(type='YOLOv5HSVRandomAug'),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'texts'))
]
# no mosaic to close: the schedules' CloseMosaicHook switches to the same
train_pipeline_stage2 = train_pipeline
test_pipeline = [
    *_base_.test_resize,
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=(*_base_.test_meta_keys, 'texts'))
]
train_dataloader = dict(
    collate_fn=dict(type='mmioc_rtvp.multimodal_collate'),
    dataset=dict(
        _delete_=True,
        type='MMIOCGroundingDataset',
        data_root=_base_.data_root,
        ann_file=train_ann_file,
        data_prefix=_base_.data_prefix,
        pipeline=train_pipeline))

test_datasets = [
    dict(
        type='MMIOCGroundingDataset',
        data_root=_base_.data_root,
        ann_file=ann_file,
        data_prefix=_base_.data_prefix,
        test_mode=True,
        pipeline=test_pipeline) for ann_file in test_ann_files.values()
]
val_dataloader = dict(
    dataset=dict(
        _delete_=True, type='mmdet.ConcatDataset', datasets=test_datasets))
test_dataloader = val_dataloader

val_evaluator = dict(
    _delete_=True,
    type='mmdet.MultiDatasetsEvaluator',
    metrics=[
        dict(
            type='MMIOCRefExpMetric',
            ann_file=_base_.data_root + ann_file,
            topk=(1, 5, 10),
            iou_thrs=0.5) for ann_file in test_ann_files.values()
    ],
    dataset_prefixes=list(test_ann_files))
test_evaluator = val_evaluator
