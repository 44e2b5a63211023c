# MMIOC-mini's grounding split (`make data` writes data/mmioc_mini/grounding/),
# for CPUs: 320 px, 8 expressions per step.
_base_ = './mmioc_grounding.py'
data_root = 'data/mmioc_mini/'
img_scale = (320, 320)
train_batch_size_per_gpu = 8
train_num_workers = 2
val_batch_size_per_gpu = 8
val_num_workers = 1

train_pipeline = [
    *_base_.train_pipeline[:2],
    dict(_base_.train_pipeline[2], scale=img_scale),
    dict(_base_.train_pipeline[3], scale=img_scale),
    *_base_.train_pipeline[4:],
]
train_pipeline_stage2 = train_pipeline
test_pipeline = [
    _base_.test_pipeline[0],
    dict(_base_.test_pipeline[1], scale=img_scale),
    dict(_base_.test_pipeline[2], scale=img_scale),
    *_base_.test_pipeline[3:],
]
train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    num_workers=train_num_workers,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=val_batch_size_per_gpu,
    num_workers=val_num_workers,
    dataset=dict(datasets=[
        dict(d, data_root=data_root, pipeline=test_pipeline)
        for d in _base_.test_datasets
    ]))
test_dataloader = val_dataloader
val_evaluator = dict(metrics=[
    dict(m, ann_file=data_root + ann_file)
    for m, ann_file in zip(_base_.val_evaluator.metrics,
                           _base_.test_ann_files.values())
])
test_evaluator = val_evaluator
