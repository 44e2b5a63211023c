# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .inference_inputs import InferenceInput, expand_inputs
from .mmioc_inferencer import MMIOCInferencer
from .model_loading import BAKED_KEY, build_detector, read_checkpoint
from .ok_ng import (OKNGThreshold, auroc, binary_metrics, calibrate_threshold,
                    default_threshold_file, image_defect_score, verdict)
from .vocabulary import Vocabulary

__all__ = [
    'MMIOCInferencer', 'Vocabulary', 'InferenceInput', 'expand_inputs',
    'BAKED_KEY', 'build_detector', 'read_checkpoint', 'OKNGThreshold',
    'auroc', 'binary_metrics', 'calibrate_threshold',
    'default_threshold_file', 'image_defect_score', 'verdict'
]
