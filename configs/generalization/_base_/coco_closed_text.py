# COCO 2017 closed set with class prompts (RTVPNet, YOLO-World; Table VI):
# all 80 class texts for every training and test image. Data layout:
# docs/generalization.md.
_base_ = '../../_base_/datasets/mmioc_closed_text.py'
data_root = 'data/coco/'
train_ann_file = 'annotations/instances_train2017.json'
val_ann_file = 'annotations/instances_val2017.json'
# YOLO-World's format: one list of prompts per class, in category order
class_text_path = 'data/texts/coco_class_texts.json'
num_classes = 80
num_train_classes = 80
num_test_classes = 80

coco = dict(type='YOLOv5CocoDataset', data_root=data_root)
train_dataloader = dict(
    dataset=dict(
        dataset=dict(coco, ann_file=train_ann_file,
                     data_prefix=dict(img='train2017/')),
        class_text_path=class_text_path))
val_dataloader = dict(
    dataset=dict(
        dataset=dict(coco, ann_file=val_ann_file,
                     data_prefix=dict(img='val2017/')),
        class_text_path=class_text_path))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + val_ann_file)
test_evaluator = val_evaluator
