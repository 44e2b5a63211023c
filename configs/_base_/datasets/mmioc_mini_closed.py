# MMIOC-mini (tools/misc/make_mmioc_mini.py), closed split, for CPUs:
# 18 classes, 256-320 px images trained at 320 px.
_base_ = './mmioc_closed.py'
data_root = 'data/mmioc_mini/'
num_classes = 18
img_scale = (320, 320)
# 8 images per step: twice the updates of 16 in the same CPU time
train_batch_size_per_gpu = 8
train_num_workers = 2
val_batch_size_per_gpu = 8
val_num_workers = 1

# the base pipelines at 320 px
mosaic_affine_transform = [
    dict(_base_.mosaic_affine_transform[0], img_scale=img_scale),
    dict(
        _base_.mosaic_affine_transform[1],
        border=(-img_scale[0] // 2, -img_scale[1] // 2)),
]
keep_ratio_affine_transform = [
    dict(_base_.keep_ratio_affine_transform[0], scale=img_scale),
    dict(_base_.keep_ratio_affine_transform[1], scale=img_scale),
    _base_.keep_ratio_affine_transform[2],
]
test_resize = [
    _base_.test_resize[0],
    dict(_base_.test_resize[1], scale=img_scale),
    dict(_base_.test_resize[2], scale=img_scale),
    _base_.test_resize[3],
]
train_pipeline = [
    *_base_.pre_transform, *mosaic_affine_transform, *_base_.last_transform,
    _base_.train_pack
]
train_pipeline_stage2 = [
    *_base_.pre_transform, *keep_ratio_affine_transform,
    *_base_.last_transform, _base_.train_pack
]
test_pipeline = [
    *test_resize,
    dict(type='mmdet.PackDetInputs', meta_keys=_base_.test_meta_keys)
]
train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    num_workers=train_num_workers,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=val_batch_size_per_gpu,
    num_workers=val_num_workers,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + _base_.val_ann_file)
test_evaluator = val_evaluator
