# MMIOC open-vocabulary split (the paper's protocol): train on the seen
# classes with their text prompts, evaluate on the unseen classes only,
# whose prompts the model has never seen. Pipelines: the closed split's
# plus text sampling (RandomLoadText) and texts in the packed samples.
_base_ = './mmioc_closed.py'

train_ann_file = 'annotations/open_train.json'
val_ann_file = 'annotations/open_val.json'
train_class_text = 'texts/seen_class_texts.json'
val_class_text = 'texts/unseen_class_texts.json'
# MMIOC-1M, similarity threshold 0.1 -> 94 seen / 64 unseen (paper 3.1.4)
num_train_classes = 94
num_test_classes = 64
# per training image: its positive classes + sampled negative classes,
# padded with '' to a fixed vocabulary size (the authors' run: 94 / 64)
num_neg_samples = (64, 64)

text_transform = [
    dict(
        type='RandomLoadText',
        num_neg_samples=num_neg_samples,
        max_num_samples=num_train_classes,
        padding_to_max=True,
        padding_value=''),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'flip',
                   'flip_direction', 'texts'))
]
train_pipeline = [
    *_base_.pre_transform, *_base_.mosaic_affine_transform,
    *_base_.last_transform, *text_transform
]
train_pipeline_stage2 = [
    *_base_.pre_transform, *_base_.keep_ratio_affine_transform,
    *_base_.last_transform, *text_transform
]
train_dataloader = dict(
    collate_fn=dict(type='mmioc_rtvp.multimodal_collate'),
    dataset=dict(
        _delete_=True,
        type='MultiModalDataset',
        dataset=dict(
            type='MMIOCDataset',
            data_root=_base_.data_root,
            ann_file=train_ann_file,
            data_prefix=_base_.data_prefix,
            filter_cfg=dict(filter_empty_gt=False, min_size=2)),
        class_text_path=_base_.data_root + train_class_text,
        pipeline=train_pipeline))

test_pipeline = [
    *_base_.test_resize,
    dict(type='LoadText'),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=(*_base_.test_meta_keys, 'texts'))
]
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiModalDataset',
        dataset=dict(
            type='MMIOCDataset',
            data_root=_base_.data_root,
            ann_file=val_ann_file,
            data_prefix=_base_.data_prefix,
            test_mode=True,
            batch_shapes_cfg=None),
        class_text_path=_base_.data_root + val_class_text,
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=_base_.data_root + val_ann_file)
test_evaluator = val_evaluator
