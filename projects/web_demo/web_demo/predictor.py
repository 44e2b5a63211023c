# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The predictor the server calls: a small interface and its model adapter."""
from dataclasses import asdict, dataclass
from typing import List, Optional, Protocol, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class Detection:
    """One box found for one prompt.

    Attributes:
        label (str): The prompt (class) it was found for.
        score (float): Its confidence in [0, 1].
        bbox (tuple[float, float, float, float]): ``(x1, y1, x2, y2)`` in
            pixels of the original image.
    """

    label: str
    score: float
    bbox: Tuple[float, float, float, float]

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Prediction:
    """What the model says about one image.

    Attributes:
        detections (list[Detection]): Every box the model keeps (its own
            test-time score threshold), best first.
        defect_score (float): The image's defect score (its highest
            detection score, 0 without detection).
        verdict (str, optional): ``'OK'``, ``'NG'``, or None without an
            OK/NG threshold.
    """

    detections: List[Detection]
    defect_score: float
    verdict: Optional[str]


class Predictor(Protocol):
    """What the server needs from a model: detections for free-text prompts
    and the OK/NG verdict.

    Implementations must be safe to call from several threads at once
    (the server runs requests in a thread pool) and raise ``ValueError``
    for a vocabulary they refuse (the message is shown to the user).
    """

    def __call__(self, image: np.ndarray,
                 classes: Sequence[str]) -> Prediction:
        """Detect ``classes`` in ``image``.

        Args:
            image (np.ndarray): uint8 (H, W, 3), BGR.
            classes (Sequence[str]): K classes, each a free-text prompt or
                a prompt ensemble ``"a|b"``.

        Returns:
            Prediction: Detections and verdict.
        """
