# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .infonce_region_text_loss import InfoNCERegionTextLoss

__all__ = ['InfoNCERegionTextLoss']
