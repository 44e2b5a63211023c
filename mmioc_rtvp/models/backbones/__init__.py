# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .mobile_sam_tinyvit import MobileSAMTinyViT
from .multi_modal_yolo_backbone import MultiModalYOLOBackbone

__all__ = ['MultiModalYOLOBackbone', 'MobileSAMTinyViT']
