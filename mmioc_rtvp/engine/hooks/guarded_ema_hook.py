# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""An EMA hook that leaves the averaged model alone on a skipped step."""
from typing import Optional

from mmengine.hooks import EMAHook

from mmioc_rtvp.registry import HOOKS

from .non_finite_loss_hook import UPDATE_SKIPPED_KEY


@HOOKS.register_module(name=['GuardedEMAHook', 'EMAHook'])
class GuardedEMAHook(EMAHook):
    """MMEngine's :class:`EMAHook`, skipping the iterations whose update
    :class:`NonFiniteLossHook` skipped.

    MMEngine's hook averages the model into the EMA copy after every
    iteration; with ``update_buffers=True`` (the shipped schedules) that
    includes the buffers, and the EMA's step count advances, so a step
    whose loss was NaN would still move the EMA copy. This hook reads the
    message hub's runtime info ``UPDATE_SKIPPED_KEY`` (set by
    :class:`NonFiniteLossHook` during the iteration, before any
    ``after_train_iter`` runs) and then does nothing: the EMA parameters,
    buffers and step count stay as they were.

    Registered in the ``mmioc_rtvp`` scope under MMEngine's name too, so
    ``dict(type='EMAHook', ...)`` in a config of this scope builds it.
    Arguments are those of :class:`EMAHook`.
    """

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if runner.message_hub.get_info(UPDATE_SKIPPED_KEY, False):
            return
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
