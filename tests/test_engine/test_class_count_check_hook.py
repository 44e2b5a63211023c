# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ClassCountCheckHook: every place that fixes a number of classes agrees,
or the run stops before its first step with one line naming both."""
import os.path as osp
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from mmioc_rtvp.datasets.transforms import RandomLoadText
from mmioc_rtvp.engine.hooks.class_count_check_hook import (
    ClassCountCheckHook, ClassCountError, model_class_counts)
from tests.conftest import REPO_ROOT


def _model(head=4, assigner=4, train=None, test=None):
    head_ns = SimpleNamespace(
        num_classes=head, assigner=SimpleNamespace(num_classes=assigner))
    model = SimpleNamespace(bbox_head=head_ns)
    if train is not None or test is not None:
        model.num_train_classes = train
        model.num_test_classes = test
    return model


def _loader(num_classes, ann_file='ann/train.json', max_num_samples=None):
    transforms = [] if max_num_samples is None else [
        RandomLoadText(max_num_samples=max_num_samples, padding_to_max=True)
    ]
    dataset = SimpleNamespace(
        metainfo=dict(classes=tuple(f'c{i}' for i in range(num_classes))),
        ann_file=ann_file,
        pipeline=SimpleNamespace(transforms=transforms))
    return SimpleNamespace(dataset=dataset)


def _runner(model, train=None, val=None):
    return SimpleNamespace(
        model=model, train_dataloader=train, val_dataloader=val,
        test_dataloader=val)


def test_consistent_closed_and_open_configs_pass():
    hook = ClassCountCheckHook()
    closed = _runner(_model(4, 4), _loader(4), _loader(4, 'ann/val.json'))
    hook.before_train(closed)
    hook.before_val(closed)
    hook.before_test(closed)
    # open: 12 classes per training batch out of 94 seen, 64 unseen at test
    opened = _runner(
        _model(12, 12, train=12, test=64), _loader(94, max_num_samples=12),
        _loader(64, 'ann/unseen.json'))
    hook.before_train(opened)
    hook.before_val(opened)


def test_head_vs_assigner():
    runner = _runner(_model(head=4, assigner=5), _loader(4))
    with pytest.raises(ClassCountError) as info:
        ClassCountCheckHook().before_train(runner)
    assert str(info.value) == (
        'class count mismatch: model.bbox_head.head_module.num_classes = 4 '
        'but model.train_cfg.assigner.num_classes = 5')


def test_closed_head_vs_training_dataset():
    runner = _runner(_model(4, 4), _loader(6))
    with pytest.raises(ClassCountError, match=(
            r'^class count mismatch: model.bbox_head.head_module.num_classes '
            r'= 4 but classes of the training dataset \(ann/train.json\) = 6$'
    )):
        ClassCountCheckHook().before_train(runner)


def test_closed_head_vs_validation_dataset():
    runner = _runner(_model(4, 4), _loader(4), _loader(3, 'ann/val.json'))
    with pytest.raises(ClassCountError, match=(
            r'head_module.num_classes = 4 but classes of the validation '
            r'dataset \(ann/val.json\) = 3$')):
        ClassCountCheckHook().before_val(runner)
    with pytest.raises(ClassCountError, match='of the test dataset'):
        ClassCountCheckHook().before_test(runner)


def test_num_train_classes_vs_head():
    runner = _runner(_model(12, 12, train=10), _loader(94))
    with pytest.raises(ClassCountError, match=(
            r'^class count mismatch: model.num_train_classes = 10 but '
            r'model.bbox_head.head_module.num_classes = 12$')):
        ClassCountCheckHook().before_train(runner)


def test_num_train_classes_vs_text_sampler():
    runner = _runner(
        _model(12, 12, train=12), _loader(94, max_num_samples=80))
    with pytest.raises(ClassCountError, match=(
            r'model.num_train_classes = 12 but train pipeline '
            r'RandomLoadText.max_num_samples = 80$')):
        ClassCountCheckHook().before_train(runner)


def test_num_test_classes_vs_evaluation_dataset():
    runner = _runner(
        _model(12, 12, train=12, test=6), _loader(12),
        _loader(7, 'ann/unseen.json'))
    with pytest.raises(ClassCountError, match=(
            r'^class count mismatch: model.num_test_classes = 6 but classes '
            r'of the validation dataset \(ann/unseen.json\) = 7$')):
        ClassCountCheckHook().before_val(runner)
    # num_test_classes=None: any vocabulary size is accepted
    ClassCountCheckHook().before_val(
        _runner(_model(12, 12, train=12, test=None), _loader(12),
                _loader(7)))


@pytest.mark.parametrize('config, expected', [
    ('baselines/yolov8_s_closed_mini.py', 'closed'),
    ('baselines/yolo_world_s_open_mini.py', 'open'),
])
def test_counts_are_read_from_real_detectors(config, expected):
    """The attribute paths are those of the built detectors."""
    from mmioc_rtvp.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', config))
    from mmengine.registry import init_default_scope
    init_default_scope('mmioc_rtvp')
    model = MODELS.build(cfg.model)
    head, assigner, train_k, test_k = model_class_counts(model)
    assert head[0] == assigner[0] == cfg.model.bbox_head.head_module[
        'num_classes']
    if expected == 'closed':
        assert train_k[0] is None and test_k[0] is None
    else:
        assert train_k[0] == cfg.model.num_train_classes == head[0]
        assert test_k[0] == cfg.model.num_test_classes
