# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .yolo_world_pafpn import YOLOWorldPAFPN

__all__ = ['YOLOWorldPAFPN']
