# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The predictor the server calls: a small interface and its model adapter."""
from dataclasses import asdict, dataclass
from typing import List, Optional, Protocol, Sequence, Tuple

import numpy as np

from mmioc_rtvp.prompts import PromptEmbeddings


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
class ClassSource:
    """What one class of a prediction's vocabulary was made of.

    Attributes:
        name (str): The class (the detections' label).
        source (str): ``'text'``, ``'exemplars'`` or ``'both'`` (fused).
        prompts (tuple[str, ...]): Its text prompts (``text`` / ``both``).
        exemplars (int): Exemplar entries averaged (1 for a tuned
            embedding; 0 for text).
        excluded (int): Exemplar entries excluded as outliers.
    """

    name: str
    source: str
    prompts: Tuple[str, ...] = ()
    exemplars: int = 0
    excluded: int = 0

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
        classes (tuple[ClassSource, ...]): The vocabulary's classes and
            what each was made of (empty: the typed text classes).
    """

    detections: List[Detection]
    defect_score: float
    verdict: Optional[str]
    classes: Tuple[ClassSource, ...] = ()


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


class ExemplarPredictor(Predictor, Protocol):
    """A predictor that also takes exemplar classes (optional for the
    server: without these members, adding an exemplar is refused).

    Attributes:
        fingerprint (str): The model's fingerprint (exemplar files of
            other models are refused).
        embed_dims (int, optional): D of its class embeddings (None for a
            closed-set model).
        has_exemplar_encoder (bool): Whether boxes can be encoded.
    """

    fingerprint: str
    embed_dims: Optional[int]
    has_exemplar_encoder: bool

    def __call__(self, image: np.ndarray, classes: Sequence[str],
                 exemplars: Optional[PromptEmbeddings] = None
                 ) -> Prediction:
        """Detect the text ``classes`` and the classes of ``exemplars``
        (a class in both is fused); see :class:`Predictor`."""

    def encode_exemplar(self, image: np.ndarray,
                        box: Tuple[float, float, float, float]
                        ) -> np.ndarray:
        """(D,) unit embedding of a checked xyxy box (original pixels) on
        a BGR uint8 (H, W, 3) reference image."""
