# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A small FastAPI web demo: upload an image, type prompts, see the boxes,
their scores and the OK/NG verdict."""
from .admission_limit import AdmissionLimit
from .allowed_paths import AllowedPaths
from .body_size_limit import BodySizeLimit
from .errors import InputRejected
from .exemplar_set import ExemplarEntry, ExemplarSet
from .image_decoding import decode_image
from .predictor import (ClassSource, Detection, ExemplarPredictor,
                        Prediction, Predictor)
from .request_origin_check import RequestOriginCheck
from .security_headers import SecurityHeaders, content_security_policy
from .server import DemoSettings, create_app, parse_prompts

__all__ = [
    'AdmissionLimit', 'RequestOriginCheck', 'SecurityHeaders',
    'content_security_policy', 'AllowedPaths', 'BodySizeLimit', 'InputRejected', 'decode_image',
    'Detection', 'Prediction', 'Predictor', 'DemoSettings', 'create_app',
    'parse_prompts', 'ClassSource', 'ExemplarPredictor', 'ExemplarEntry',
    'ExemplarSet'
]
