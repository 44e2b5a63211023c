# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A templated question-answer set generated from MMIOC annotations.

Per image (its ground-truth boxes as detections with score 1):

- presence: "Is there a defect in this image?"
- identify: "Which defect is in this image?"
- count: "How many instances of <class> are there?" for every class in the
  image and for one class that is absent (drawn with ``seed``; none when
  the image holds every class),
- locate: "Where is the <class>?" for every class with exactly one box;
  classes with several boxes have no single location and are counted in
  the report (``locate_skipped_multiple``).

The reference answers are :func:`rule_answer` of the parsed question on the
ground truth, so a detector's exact-match accuracy measures what its
detections imply. Annotations that cannot be used (unknown category, bad
box, unknown image) are listed in the report with their reason, and the
images they belong to get no questions (their answers would be wrong); the
counts reconcile: ``annotations == used + rejected`` and ``images ==
images_used + images_skipped_bad_annotation``.
"""
import random
from collections import Counter
from typing import Dict, List, Optional, Tuple

from .category_hierarchy import CategoryHierarchy
from .detection import BadInputError, Detection, ImageDetections
from .question import COUNT, IDENTIFY, LOCATE, PRESENCE, parse_question
from .rule_answerer import rule_answer

TEMPLATES: Dict[str, str] = {
    PRESENCE: 'Is there a defect in this image?',
    IDENTIFY: 'Which defect is in this image?',
    COUNT: 'How many instances of {name} are there?',
    LOCATE: 'Where is the {name}?',
}


def _box_error(bbox) -> Optional[str]:
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        return f'bbox {bbox!r} is not [x, y, w, h]'
    if not all(isinstance(v, (int, float)) for v in bbox):
        return f'bbox {bbox!r} has non-numbers'
    if bbox[2] <= 0 or bbox[3] <= 0:
        return f'bbox {bbox!r} has no area'
    return None


def ground_truth_detections(data: dict, hierarchy: CategoryHierarchy
                            ) -> Tuple[List[Tuple[dict, ImageDetections]],
                                       List[str], int]:
    """Every image of an MMIOC annotation dict with its boxes as
    detections (score 1).

    Returns:
        tuple: ``[(image record, ImageDetections)]`` in file order
        (without the images that have a rejected annotation: their answers
        would be wrong), one line per rejected annotation, and the number
        of annotations used (of the images kept or not).
    """
    names = {c['id']: c['name'] for c in data.get('categories', [])
             if 'id' in c}
    boxes: Dict[int, List[Detection]] = {}
    images = {img['id']: img for img in data.get('images', [])}
    rejected: List[str] = []
    bad_images = set()
    used = 0
    for ann in data.get('annotations', []):
        where = f'annotation {ann.get("id")!r}'
        reason = None
        if ann.get('image_id') not in images:
            reason = f'unknown image_id {ann.get("image_id")!r}'
        elif ann.get('category_id') not in names:
            reason = f'unknown category_id {ann.get("category_id")!r}'
        else:
            reason = _box_error(ann.get('bbox'))
        if reason:
            rejected.append(f'{where}: {reason}')
            bad_images.add(ann.get('image_id'))
            continue
        x, y, w, h = ann['bbox']
        info = hierarchy[names[ann['category_id']]]
        boxes.setdefault(ann['image_id'], []).append(
            Detection(info.name, (x, y, x + w, y + h), 1.0,
                      info.supercategory, info.scene))
        used += 1
    out = [(img, ImageDetections(img['file_name'], img['width'],
                                 img['height'], boxes.get(img_id, [])))
           for img_id, img in images.items() if img_id not in bad_images]
    return out, rejected, used


def make_qa_set(data: dict, seed: int = 0, source: str = '') -> dict:
    """Generate the QA set of an MMIOC annotation dict.

    Args:
        data (dict): An MMIOC annotation file's content.
        seed (int): Seed of the absent-class draws.
        source (str): Where ``data`` came from (recorded in ``info``).

    Returns:
        dict: ``info``, ``categories`` (the hierarchy), ``questions``
        (``id``, ``image_id``, ``file_name``, ``question``, ``type``,
        ``answer``) and ``report`` (counts and rejected annotations).

    Raises:
        BadInputError: ``data`` has no categories or images.
    """
    if not data.get('categories'):
        raise BadInputError(f'{source or "annotations"}: no categories')
    if not data.get('images'):
        raise BadInputError(f'{source or "annotations"}: no images')
    hierarchy = CategoryHierarchy(data['categories'])
    images, rejected, used = ground_truth_detections(data, hierarchy)
    rng = random.Random(seed)
    questions: List[dict] = []
    skipped_multiple = 0

    def add(img: dict, truth: ImageDetections, qtype: str,
            name: str = '') -> None:
        text = TEMPLATES[qtype].format(name=name)
        parsed = parse_question(text, hierarchy)
        assert parsed.type == qtype, (text, parsed)
        questions.append(dict(
            id=len(questions), image_id=img['id'],
            file_name=img['file_name'], question=text, type=qtype,
            answer=rule_answer(parsed, truth)))

    for img, truth in images:
        add(img, truth, PRESENCE)
        add(img, truth, IDENTIFY)
        per_class = Counter(d.name for d in truth.detections)
        present = sorted(per_class)
        absent = [n for n in hierarchy.names if n not in per_class]
        for name in present + ([rng.choice(absent)] if absent else []):
            add(img, truth, COUNT, name)
        for name in present:
            if per_class[name] == 1:
                add(img, truth, LOCATE, name)
            else:
                skipped_multiple += 1
    num_annotations = len(data.get('annotations', []))
    report = dict(
        images=len(data['images']),
        images_used=len(images),
        images_skipped_bad_annotation=len(data['images']) - len(images),
        annotations=num_annotations,
        annotations_used=used,
        annotations_rejected=len(rejected),
        rejected=rejected,
        questions=len(questions),
        questions_per_type=dict(Counter(q['type'] for q in questions)),
        locate_skipped_multiple=skipped_multiple)
    assert used + len(rejected) == num_annotations
    return dict(
        info=dict(source=source, seed=seed,
                  templates=TEMPLATES),
        categories=data['categories'],
        questions=questions,
        report=report)
