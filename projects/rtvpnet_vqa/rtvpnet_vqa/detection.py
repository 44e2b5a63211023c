# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""What the VQA pipeline knows about an image: its detections.

The language model never sees pixels: it reads these records, rendered as
text by :class:`StructuredPromptBuilder`, and the rule answerer computes the
checkable answers from them.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

# 3 x 3 grid of image regions, indexed [row][column]
_REGIONS = (('top left', 'top', 'top right'),
            ('left', 'centre', 'right'),
            ('bottom left', 'bottom', 'bottom right'))
LOCATIONS: Tuple[str, ...] = tuple(r for row in _REGIONS for r in row)


class BadInputError(ValueError):
    """An input of a VQA request cannot be used; the message is one line
    naming the input (file, question or model path) and the reason."""


def location_of(box: Tuple[float, float, float, float], width: int,
                height: int) -> str:
    """Coarse location of a box: the cell of a 3 x 3 grid over the image
    that contains the box centre.

    Args:
        box (tuple[float]): ``(x1, y1, x2, y2)`` in pixels.
        width (int): Image width in pixels.
        height (int): Image height in pixels.

    Returns:
        str: One of :data:`LOCATIONS` (``'top left'`` ... ``'bottom right'``).
    """
    cx = (box[0] + box[2]) / 2
    cy = (box[1] + box[3]) / 2
    col = min(2, max(0, int(3 * cx / width)))
    row = min(2, max(0, int(3 * cy / height)))
    return _REGIONS[row][col]


@dataclass(frozen=True)
class Detection:
    """One detected defect.

    Args:
        name (str): Class name (the canonical prompt), e.g.
            ``'scratch on metal'``.
        box (tuple[float]): ``(x1, y1, x2, y2)`` in pixels of the original
            image.
        score (float): Confidence in ``[0, 1]``.
        supercategory (str, optional): MMIOC supercategory, e.g. ``'metal'``.
        scene (str, optional): MMIOC scene, e.g. ``'metal coins'``.
    """
    name: str
    box: Tuple[float, float, float, float]
    score: float
    supercategory: Optional[str] = None
    scene: Optional[str] = None


@dataclass
class ImageDetections:
    """The detections of one image, sorted by decreasing score.

    Args:
        image (str): Path of the image.
        width (int): Image width in pixels.
        height (int): Image height in pixels.
        detections (list[Detection]): What the detector found.
    """
    image: str
    width: int
    height: int
    detections: List[Detection] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.detections = sorted(
            self.detections, key=lambda d: d.score, reverse=True)

    def location(self, det: Detection) -> str:
        """Coarse location of ``det`` (see :func:`location_of`)."""
        return location_of(det.box, self.width, self.height)

    def of_class(self, name: str) -> List[Detection]:
        """The detections of class ``name``, best first."""
        return [d for d in self.detections if d.name == name]
