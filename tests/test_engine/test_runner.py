# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOCRunner: scoped collate functions and the registry path of runner_type."""
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmioc_rtvp.engine import MMIOCRunner, resolve_collate_fn


class _Samples(torch.utils.data.Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, i):
        from mmdet.structures import DetDataSample
        from mmdet.structures.bbox import HorizontalBoxes
        from mmengine.structures import InstanceData
        sample = DetDataSample(metainfo=dict(img_shape=(8, 8)))
        sample.gt_instances = InstanceData(
            bboxes=HorizontalBoxes(torch.tensor([[1., 1., 4., 4.]])),
            labels=torch.tensor([0]))
        return dict(
            inputs=torch.zeros(3, 8, 8, dtype=torch.uint8),
            data_samples=sample)


@pytest.fixture
def mmyolo_child_cfg(tmp_path):
    """A config inheriting an mmyolo base, as YOLO-World's configs do."""
    path = tmp_path / 'child.py'
    path.write_text(
        textwrap.dedent("""
        _base_ = 'mmyolo::yolov8/yolov8_s_syncbn_fast_8xb16-500e_coco.py'
        """))
    return Config.fromfile(str(path))


def test_mmyolo_base_injects_scope_into_collate(mmyolo_child_cfg):
    collate = mmyolo_child_cfg.train_dataloader.collate_fn
    assert collate['type'] == 'yolov5_collate'
    assert collate['_scope_'] == 'mmyolo'


def test_parent_runner_fails_and_ours_resolves_scope(mmyolo_child_cfg):
    import mmyolo.datasets  # noqa: F401  registers yolov5_collate
    loader_cfg = dict(
        dataset=_Samples(),
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2,
        num_workers=0,
        collate_fn=dict(mmyolo_child_cfg.train_dataloader.collate_fn))
    # the upstream failure this runner fixes
    with pytest.raises(TypeError, match='_scope_'):
        loader = Runner.build_dataloader(dict(loader_cfg))
        next(iter(loader))
    loader = MMIOCRunner.build_dataloader(dict(loader_cfg))
    batch = next(iter(loader))
    assert batch['inputs'].shape == (2, 3, 8, 8)
    # yolov5_collate's layout: [batch_idx, label, x1, y1, x2, y2]
    assert batch['data_samples']['bboxes_labels'].tolist() == [
        [0., 0., 1., 1., 4., 4.], [1., 0., 1., 1., 4., 4.]]


def test_resolve_collate_fn_keeps_kwargs_and_reports_unknown():
    import mmyolo.datasets  # noqa: F401
    fn = resolve_collate_fn(
        dict(type='yolov5_collate', _scope_='mmyolo', use_ms_training=True))
    assert fn.keywords == dict(use_ms_training=True)
    with pytest.raises(KeyError, match='no_such_collate'):
        resolve_collate_fn(dict(type='no_such_collate', _scope_='mmyolo'))


def test_runner_type_resolves_without_default_scope():
    assert RUNNERS.get('mmioc_rtvp.MMIOCRunner') is MMIOCRunner
    from mmdet.registry import RUNNERS as MMDET_RUNNERS
    # mmdet's tools/test.py builds through its own child registry
    assert MMDET_RUNNERS.get('mmioc_rtvp.MMIOCRunner') is MMIOCRunner
