# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .sam_checkpoint import (SAM_ENCODER_PREFIX, check_encoder_state,
                             load_mobile_sam_encoder,
                             read_mobile_sam_encoder_state)

__all__ = [
    'SAM_ENCODER_PREFIX', 'check_encoder_state', 'load_mobile_sam_encoder',
    'read_mobile_sam_encoder_state'
]
