# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The image-level OK/NG verdict shown by the demo."""
from typing import Optional, Sequence

from .predictor import Detection


def image_verdict(detections: Sequence[Detection],
                  threshold: Optional[float]) -> Optional[str]:
    """``'NG'`` when a detection scores at least ``threshold``, else ``'OK'``.

    Args:
        detections (Sequence[Detection]): All detections of the image.
        threshold (float, optional): The calibrated image threshold; None
            gives no verdict.

    Returns:
        str | None: ``'OK'``, ``'NG'`` or None.
    """
    if threshold is None:
        return None
    return 'NG' if any(d.score >= threshold for d in detections) else 'OK'


def load_threshold_file(path: str) -> float:
    """The image threshold stored in a calibration file (JSON, key
    ``threshold``)."""
    import json
    try:
        with open(path, encoding='utf-8') as f:
            value = json.load(f)['threshold']
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SystemExit(f'{path}: no threshold could be read ({err!r})')
    return float(value)
