# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .bn_contrastive_head import BNContrastiveHead
from .ciou_aux_head import CIoUAuxHead
from .contrastive_head import ContrastiveHead
from .rtvp_grounding_head import RTVPGroundingHead
from .rtvp_head import RTVPHead
from .rtvp_head_module import RTVPHeadModule
from .yolo_world_head import YOLOWorldHead
from .yolo_world_head_module import YOLOWorldHeadModule

__all__ = [
    'BNContrastiveHead', 'ContrastiveHead', 'YOLOWorldHead',
    'YOLOWorldHeadModule'
]
__all__ += ['CIoUAuxHead', 'RTVPHead', 'RTVPHeadModule']
__all__ += ['RTVPGroundingHead']
