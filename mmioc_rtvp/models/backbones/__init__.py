# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .mobile_sam_tinyvit import MobileSAMTinyViT
from .mobilenet_v2_encoder import MobileNetV2Encoder
from .multi_modal_yolo_backbone import MultiModalYOLOBackbone
from .visual_prompted_backbone import VisualPromptedBackbone
from .yolo11_backbone import YOLO11Backbone

__all__ = [
    'MultiModalYOLOBackbone', 'MobileSAMTinyViT', 'MobileNetV2Encoder'
]
__all__ += ['VisualPromptedBackbone', 'YOLO11Backbone']
