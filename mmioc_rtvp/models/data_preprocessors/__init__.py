# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .multi_modal_det_data_preprocessor import MultiModalDetDataPreprocessor

__all__ = ['MultiModalDetDataPreprocessor']
