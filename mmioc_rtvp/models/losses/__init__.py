# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .infonce_region_text_loss import InfoNCERegionTextLoss
from .referent_rank_loss import ReferentRankLoss

__all__ = ['InfoNCERegionTextLoss', 'ReferentRankLoss']
