# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Deployment: ONNX export (fixed or run-time vocabulary) and an ONNX
Runtime backend. See docs/deploy.md.

Two halves that a line PC does not need together:

- the runner (:class:`ORTDetector`, :class:`ORTTextEncoder`,
  :mod:`~mmioc_rtvp.deploy.postprocess`) needs numpy and onnxruntime only,
  and is what ``import mmioc_rtvp.deploy`` loads;
- the exporter (:class:`ExportableDetector`, :class:`ExportableMiniLM`,
  :func:`export_onnx`, :func:`export_text_encoder`, :func:`build_metadata`,
  :func:`read_metadata`) needs torch and the model code; its names are
  loaded on first use (``from mmioc_rtvp.deploy import export_onnx``), or
  from :mod:`mmioc_rtvp.deploy.onnx_export` directly.

:class:`~mmioc_rtvp.deploy.ort_inferencer.ORTInferencer` (the inferencer's
pipeline around the runner) needs mmdet like the inferencer it extends.
"""
import importlib
from typing import Any

from .ort_detector import METADATA_KEY, ORTDetector
from .ort_text_encoder import ORTTextEncoder
from .postprocess import batched_nms, nms, postprocess_detections

#: Exporter names -> the module defining them (imported on first access).
_EXPORTER_NAMES = {
    'ExportableDetector': 'exportable_detector',
    'ExportableMiniLM': 'exportable_minilm',
    'build_metadata': 'onnx_export',
    'export_onnx': 'onnx_export',
    'export_text_encoder': 'onnx_export',
    'read_metadata': 'onnx_export',
}

__all__ = [
    'ExportableDetector', 'ExportableMiniLM', 'build_metadata',
    'export_onnx', 'export_text_encoder', 'read_metadata', 'ORTDetector',
    'ORTTextEncoder', 'METADATA_KEY', 'batched_nms', 'nms',
    'postprocess_detections'
]


def __getattr__(name: str) -> Any:
    """Load an exporter name (torch, the model code) on first access."""
    module = _EXPORTER_NAMES.get(name)
    if module is None:
        raise AttributeError(
            f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(f'.{module}', __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_EXPORTER_NAMES))
