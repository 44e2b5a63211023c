# Open-vocabulary generalization (paper Table IV): pre-training on
# Objects365 v1 (365 classes) with text sampling, zero-shot evaluation on
# LVIS v1 minival (1203 classes, fixed AP), as YOLO-World's protocol.
# The paper also pre-trains on GoldG (Flickr30k + GQA grounding); no
# GoldG loader exists here, so these configs use Objects365 alone.
# Data layout: docs/generalization.md.
_base_ = '../../_base_/datasets/mmioc_open.py'
obj365_root = 'data/objects365v1/'
lvis_root = 'data/coco/'
lvis_ann_file = 'lvis/lvis_v1_minival_inserted_image_name.json'
# prompts per training image: positives + sampled negatives, padded
num_train_classes = 80
num_test_classes = 1203
num_neg_samples = (365, 365)

text_transform = [
    dict(
        _base_.text_transform[0],
        num_neg_samples=num_neg_samples,
        max_num_samples=num_train_classes),
    _base_.text_transform[1],
]
train_pipeline = [*_base_.train_pipeline[:-2], *text_transform]
train_pipeline_stage2 = [*_base_.train_pipeline_stage2[:-2], *text_transform]
train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            _delete_=True,
            type='mmdet.Objects365V1Dataset',
            data_root=obj365_root,
            ann_file='annotations/objects365_train.json',
            data_prefix=dict(img='train/'),
            filter_cfg=dict(filter_empty_gt=False, min_size=32)),
        class_text_path='data/texts/obj365v1_class_texts.json',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        dataset=dict(
            _delete_=True,
            # image paths from each record's coco_url (val2017/ or train2017/)
            type='mmdet.LVISV1Dataset',
            data_root=lvis_root,
            ann_file=lvis_ann_file,
            data_prefix=dict(img=''),
            test_mode=True),
        class_text_path='data/texts/lvis_v1_class_texts.json'))
test_dataloader = val_dataloader
# mmdet's LVISMetric evaluated on numpy 2 (lvis-api 0.5.3 cannot)
val_evaluator = dict(
    type='FastLVISMetric', ann_file=lvis_root + lvis_ann_file)
test_evaluator = val_evaluator
