# MMIOC-mini's 12 seen classes as a closed-set task (expert pre-training).
_base_ = './mmioc_mini_closed.py'
num_classes = 12
train_ann_file = 'annotations/open_train.json'
val_ann_file = 'annotations/open_val_seen.json'

train_dataloader = dict(dataset=dict(ann_file=train_ann_file))
val_dataloader = dict(dataset=dict(ann_file=val_ann_file))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=_base_.data_root + val_ann_file)
test_evaluator = val_evaluator
