# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Store the message hub of a checkpoint as plain data."""
from typing import Optional

import numpy as np
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer

from mmioc_rtvp.registry import HOOKS

PLAIN_FORMAT_KEY = 'log_scalars_format'
PLAIN_FORMAT = 'plain-v1'


def history_buffers_to_plain(message_hub_state: dict) -> dict:
    """Replace the ``HistoryBuffer`` objects of a message-hub state in place.

    Args:
        message_hub_state (dict): ``MessageHub.state_dict()`` output, with
            ``log_scalars`` mapping names to ``HistoryBuffer``.

    Returns:
        dict: The same dict; every ``log_scalars`` value is now
        ``dict(log_history=ndarray, count_history=ndarray, max_length=int)``
        and ``log_scalars_format`` records the conversion.
    """
    if message_hub_state.get(PLAIN_FORMAT_KEY) == PLAIN_FORMAT:
        return message_hub_state
    plain = {}
    for key, buffer in message_hub_state.get('log_scalars', {}).items():
        if isinstance(buffer, HistoryBuffer):
            log_history, count_history = buffer.data
            plain[key] = dict(
                log_history=np.asarray(log_history),
                count_history=np.asarray(count_history),
                max_length=int(buffer.max_length))
        else:
            plain[key] = buffer
    message_hub_state['log_scalars'] = plain
    message_hub_state[PLAIN_FORMAT_KEY] = PLAIN_FORMAT
    return message_hub_state


def plain_to_history_buffers(message_hub_state: dict) -> dict:
    """Inverse of :func:`history_buffers_to_plain` (in place)."""
    if message_hub_state.get(PLAIN_FORMAT_KEY) != PLAIN_FORMAT:
        return message_hub_state
    buffers = {}
    for key, value in message_hub_state.get('log_scalars', {}).items():
        buffers[key] = HistoryBuffer(
            value['log_history'].tolist(), value['count_history'].tolist(),
            value['max_length'])
    message_hub_state['log_scalars'] = buffers
    del message_hub_state[PLAIN_FORMAT_KEY]
    return message_hub_state


@HOOKS.register_module()
class PlainMessageHubHook(Hook):
    """Keep checkpoints loadable with ``torch.load(weights_only=True)``.

    MMEngine pickles the message hub's ``HistoryBuffer`` objects into every
    checkpoint; unpickling them needs ``builtins.getattr``, which a safe
    loader must refuse. This hook converts them to numpy arrays before a
    checkpoint is written and back after one is read (``after_load_checkpoint``
    runs before :meth:`Runner.resume` restores the message hub). Together with
    :func:`mmioc_rtvp.utils.register_numpy_safe_globals` the checkpoint then
    loads with ``weights_only`` left on.

    It has the highest priority so that hooks reading the restored message hub
    see ``HistoryBuffer`` objects again.
    """

    priority = 'HIGHEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state: Optional[dict] = checkpoint.get('message_hub')
        if isinstance(state, dict):
            history_buffers_to_plain(state)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state: Optional[dict] = checkpoint.get('message_hub')
        if isinstance(state, dict):
            plain_to_history_buffers(state)
