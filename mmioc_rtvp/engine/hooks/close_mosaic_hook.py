# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Switch to the no-mosaic pipeline for the last epochs of training."""
from typing import Optional, Sequence

from mmdet.engine.hooks import PipelineSwitchHook

from mmioc_rtvp.registry import HOOKS


@HOOKS.register_module()
class CloseMosaicHook(PipelineSwitchHook):
    """mmdet's :class:`PipelineSwitchHook`, counted from the end of training.

    The switch happens ``num_last_epochs`` before ``runner.max_epochs``, so a
    schedule config can declare it without knowing the dataset, and a config
    that changes ``max_epochs`` (a CPU variant, ``--cfg-options``) keeps the
    same number of no-mosaic epochs.

    Args:
        num_last_epochs (int): Epochs trained with ``switch_pipeline``.
        switch_pipeline (list[dict], optional): The pipeline to switch to.
            None takes ``runner.cfg[pipeline_key]`` (the dataset config's
            stage-2 pipeline).
        pipeline_key (str): Config key read when ``switch_pipeline`` is None.
    """

    def __init__(self,
                 num_last_epochs: int,
                 switch_pipeline: Optional[Sequence[dict]] = None,
                 pipeline_key: str = 'train_pipeline_stage2') -> None:
        super().__init__(switch_epoch=None, switch_pipeline=switch_pipeline)
        self.num_last_epochs = num_last_epochs
        self.pipeline_key = pipeline_key

    def before_train(self, runner) -> None:
        self.switch_epoch = runner.max_epochs - self.num_last_epochs
        if self.switch_pipeline is None:
            pipeline = runner.cfg.get(self.pipeline_key)
            if pipeline is None:
                raise KeyError(
                    f'CloseMosaicHook: the config has no {self.pipeline_key!r}'
                    ' (the pipeline of the last epochs); define it or pass '
                    'switch_pipeline')
            self.switch_pipeline = pipeline
