# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .close_mosaic_hook import CloseMosaicHook
from .non_finite_loss_hook import (NonFiniteLossError, NonFiniteLossHook,
                                   non_finite_terms)
from .plain_message_hub_hook import (PlainMessageHubHook,
                                     history_buffers_to_plain,
                                     plain_to_history_buffers)

__all__ = [
    'CloseMosaicHook', 'NonFiniteLossError', 'NonFiniteLossHook',
    'non_finite_terms', 'PlainMessageHubHook', 'history_buffers_to_plain',
    'plain_to_history_buffers'
]
