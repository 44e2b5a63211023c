# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The open-split protocol of the shipped configs: checkpoints are selected
on held-out images of the seen classes; the test reports the unseen classes
(the paper's protocol) and the generalized vocabulary in one run."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, EVALUATOR, init_default_scope

from tests.conftest import REPO_ROOT


def _open_configs():
    """Leaf configs trained on the open split (ablations change only the
    model of rtvpnet_s_mini.py: tests/test_configs.py checks that)."""
    out = []
    for path in sorted(
            glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                      recursive=True)):
        if '_base_' in path or '/ablations/' in path:
            continue
        text = open(path).read()
        # leaf configs name their dataset base, or inherit a leaf that does
        if 'open' in text or 'rtvpnet_s_mini' in text:
            cfg = Config.fromfile(path)
            inner = cfg.train_dataloader.dataset.get('dataset', {})
            if inner.get('ann_file') == 'annotations/open_train.json':
                out.append(osp.relpath(path, REPO_ROOT))
    return out


OPEN_CONFIGS = _open_configs()


def test_every_open_config_is_covered():
    for name in ('configs/rtvpnet_s_open.py', 'configs/rtvpnet_l_open.py',
                 'configs/rtvpnet_s_mini.py',
                 'configs/baselines/yolo_world_s_open.py',
                 'configs/baselines/yolo_world_l_open.py',
                 'configs/baselines/yolo_world_s_open_mini.py'):
        assert name in OPEN_CONFIGS


@pytest.mark.parametrize('config', OPEN_CONFIGS)
def test_open_config_protocol(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    root = cfg.data_root
    val = cfg.val_dataloader.dataset
    assert val.dataset.ann_file == 'annotations/open_val_seen.json'
    assert val.class_text_path == root + 'texts/seen_class_texts.json'
    assert cfg.val_evaluator.type == 'MMIOCMetric'
    assert cfg.val_evaluator.ann_file == root + val.dataset.ann_file
    # save_best follows the validation's first key: the seen-class AP
    assert cfg.default_hooks.checkpoint.save_best in ('auto',
                                                      'coco/bbox_mAP')
    tests = cfg.test_dataloader.dataset.datasets
    assert [(t.dataset.ann_file, t.class_text_path) for t in tests] == [
        ('annotations/open_val.json', root + 'texts/unseen_class_texts.json'),
        ('annotations/open_val_generalized.json',
         root + 'texts/generalized_class_texts.json')
    ]
    assert all(t.dataset.data_root == root for t in tests)
    evaluator = cfg.test_evaluator
    assert evaluator.dataset_prefixes == ['unseen', 'generalized']
    assert [m.ann_file for m in evaluator.metrics] == [
        root + t.dataset.ann_file for t in tests
    ]
    assert 'seen_classes' not in evaluator.metrics[0]
    assert evaluator.metrics[1].seen_classes == root + val.dataset.ann_file
    # three vocabularies (seen, unseen, generalized): no fixed test size
    assert cfg.model.num_test_classes is None


def test_mini_test_batches_never_mix_vocabularies(mini_workspace,
                                                  monkeypatch):
    """Every test batch carries one vocabulary size (the detector needs
    one K per batch): 6 prompts (unseen) then 18 (generalized)."""
    from mmengine.runner import Runner
    monkeypatch.chdir(mini_workspace)
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'rtvpnet_s_mini.py'))
    init_default_scope('mmioc_rtvp')
    loader_cfg = cfg.test_dataloader.to_dict()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    # 5 unseen images: a batch of more than one image would straddle the
    # boundary whatever its size
    loader_cfg['dataset']['datasets'][0]['dataset']['indices'] = 5
    loader = Runner.build_dataloader(loader_cfg)
    sizes = []
    for batch in loader:
        lengths = {len(s.texts) for s in batch['data_samples']}
        assert len(lengths) == 1
        sizes.append(lengths.pop())
    assert len(sizes) * loader_cfg['batch_size'] >= len(loader.dataset)
    assert sizes == sorted(sizes) and set(sizes) == {6, 18}


def _perfect_samples(dataset, offset, drop_labels=()):
    """Predictions equal to the ground truth of every image (score 1),
    except for the labels in ``drop_labels``."""
    samples = []
    for k in range(len(dataset)):
        info = dataset.dataset.get_data_info(k)
        kept = [i for i in info['instances']
                if i['bbox_label'] not in drop_labels]
        samples.append(dict(
            img_id=info['img_id'],
            ori_shape=(info['height'], info['width']),
            pred_instances=dict(
                bboxes=torch.tensor([i['bbox'] for i in kept],
                                    dtype=torch.float32).reshape(-1, 4),
                scores=torch.ones(len(kept)),
                labels=torch.tensor([i['bbox_label'] for i in kept],
                                    dtype=torch.int64))))
    return samples


def test_mini_test_run_reports_unseen_and_generalized(mini_workspace,
                                                      monkeypatch, tmp_path):
    """The test dataloader and evaluator of rtvpnet_s_mini.py, fed with
    perfect unseen-test predictions and generalized predictions that miss
    every unseen class: unseen AP 1; generalized seen AP 1, unseen AP 0,
    harmonic mean 0."""
    monkeypatch.chdir(mini_workspace)
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'rtvpnet_s_mini.py'))
    init_default_scope('mmioc_rtvp')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    unseen, general = dataset.datasets
    assert len(dataset) == len(unseen) + len(general)
    assert len(unseen.metainfo['classes']) == 6
    assert len(general.metainfo['classes']) == 18
    for metric in cfg.test_evaluator.metrics:
        metric['table_dir'] = str(tmp_path)
    evaluator = EVALUATOR.build(cfg.test_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    seen = set(DATASETS.build(cfg.val_dataloader.dataset).metainfo['classes'])
    unseen_labels = [
        k for k, c in enumerate(general.metainfo['classes']) if c not in seen
    ]
    assert len(unseen_labels) == 6
    samples = (_perfect_samples(unseen, 0) +
               _perfect_samples(general, len(unseen), unseen_labels))
    evaluator.process(samples)
    res = evaluator.evaluate(len(dataset))
    assert res['unseen/coco/bbox_mAP'] == pytest.approx(1.0)
    assert res['generalized/coco/bbox_mAP_seen'] == pytest.approx(1.0)
    assert res['generalized/coco/bbox_mAP_unseen'] == 0.0
    assert res['generalized/coco/bbox_mAP_hm'] == 0.0
    assert res['generalized/coco/bbox_mAP'] == pytest.approx(12 / 18)
    assert osp.isfile(tmp_path / 'coco_open_val_generalized_per_class.csv')
    assert osp.isfile(tmp_path / 'coco_open_val_per_class.csv')
