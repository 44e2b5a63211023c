# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .mmioc_runner import MMIOCRunner, resolve_collate_fn

__all__ = ['MMIOCRunner', 'resolve_collate_fn']
