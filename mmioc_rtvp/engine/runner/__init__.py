# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .exact_resume_train_loop import (ExactResumeEpochBasedTrainLoop,
                                      seed_everything_for)
from .mmioc_runner import MMIOCRunner, resolve_collate_fn

__all__ = [
    'ExactResumeEpochBasedTrainLoop', 'MMIOCRunner', 'resolve_collate_fn',
    'seed_everything_for'
]
