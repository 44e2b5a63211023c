# MMIOC closed split: every class in training and in evaluation.
# Data layout and format: docs/dataset_format.md.
data_root = 'data/mmioc/'
train_ann_file = 'annotations/closed_train.json'
val_ann_file = 'annotations/closed_val.json'
data_prefix = dict(img='images/')
num_classes = 351  # MMIOC-1M subcategories
img_scale = (640, 640)  # width, height
affine_scale = 0.5
max_aspect_ratio = 100
train_batch_size_per_gpu = 16
train_num_workers = 8
val_batch_size_per_gpu = 1
val_num_workers = 2
# False: workers start anew each epoch, so a resumed run equals an
# uninterrupted one (docs/reliability.md; the cost is measured there)
persistent_workers = False
backend_args = None  # local files; see mmengine's fileio backends

pre_transform = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True)
]
mosaic_affine_transform = [
    dict(
        type='Mosaic',
        img_scale=img_scale,
        pad_val=114.0,
        pre_transform=pre_transform),
    dict(
        type='YOLOv5RandomAffine',
        max_rotate_degree=0.0,
        max_shear_degree=0.0,
        scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
        max_aspect_ratio=max_aspect_ratio,
        border=(-img_scale[0] // 2, -img_scale[1] // 2),
        border_val=(114, 114, 114)),
]
# the last epochs: no mosaic (switched by mmdet.PipelineSwitchHook)
keep_ratio_affine_transform = [
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(
        type='LetterResize',
        scale=img_scale,
        allow_scale_up=True,
        pad_val=dict(img=114.0)),
    dict(
        type='YOLOv5RandomAffine',
        max_rotate_degree=0.0,
        max_shear_degree=0.0,
        scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
        max_aspect_ratio=max_aspect_ratio,
        border_val=(114, 114, 114)),
]
albu_train_transforms = [
    dict(type='Blur', p=0.01),
    dict(type='MedianBlur', p=0.01),
    dict(type='ToGray', p=0.01),
    dict(type='CLAHE', p=0.01)
]
last_transform = [
    # mmioc_rtvp's Albu: mmdet's, with draws that follow the seeded global
    # generator (mmdet's gives every process different albumentations with
    # recent albumentations; docs/reliability.md)
    dict(
        type='Albu',
        transforms=albu_train_transforms,
        bbox_params=dict(
            type='BboxParams',
            format='pascal_voc',
            label_fields=['gt_bboxes_labels', 'gt_ignore_flags']),
        keymap={
            'img': 'image',
            'gt_bboxes': 'bboxes'
        }),
    dict(type='YOLOv5HSVRandomAug'),
    dict(type='mmdet.RandomFlip', prob=0.5),
]
train_pack = dict(
    type='mmdet.PackDetInputs',
    meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'flip',
               'flip_direction'))
train_pipeline = [
    *pre_transform, *mosaic_affine_transform, *last_transform, train_pack
]
train_pipeline_stage2 = [
    *pre_transform, *keep_ratio_affine_transform, *last_transform, train_pack
]
train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    num_workers=train_num_workers,
    persistent_workers=persistent_workers,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='yolov5_collate'),
    dataset=dict(
        type='MMIOCDataset',
        data_root=data_root,
        ann_file=train_ann_file,
        data_prefix=data_prefix,
        # defect-free images stay: they teach the detector what is no defect
        filter_cfg=dict(filter_empty_gt=False, min_size=2),
        pipeline=train_pipeline))

test_resize = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(
        type='LetterResize',
        scale=img_scale,
        allow_scale_up=False,
        pad_val=dict(img=114)),
    dict(type='LoadAnnotations', with_bbox=True, _scope_='mmdet'),
]
test_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                  'scale_factor', 'pad_param')
test_pipeline = [
    *test_resize,
    dict(type='mmdet.PackDetInputs', meta_keys=test_meta_keys)
]
val_dataloader = dict(
    batch_size=val_batch_size_per_gpu,
    num_workers=val_num_workers,
    persistent_workers=persistent_workers,
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MMIOCDataset',
        data_root=data_root,
        ann_file=val_ann_file,
        data_prefix=data_prefix,
        test_mode=True,
        batch_shapes_cfg=None,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# mmdet's CocoMetric figures and keys, computed by hotcoco (same figures,
# much faster; pycocotools when hotcoco is missing), plus per-class and
# per-hierarchy AP tables (docs/evaluation.md)
val_evaluator = dict(
    type='MMIOCMetric',
    ann_file=data_root + val_ann_file,
    metric='bbox')
test_evaluator = val_evaluator
