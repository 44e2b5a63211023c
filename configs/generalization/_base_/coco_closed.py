# COCO 2017 (80 classes) as a closed-set task with MMIOC's YOLOv8
# pipelines and batch sizes (paper Table VI). Data layout:
# docs/generalization.md.
_base_ = '../../_base_/datasets/mmioc_closed.py'
data_root = 'data/coco/'
train_ann_file = 'annotations/instances_train2017.json'
val_ann_file = 'annotations/instances_val2017.json'
num_classes = 80

coco = dict(type='YOLOv5CocoDataset', data_root=data_root)
train_dataloader = dict(
    dataset=dict(coco, ann_file=train_ann_file,
                 data_prefix=dict(img='train2017/')))
val_dataloader = dict(
    dataset=dict(coco, ann_file=val_ann_file,
                 data_prefix=dict(img='val2017/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + val_ann_file)
test_evaluator = val_evaluator
