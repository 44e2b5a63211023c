# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .close_mosaic_hook import CloseMosaicHook
from .plain_message_hub_hook import (PlainMessageHubHook,
                                     history_buffers_to_plain,
                                     plain_to_history_buffers)

__all__ = [
    'CloseMosaicHook', 'PlainMessageHubHook', 'history_buffers_to_plain',
    'plain_to_history_buffers'
]
