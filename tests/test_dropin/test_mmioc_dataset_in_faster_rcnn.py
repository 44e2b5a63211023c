# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOCDataset in mmdet's stock Faster R-CNN config (its own scope and
runner), by config alone, and one training step."""
import copy

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tests.test_dropin.dropin_utils import (TINY_TRAIN_PIPELINE,
                                           write_user_config)

USER_CONFIG = """
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
data_root = '{root}/'
mmioc = dict(type='MMIOCDataset', _scope_='mmioc_rtvp',
             data_root=data_root, data_prefix=dict(img='images/'))
model = dict(
    backbone=dict(init_cfg=None),  # no ImageNet download in a test
    roi_head=dict(bbox_head=dict(num_classes=18)))
train_dataloader = dict(
    dataset=dict(mmioc, ann_file='annotations/closed_train.json'))
val_dataloader = dict(
    dataset=dict(mmioc, ann_file='annotations/closed_val.json'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/closed_val.json')
test_evaluator = val_evaluator
"""


def test_faster_rcnn_trains_one_step_on_mmioc(mini_workspace, tmp_path,
                                              one_thread):
    root = mini_workspace / 'data' / 'mmioc_mini'
    cfg = Config.fromfile(
        write_user_config(tmp_path, USER_CONFIG.format(root=root)))
    # the stock scope and runner: nothing of this package but the dataset
    assert cfg.default_scope == 'mmdet'
    assert cfg.get('runner_type', 'Runner') == 'Runner'
    assert cfg.model.type == 'FasterRCNN'

    # a quick step: two 64 px images, one iteration, no validation
    cfg = copy.deepcopy(cfg)
    cfg.train_dataloader.dataset.update(
        indices=2, pipeline=copy.deepcopy(TINY_TRAIN_PIPELINE))
    cfg.train_dataloader.update(batch_size=2, num_workers=0,
                                persistent_workers=False)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = None
    cfg.work_dir = str(tmp_path / 'work_dir')
    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    dataset = runner.train_dataloader.dataset
    assert type(dataset).__name__ == 'MMIOCDataset'
    assert len(dataset.metainfo['classes']) == 18
    fc_cls = runner.model.roi_head.bbox_head.fc_cls.weight.detach().clone()
    runner.train()
    assert runner.iter == 1
    assert not torch.equal(runner.model.roi_head.bbox_head.fc_cls.weight,
                           fc_cls)
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'):
        value = runner.message_hub.get_scalar(f'train/{key}').current()
        assert torch.isfinite(torch.tensor(value)), key
