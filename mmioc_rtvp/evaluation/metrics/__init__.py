# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .fast_lvis_metric import FastLVISMetric
from .mmioc_metric import MMIOCMetric
from .mmioc_ref_exp_metric import MMIOCRefExpMetric

__all__ = ['FastLVISMetric', 'MMIOCMetric', 'MMIOCRefExpMetric']
