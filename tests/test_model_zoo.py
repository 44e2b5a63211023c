# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""configs/model_zoo/: stock mmyolo / mmdet detectors retargeted to MMIOC.

Each config is a few lines over its upstream config (``mmyolo::`` /
``mmdet::``); it must point every dataset, head and evaluator at MMIOC's
closed split, download nothing, build, and (one of them, integration)
train. tests/test_configs.py also runs every model once.
"""
import copy
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, MODELS, init_default_scope

from tests.conftest import REPO_ROOT

ZOO = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs/model_zoo/*.py')))
UPSTREAM = {
    'rtmdet_s_mmioc.py': 'mmyolo::rtmdet/',
    'yolov5_s_mmioc.py': 'mmyolo::yolov5/',
    'yolov6_s_mmioc.py': 'mmyolo::yolov6/',
    'yolox_s_mmioc.py': 'mmyolo::yolox/',
    'faster_rcnn_r50_fpn_mmioc.py': 'mmdet::faster_rcnn/',
}
NUM_CLASSES = 351


def _strings(obj):
    """Every string of a config tree."""
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, str):
        yield obj


def _class_counts(model: dict) -> list:
    """Every ``num_classes`` in the model config."""
    found = []

    def walk(obj):
        if isinstance(obj, dict):
            if 'num_classes' in obj:
                found.append(obj['num_classes'])
            for v in obj.values():
                walk(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v)

    walk(model)
    return found


def test_the_zoo_is_complete():
    assert sorted(osp.basename(c) for c in ZOO) == sorted(UPSTREAM)


@pytest.mark.parametrize('config', ZOO)
def test_config_retargets_the_stock_model(config):
    path = osp.join(REPO_ROOT, config)
    with open(path) as f:
        text = f.read()
    assert len(text.strip().splitlines()) <= 20
    assert UPSTREAM[osp.basename(config)] in text
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmioc_rtvp'
    assert cfg.runner_type == 'mmioc_rtvp.MMIOCRunner'
    counts = _class_counts(cfg.model.to_dict())
    assert counts and set(counts) == {NUM_CLASSES}
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[name].dataset
        assert (dataset.type, dataset._scope_) == ('MMIOCDataset',
                                                   'mmioc_rtvp')
        assert dataset.data_root == 'data/mmioc/'
        split = 'train' if name.startswith('train') else 'val'
        assert dataset.ann_file == f'annotations/closed_{split}.json'
    for name in ('val_evaluator', 'test_evaluator'):
        assert cfg[name].ann_file == 'data/mmioc/annotations/closed_val.json'
    # nothing is downloaded when the model is built or initialised
    assert not any('://' in s for s in _strings(cfg.model.to_dict()))
    assert cfg.get('load_from') is None


def _redirect(dataset_cfg: dict, workspace) -> dict:
    dataset_cfg = copy.deepcopy(dataset_cfg)
    dataset_cfg['data_root'] = str(workspace / 'data' / 'mmioc_mini') + '/'
    return dataset_cfg


@pytest.mark.parametrize('config', ZOO)
def test_config_datasets_read_mmioc(config, mini_workspace):
    """The stock pipelines run on MMIOC-format samples (the generated
    MMIOC-mini has MMIOC-1M's format and file names)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    init_default_scope('mmioc_rtvp')
    for name in ('train_dataloader', 'val_dataloader'):
        dataset = DATASETS.build(
            _redirect(cfg[name].dataset.to_dict(), mini_workspace))
        with open(dataset.ann_file) as f:
            categories = json.load(f)['categories']
        assert dataset.metainfo['classes'] == tuple(
            c['name'] for c in categories)
        assert len(categories) == 18
        sample = dataset[0]
        assert sample['inputs'].shape[0] == 3
        assert sample['data_samples'].gt_instances.bboxes.shape[-1] == 4


def _tiny_train_cfg(cfg: Config, workspace, work_dir: str) -> Config:
    """Two training iterations on 64 px images of MMIOC-mini."""
    cfg = copy.deepcopy(cfg)
    dataset = _redirect(cfg.train_dataloader.dataset.to_dict(), workspace)
    dataset.update(
        indices=4,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='mmdet.Resize', scale=(64, 64), keep_ratio=False),
            dict(type='mmdet.PackDetInputs')
        ])
    cfg.train_dataloader.update(
        dataset=dataset, batch_size=2, num_workers=0,
        persistent_workers=False)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1,
                         val_interval=10)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    cfg.work_dir = work_dir
    return cfg


MINI_CLASSES = 18  # MMIOC-mini's closed split


@pytest.mark.integration
def test_yolov5_s_trains_two_iterations(mini_workspace, tmp_path):
    from mmengine.registry import RUNNERS
    torch.manual_seed(0)
    cfg = _tiny_train_cfg(
        Config.fromfile(
            osp.join(REPO_ROOT, 'configs/model_zoo/yolov5_s_mmioc.py')),
        mini_workspace, str(tmp_path))
    # MMIOC-mini has 18 classes (the runner checks the head against them)
    cfg.model.bbox_head.head_module.num_classes = MINI_CLASSES
    # the config's runner (mmioc_rtvp.MMIOCRunner), as tools/train.py does
    runner = RUNNERS.build(cfg)
    before = {
        k: v.detach().clone()
        for k, v in runner.model.named_parameters()
    }
    runner.train()
    assert runner.iter == 2 and runner.epoch == 1
    changed = [
        k for k, v in runner.model.named_parameters()
        if not torch.equal(v, before[k])
    ]
    assert any(k.startswith('backbone.') for k in changed)
    assert any(k.startswith('bbox_head.') for k in changed)
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert torch.isfinite(torch.tensor(loss))
    # the checkpoint loads back with weights-only loading
    ckpt = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)
    assert ckpt['state_dict']['bbox_head.head_module.convs_pred.0.weight'] \
        .shape[0] == 3 * (MINI_CLASSES + 5)


def test_zoo_models_build_with_351_classes():
    """One forward of the smallest-change model: the class dimension."""
    init_default_scope('mmioc_rtvp')
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/model_zoo/yolox_s_mmioc.py'))
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        cls_scores = model(torch.zeros(1, 3, 64, 64), mode='tensor')[0]
    assert [s.shape[1] for s in cls_scores] == [NUM_CLASSES] * 3
