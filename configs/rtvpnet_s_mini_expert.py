# RTVPNet-S-mini with the paper's protocol (eq. 1): the expert starts from a
# YOLOv8-S-mini trained on the SEEN classes only, the fair version of
# Table VIII's "pretrain" axis on a CPU (rtvpnet_s_mini.py starts it from
# random weights). First:
#   python tools/train.py configs/baselines/yolov8_s_seen_mini.py
# then train this config; building it fails at once if that checkpoint is
# missing (expert_checkpoint; override with --cfg-options).
_base_ = './rtvpnet_s_mini.py'
expert_checkpoint = 'work_dirs/yolov8_s_seen_mini/epoch_20.pth'
model = dict(
    backbone=dict(
        image_model=dict(
            init_cfg=dict(
                type='Pretrained',
                checkpoint=expert_checkpoint,
                prefix='backbone.'))))
