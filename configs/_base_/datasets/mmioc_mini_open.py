# MMIOC-mini (tools/misc/make_mmioc_mini.py), open split, for CPUs:
# 12 seen classes for training and validation (open_val_seen), 6 unseen
# classes for the test (18 in the generalized test), 320 px.
_base_ = './mmioc_open.py'
data_root = 'data/mmioc_mini/'
num_train_classes = 12
num_unseen_classes = 6
# every image sees the whole seen vocabulary (its positives + the 11 others)
num_neg_samples = (num_train_classes, num_train_classes)
img_scale = (320, 320)
# 8 images per step: twice the updates of 16 in the same CPU time
train_batch_size_per_gpu = 8
train_num_workers = 2
val_batch_size_per_gpu = 8
val_num_workers = 1

# the base pipelines at 320 px, with this vocabulary size
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
text_transform = [
    dict(
        _base_.text_transform[0],
        num_neg_samples=num_neg_samples,
        max_num_samples=num_train_classes),
    _base_.text_transform[1],
]
train_pipeline = [
    *_base_.pre_transform, *mosaic_affine_transform, *_base_.last_transform,
    *text_transform
]
train_pipeline_stage2 = [
    *_base_.pre_transform, *keep_ratio_affine_transform,
    *_base_.last_transform, *text_transform
]
test_pipeline = [*test_resize, *_base_.test_pipeline[len(test_resize):]]
train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    num_workers=train_num_workers,
    dataset=dict(
        dataset=dict(data_root=data_root),
        class_text_path=data_root + _base_.train_class_text,
        pipeline=train_pipeline))
val_dataset = dict(
    _base_.val_dataset,
    dataset=dict(_base_.val_dataset['dataset'], data_root=data_root),
    class_text_path=data_root + _base_.val_class_text,
    pipeline=test_pipeline)
val_dataloader = dict(
    batch_size=val_batch_size_per_gpu,
    num_workers=val_num_workers,
    dataset=val_dataset)
test_dataloader = dict(
    batch_size=val_batch_size_per_gpu,
    num_workers=val_num_workers,
    dataset=dict(
        val_dataset,
        dataset=dict(val_dataset['dataset'], ann_file=_base_.test_ann_file),
        class_text_path=data_root + _base_.test_class_text))
val_evaluator = dict(ann_file=data_root + _base_.val_ann_file)
test_evaluator = dict(ann_file=data_root + _base_.test_ann_file)
generalized_test_options = {
    'test_dataloader.dataset.dataset.ann_file': _base_.generalized_ann_file,
    'test_dataloader.dataset.class_text_path':
    data_root + _base_.generalized_class_text,
    'test_evaluator.ann_file': data_root + _base_.generalized_ann_file,
    'test_evaluator.seen_classes': data_root + _base_.val_ann_file,
}
