# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .rtvpnet import RTVPNet
from .rtvpnet_grounding import RTVPNetGrounding
from .yolo_world_detector import YOLOWorldDetector

__all__ = ['RTVPNet', 'RTVPNetGrounding', 'YOLOWorldDetector']
