# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Deployment: ONNX export (fixed or run-time vocabulary) and an ONNX
Runtime backend. See docs/deploy.md."""
from .exportable_detector import ExportableDetector
from .onnx_export import build_metadata, export_onnx, read_metadata
from .ort_detector import ORTDetector
from .postprocess import batched_nms, nms, postprocess_detections

__all__ = [
    'ExportableDetector', 'build_metadata', 'export_onnx', 'read_metadata',
    'ORTDetector', 'batched_nms', 'nms', 'postprocess_detections'
]
