# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The predictor the server calls: a small interface and its model adapter."""
import threading
from dataclasses import asdict, dataclass
from typing import List, Protocol, Sequence, Tuple

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


class Predictor(Protocol):
    """What the server needs from a model: detections for free-text prompts.

    Implementations must be safe to call from several threads at once
    (the server runs requests in a thread pool).
    """

    def __call__(self, image: np.ndarray,
                 prompts: Sequence[str]) -> List[Detection]:
        """Detect ``prompts`` in ``image``.

        Args:
            image (np.ndarray): uint8 (H, W, 3), BGR.
            prompts (Sequence[str]): K free-text prompts, one per class.

        Returns:
            list[Detection]: Every box the model keeps (its own test-time
            score threshold), best first.
        """
