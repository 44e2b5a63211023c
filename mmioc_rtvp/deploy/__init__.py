# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Deployment: ONNX export (fixed or run-time vocabulary) and an ONNX
Runtime backend. See docs/deploy.md."""
from .exportable_detector import ExportableDetector
from .exportable_minilm import ExportableMiniLM
from .onnx_export import (build_metadata, export_onnx, export_text_encoder,
                          read_metadata)
from .ort_detector import ORTDetector
from .ort_text_encoder import ORTTextEncoder
from .postprocess import batched_nms, nms, postprocess_detections

__all__ = [
    'ExportableDetector', 'ExportableMiniLM', 'build_metadata',
    'export_onnx', 'export_text_encoder', 'read_metadata', 'ORTDetector',
    'ORTTextEncoder', 'batched_nms', 'nms', 'postprocess_detections'
]
