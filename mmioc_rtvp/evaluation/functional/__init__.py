# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .ap_summary import (ap_row, group_rows, harmonic_mean, markdown_table,
                         summarize_precision, write_csv)
from .coco_evaluation import (COCO_BACKENDS, COCO_STAT_NAMES, CocoEvalResult,
                              detections_array, evaluate_coco_bbox)

__all__ = [
    'ap_row', 'group_rows', 'harmonic_mean', 'markdown_table',
    'summarize_precision', 'write_csv', 'COCO_BACKENDS', 'COCO_STAT_NAMES',
    'CocoEvalResult', 'detections_array', 'evaluate_coco_bbox'
]
