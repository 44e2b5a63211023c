# MMIOC open-vocabulary split: train on the seen classes with their text
# prompts; the unseen classes, whose prompts the model has never seen, are
# the test set. Protocol (docs/evaluation.md):
# - validation, hence checkpoint selection (save_best='auto' follows the
#   first key, coco/bbox_mAP), on held-out images of the SEEN classes
#   (open_val_seen, seen vocabulary): the test set never picks a checkpoint;
# - test (tools/test.py): the unseen classes alone with the unseen
#   vocabulary (the paper's protocol), with AP tables per class,
#   supercategory and scene;
# - generalized test (seen + unseen prompts together, on the images of both;
#   seen AP, unseen AP and their harmonic mean): the same test with
#   generalized_test_options below, e.g. for MMIOC-mini
#     python tools/test.py CONFIG CKPT --cfg-options \
#       test_dataloader.dataset.dataset.ann_file=annotations/open_val_generalized.json \
#       test_dataloader.dataset.class_text_path=data/mmioc_mini/texts/generalized_class_texts.json \
#       test_evaluator.ann_file=data/mmioc_mini/annotations/open_val_generalized.json \
#       test_evaluator.seen_classes=data/mmioc_mini/annotations/open_val_seen.json
# Pipelines: the closed split's plus text sampling (RandomLoadText) and
# texts in the packed samples.
_base_ = './mmioc_closed.py'

train_ann_file = 'annotations/open_train.json'
val_ann_file = 'annotations/open_val_seen.json'
test_ann_file = 'annotations/open_val.json'
generalized_ann_file = 'annotations/open_val_generalized.json'
train_class_text = 'texts/seen_class_texts.json'
val_class_text = 'texts/seen_class_texts.json'
test_class_text = 'texts/unseen_class_texts.json'
generalized_class_text = 'texts/generalized_class_texts.json'
# MMIOC-1M, similarity threshold 0.1 -> 94 seen / 64 unseen (paper 3.1.4)
num_train_classes = 94
num_unseen_classes = 64
# the test vocabularies differ (seen for validation, unseen, generalized):
# the detector checks no fixed test vocabulary size
num_test_classes = None
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
val_dataset = dict(
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
    test_mode=True)
val_dataloader = dict(dataset=dict(_delete_=True, **val_dataset))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **dict(
            val_dataset,
            dataset=dict(val_dataset['dataset'], ann_file=test_ann_file),
            class_text_path=_base_.data_root + test_class_text)))
val_evaluator = dict(
    _delete_=True,
    type='MMIOCMetric',
    ann_file=_base_.data_root + val_ann_file,
    metric='bbox')
test_evaluator = dict(
    _delete_=True,
    type='MMIOCMetric',
    ann_file=_base_.data_root + test_ann_file,
    metric='bbox')
# --cfg-options of the generalized test (see the top of this file)
generalized_test_options = {
    'test_dataloader.dataset.dataset.ann_file': generalized_ann_file,
    'test_dataloader.dataset.class_text_path':
    _base_.data_root + generalized_class_text,
    'test_evaluator.ann_file': _base_.data_root + generalized_ann_file,
    'test_evaluator.seen_classes': _base_.data_root + val_ann_file,
}
