# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .multi_modal_yolo_backbone import MultiModalYOLOBackbone

__all__ = ['MultiModalYOLOBackbone']
