# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Deterministic answers to checkable questions, computed from detections.

The same rules applied to ground-truth boxes (score 1) give the reference
answers of the templated QA set (:mod:`.qa_set`), so the exact-match
accuracy of a detector measures what its detections imply, without any
language model.
"""
from typing import List, Optional

from .detection import Detection, ImageDetections
from .question import COUNT, IDENTIFY, LOCATE, PRESENCE, ParsedQuestion

NO_DEFECT = 'none'
NOT_FOUND = 'not found'


def _relevant(question: ParsedQuestion,
              image: ImageDetections) -> List[Detection]:
    if question.classes is None:
        return list(image.detections)
    return [d for d in image.detections if d.name in question.classes]


def rule_answer(question: ParsedQuestion,
                image: ImageDetections) -> Optional[str]:
    """The answer that ``image``'s detections imply.

    Args:
        question (ParsedQuestion): A parsed question.
        image (ImageDetections): Detections, best first.

    Returns:
        str | None: ``yes``/``no`` (presence), a count, the sorted class
        names joined by ``'; '`` or ``'none'`` (identify), a 3 x 3 grid cell
        of the best-scoring relevant box or ``'not found'`` (locate);
        ``None`` for an open question.
    """
    dets = _relevant(question, image)
    if question.type == PRESENCE:
        return 'yes' if bool(dets) != question.inverted else 'no'
    if question.type == COUNT:
        return str(len(dets))
    if question.type == IDENTIFY:
        return '; '.join(sorted({d.name for d in dets})) or NO_DEFECT
    if question.type == LOCATE:
        return image.location(dets[0]) if dets else NOT_FOUND
    return None
