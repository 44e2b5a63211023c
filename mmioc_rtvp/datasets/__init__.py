# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .transforms import *  # noqa: F401,F403
from .mmioc_dataset import MMIOCDataset
from .mmioc_grounding_dataset import MMIOCGroundingDataset
from .multimodal_collate import multimodal_collate
from .multimodal_dataset import MultiModalDataset, load_class_texts

__all__ = [
    'MMIOCDataset', 'MultiModalDataset', 'load_class_texts',
    'multimodal_collate', 'LoadText', 'RandomLoadText'
]
__all__ += ['MMIOCGroundingDataset']
