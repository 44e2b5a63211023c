# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Every shipped config builds: its model runs, its datasets yield samples.

Configs that use the CLIP text tower are built against a tiny random CLIP in
the official layout (no CLIP weights exist offline); configs of MMIOC-1M are
pointed at a small generated MMIOC-mini, which has the same format.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, MODELS, init_default_scope

from tests.conftest import REPO_ROOT

CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                       recursive=True) if '_base_' not in p)


def _redirect(obj, old_prefixes, new_prefix):
    """Replace data-root prefixes in every string of a config tree."""
    if isinstance(obj, dict):
        return {k: _redirect(v, old_prefixes, new_prefix) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_redirect(v, old_prefixes, new_prefix) for v in obj)
    if isinstance(obj, str):
        for old in old_prefixes:
            if obj.startswith(old):
                return new_prefix + obj[len(old):]
    return obj


def _load(config, clip_dir):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    text_model = cfg.model.get('backbone', {}).get('text_model')
    if text_model is not None and text_model['type'] == 'HFCLIPTextEncoder':
        text_model['model_name_or_path'] = clip_dir
    return cfg


def test_configs_were_found():
    assert 'configs/baselines/yolo_world_s_open.py' in CONFIGS
    assert len(CONFIGS) >= 9


@pytest.mark.parametrize('config', CONFIGS)
def test_config_runtime(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    assert cfg.default_scope == 'mmioc_rtvp'
    assert cfg.runner_type == 'mmioc_rtvp.MMIOCRunner'
    head = cfg.model.bbox_head.head_module
    assigner = cfg.model.train_cfg.assigner
    assert head.num_classes == assigner.num_classes > 0
    if 'num_train_classes' in cfg.model:
        assert cfg.model.num_train_classes == head.num_classes
        assert (cfg.train_pipeline[-2]['max_num_samples'] ==
                cfg.model.num_train_classes)
    # the paper's optimiser in every config, CPU variants included
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 2e-3
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.025
    if not config.endswith('_mini.py'):
        assert cfg.train_cfg.max_epochs == 200
        assert cfg.img_scale == (640, 640)
        assert cfg.train_dataloader.batch_size == 16


@pytest.mark.parametrize('config', CONFIGS)
def test_config_model_builds_and_runs(config, tiny_clip_512):
    cfg = _load(config, tiny_clip_512)
    init_default_scope('mmioc_rtvp')
    model = MODELS.build(cfg.model).eval()
    inputs = torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8)
    from mmdet.structures import DetDataSample
    sample = DetDataSample(
        metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                      scale_factor=(1., 1.), pad_param=[0., 0., 0., 0.]))
    if 'num_test_classes' in cfg.model:
        sample.set_metainfo(
            dict(texts=[f'defect {i}'
                        for i in range(cfg.model.num_test_classes)]))
    data = model.data_preprocessor(
        dict(inputs=list(inputs), data_samples=[sample]), False)
    with torch.no_grad():
        result = model(**data, mode='predict')[0]
    assert result.pred_instances.bboxes.shape[1] == 4
    if len(result.pred_instances):
        num_classes = cfg.model.get('num_test_classes') or \
            cfg.model.bbox_head.head_module.num_classes
        assert int(result.pred_instances.labels.max()) < num_classes


@pytest.mark.parametrize('config', CONFIGS)
def test_config_datasets_yield_samples(config, mini_workspace, monkeypatch):
    monkeypatch.chdir(mini_workspace)
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    init_default_scope('mmioc_rtvp')
    for name in ('train_dataloader', 'val_dataloader'):
        loader = copy.deepcopy(cfg[name])
        dataset_cfg = _redirect(
            loader['dataset'].to_dict(), ('data/mmioc/', ),
            'data/mmioc_mini/')
        dataset = DATASETS.build(dataset_cfg)
        sample = dataset[0]
        assert sample['inputs'].shape[0] == 3
        assert max(sample['inputs'].shape[1:]) == cfg.img_scale[0]
        texts = sample['data_samples'].metainfo.get('texts')
        if 'num_train_classes' in cfg.model:
            expected = (cfg.model.num_train_classes if name.startswith('train')
                        else len(dataset.metainfo['classes']))
            assert len(texts) == expected
        else:
            assert texts is None
