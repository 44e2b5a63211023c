# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .rtvpnet import RTVPNet
from .yolo_world_detector import YOLOWorldDetector

__all__ = ['RTVPNet', 'YOLOWorldDetector']
