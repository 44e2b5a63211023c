# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The open-split protocol of the shipped configs: checkpoints are selected
on held-out images of the seen classes; the test reports the unseen classes
(the paper's protocol), and the config's generalized_test_options turn it
into the generalized-vocabulary test."""
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
    test = cfg.test_dataloader.dataset
    assert test.dataset.ann_file == 'annotations/open_val.json'
    assert test.dataset.data_root == root
    assert test.class_text_path == root + 'texts/unseen_class_texts.json'
    assert cfg.test_evaluator.type == 'MMIOCMetric'
    assert cfg.test_evaluator.ann_file == root + test.dataset.ann_file
    assert 'seen_classes' not in cfg.test_evaluator
    # three vocabularies (seen, unseen, generalized): no fixed test size
    assert cfg.model.num_test_classes is None
    cfg.merge_from_dict(dict(cfg.generalized_test_options))
    test = cfg.test_dataloader.dataset
    assert test.dataset.ann_file == 'annotations/open_val_generalized.json'
    assert test.class_text_path == \
        root + 'texts/generalized_class_texts.json'
    assert cfg.test_evaluator.ann_file == root + test.dataset.ann_file
    assert cfg.test_evaluator.seen_classes == root + val.dataset.ann_file


def _perfect_samples(dataset, drop_labels=()):
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


def _evaluate(cfg, drop_unseen=False, table_dir=None):
    """Build the config's test dataset and evaluator and evaluate perfect
    predictions (without the unseen classes' if ``drop_unseen``)."""
    init_default_scope('mmioc_rtvp')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    seen = set(DATASETS.build(cfg.val_dataloader.dataset).metainfo['classes'])
    drop = [
        k for k, c in enumerate(dataset.metainfo['classes'])
        if drop_unseen and c not in seen
    ]
    evaluator = EVALUATOR.build(
        dict(type='Evaluator',
             metrics=dict(cfg.test_evaluator, table_dir=table_dir)))
    evaluator.dataset_meta = dataset.metainfo
    evaluator.process(_perfect_samples(dataset, drop))
    return dataset, evaluator.evaluate(len(dataset))


def test_mini_unseen_and_generalized_tests(mini_workspace, monkeypatch,
                                           tmp_path):
    """rtvpnet_s_mini.py's test (perfect predictions: AP 1 on the 6 unseen
    classes) and its generalized test (predictions missing every unseen
    class: seen AP 1, unseen AP 0, harmonic mean 0, AP 12 / 18)."""
    monkeypatch.chdir(mini_workspace)
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'rtvpnet_s_mini.py'))
    dataset, res = _evaluate(cfg, table_dir=str(tmp_path))
    assert len(dataset.metainfo['classes']) == 6
    assert res['coco/bbox_mAP'] == pytest.approx(1.0)
    assert 'coco/bbox_mAP_hm' not in res
    cfg.merge_from_dict(dict(cfg.generalized_test_options))
    dataset, res = _evaluate(cfg, drop_unseen=True, table_dir=str(tmp_path))
    assert len(dataset.metainfo['classes']) == 18
    assert res['coco/bbox_mAP_seen'] == pytest.approx(1.0)
    assert res['coco/bbox_mAP_unseen'] == 0.0
    assert res['coco/bbox_mAP_hm'] == 0.0
    assert res['coco/bbox_mAP_unrounded'] == pytest.approx(12 / 18)
    assert res['coco/bbox_mAP'] == 0.667  # mmdet's 3 decimals
    assert osp.isfile(tmp_path / 'coco_open_val_per_class.csv')
    assert osp.isfile(tmp_path / 'coco_open_val_generalized_per_group.csv')
