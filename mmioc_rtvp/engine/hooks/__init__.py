# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .bad_data_hook import BadDataHook
from .class_count_check_hook import (ClassCountCheckHook, ClassCountError,
                                     model_class_counts)
from .close_mosaic_hook import CloseMosaicHook
from .guarded_ema_hook import GuardedEMAHook
from .non_finite_loss_hook import (UPDATE_SKIPPED_KEY, NonFiniteLossError,
                                   NonFiniteLossHook, non_finite_terms,
                                   restore_buffers, snapshot_training_buffers)
from .plain_message_hub_hook import (PlainMessageHubHook,
                                     history_buffers_to_plain,
                                     plain_to_history_buffers)
from .slim_checkpoint_hook import SlimCheckpointHook

__all__ = [
    'BadDataHook', 'ClassCountCheckHook', 'ClassCountError', 'CloseMosaicHook',
    'GuardedEMAHook', 'UPDATE_SKIPPED_KEY', 'restore_buffers',
    'snapshot_training_buffers',
    'NonFiniteLossError', 'NonFiniteLossHook', 'PlainMessageHubHook',
    'history_buffers_to_plain', 'model_class_counts', 'non_finite_terms',
    'plain_to_history_buffers', 'SlimCheckpointHook'
]
