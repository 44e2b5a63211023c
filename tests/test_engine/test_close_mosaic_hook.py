# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from types import SimpleNamespace

import pytest
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger

from mmioc_rtvp.engine import CloseMosaicHook

STAGE2 = [dict(type='mmdet.RandomFlip', prob=0.5)]


def _runner(max_epochs, cfg):
    dataset = SimpleNamespace(pipeline='mosaic pipeline')
    return SimpleNamespace(
        max_epochs=max_epochs,
        epoch=0,
        cfg=ConfigDict(cfg),
        train_dataloader=SimpleNamespace(dataset=dataset),
        logger=MMLogger.get_instance('test_close_mosaic'))


@pytest.mark.parametrize('max_epochs,last,switch', [(200, 2, 198), (40, 5, 35)])
def test_switches_for_the_last_epochs(max_epochs, last, switch):
    runner = _runner(max_epochs, dict(train_pipeline_stage2=STAGE2))
    hook = CloseMosaicHook(num_last_epochs=last)
    hook.before_train(runner)
    assert hook.switch_epoch == switch
    for epoch in range(max_epochs):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        switched = runner.train_dataloader.dataset.pipeline != 'mosaic pipeline'
        assert switched == (epoch >= switch), epoch
    # the config's stage-2 pipeline is what was switched to
    assert [t.__class__.__name__ for t in
            runner.train_dataloader.dataset.pipeline.transforms] == [
                'RandomFlip'
            ]


def test_missing_stage2_pipeline_is_named():
    hook = CloseMosaicHook(num_last_epochs=2)
    with pytest.raises(KeyError, match='train_pipeline_stage2'):
        hook.before_train(_runner(10, dict()))
