# What a model-zoo config changes in a stock mmyolo / mmdet config to train
# and test it on MMIOC-1M's closed split (351 classes; docs/dataset_format.md).
# A config cannot inherit one key from two bases, so the names carry an
# `mmioc_` prefix and each leaf assigns them to the stock keys. The stock
# pipelines, schedules and hooks stay: these are the upstream baselines.
mmioc_data_root = 'data/mmioc/'
mmioc_num_classes = 351
mmioc_train_ann_file = 'annotations/closed_train.json'
mmioc_val_ann_file = 'annotations/closed_val.json'
# the classes are read from the annotation file. `_scope_` replaces the
# upstream dict's (mmyolo's / mmdet's): mmengine finds scopes anywhere in
# the registry tree this way, while 'mmioc_rtvp.MMIOCDataset' would only be
# found from mmyolo's scope
mmioc_dataset = dict(
    type='MMIOCDataset',
    _scope_='mmioc_rtvp',
    data_root=mmioc_data_root,
    data_prefix=dict(img='images/'))
mmioc_train_dataset = dict(mmioc_dataset, ann_file=mmioc_train_ann_file)
mmioc_val_dataset = dict(mmioc_dataset, ann_file=mmioc_val_ann_file)
# MMIOCMetric: the stock CocoMetric's keys and figures on the fast hotcoco
# backend, plus AP per class / supercategory / scene
mmioc_evaluator = dict(
    type='MMIOCMetric',
    _scope_='mmioc_rtvp',
    ann_file=mmioc_data_root + mmioc_val_ann_file)
