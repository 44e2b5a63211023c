# MMIOC grounding split (tools/dataset_converters/make_grounding_split.py,
# docs/grounding.md): one referring expression and one referent box per
# record, MDETR-style COCO files under <data_root>/grounding/. Training on
# the expressions of the seen classes; evaluation on the unseen classes and
# on held-out images of the seen classes, together, as the refcoco configs
# of mmdet's mm_grounding_dino do (ConcatDataset + MultiDatasetsEvaluator;
# keys unseen/grounding/precision@1, seen/grounding/mean_iou, ...).
# No flips and no mosaic: "left"/"right" and "the only ..." must stay true.

data_root = 'data/mmioc/'
data_prefix = dict(img='images/')
train_ann_file = 'grounding/train.json'
test_ann_files = dict(
    unseen='grounding/test_unseen.json', seen='grounding/test_seen.json')
img_scale = (640, 640)  # width, height
train_batch_size_per_gpu = 16
train_num_workers = 8
val_batch_size_per_gpu = 1
val_num_workers = 2
persistent_workers = True
backend_args = None

resize = [
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(
        type='LetterResize',
        scale=img_scale,
        allow_scale_up=True,
        pad_val=dict(img=114.0)),
]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    *resize,
    dict(type='YOLOv5HSVRandomAug'),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'texts'))
]
# no mosaic to close: the schedules' CloseMosaicHook switches to the same
train_pipeline_stage2 = train_pipeline
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(resize[0]),
    dict(resize[1], allow_scale_up=False),
    dict(type='LoadAnnotations', with_bbox=True, _scope_='mmdet'),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'pad_param', 'texts'))
]
train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    num_workers=train_num_workers,
    persistent_workers=persistent_workers,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='mmioc_rtvp.multimodal_collate'),
    dataset=dict(
        type='MMIOCGroundingDataset',
        data_root=data_root,
        ann_file=train_ann_file,
        data_prefix=data_prefix,
        pipeline=train_pipeline))

test_datasets = [
    dict(
        type='MMIOCGroundingDataset',
        data_root=data_root,
        ann_file=ann_file,
        data_prefix=data_prefix,
        test_mode=True,
        pipeline=test_pipeline) for ann_file in test_ann_files.values()
]
val_dataloader = dict(
    batch_size=val_batch_size_per_gpu,
    num_workers=val_num_workers,
    persistent_workers=persistent_workers,
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='mmdet.ConcatDataset', datasets=test_datasets))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='mmdet.MultiDatasetsEvaluator',
    metrics=[
        dict(
            type='MMIOCRefExpMetric',
            ann_file=data_root + ann_file,
            topk=(1, 5, 10),
            iou_thrs=0.5) for ann_file in test_ann_files.values()
    ],
    dataset_prefixes=list(test_ann_files))
test_evaluator = val_evaluator
