# MMIOC closed split with text prompts (RTVPNet closed): every class in
# training and evaluation. Per training image, its positive classes plus
# sampled negatives up to num_train_classes prompts (YOLO-World's
# practice); evaluation uses all the class prompts.
_base_ = './mmioc_open.py'

train_ann_file = 'annotations/closed_train.json'
val_ann_file = 'annotations/closed_val.json'
class_text = 'texts/closed_class_texts.json'
num_train_classes = 80
num_test_classes = _base_.num_classes
num_neg_samples = (num_train_classes, num_train_classes)

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
        dataset=dict(ann_file=train_ann_file),
        class_text_path=_base_.data_root + class_text,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        dataset=dict(ann_file=val_ann_file),
        class_text_path=_base_.data_root + class_text))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=_base_.data_root + val_ann_file)
test_evaluator = val_evaluator
