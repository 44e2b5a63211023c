# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Turn an MMIOC split into a RefCOCO-style grounding split.

For every box of every image, :mod:`~mmioc_rtvp.builders.grounding` lists the
expressions that single it out; each becomes one grounding record with
exactly one referent box. Two files are written per split, both formats that
mmdet 3.3 reads for RefCOCO-style grounding:

- ``<split>.json``: MDETR-style COCO, as ``mmdet.MDETRStyleRefCocoDataset``
  and ``mmdet.RefExpMetric`` read it (the ``finetune_refcoco_*.json`` files of
  the ``configs/mm_grounding_dino/refcoco`` configs): one ``images`` record
  per expression (``id``, ``file_name``, ``height``, ``width``, ``caption``,
  ``dataset_name``, ``original_img_id``, plus ``attribute`` / ``value``) and
  exactly one ``annotations`` record for it (``bbox`` xywh, ``category_id``
  of the MMIOC class, ``original_id`` of the source box); ``categories`` are
  the source's, with their hierarchy.
- ``<split>_odvg.jsonl``: the same records in the ODVG grounding format of
  ``mmdet.ODVGDataset`` (one JSON line per expression: ``filename``,
  ``height``, ``width``, ``grounding.caption`` and one region with ``bbox``
  xyxy, ``phrase`` and ``tokens_positive``), what mm_grounding_dino trains on.

Every source box ends up *referred* (one or more expressions), *ambiguous*
(no attribute singles it out, or an object of a crowd region of its class
could also be meant: skipped), a *crowd* region (``iscrowd``: never a
referent, but it makes expressions of its class ambiguous) or *invalid* (a
bad record: one line naming it, with the reason); the counts reconcile in
the report. Each written file is checked by
:mod:`~mmioc_rtvp.builders.grounding_check`, which reads the captions back
from their text alone.
"""
import json
import os
import os.path as osp
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .grounding import (ATTRIBUTES, ReferringRules, check_distinct_nouns,
                        group_expressions, noun_of)
from .grounding_check import check_grounding
from mmioc_rtvp.format.io import dump_json, load_mmioc

#: ``dataset_name`` of every record (RefExpMetric groups by it)
DATASET_NAME = 'mmioc'
#: the grounding splits of an MMIOC data root (MMIOC-1M and MMIOC-mini):
#: train from the seen classes, test on the unseen classes and on held-out
#: images of the seen classes (docs/dataset_format.md, open split)
OPEN_SPLITS = (('train', 'annotations/open_train.json'),
               ('test_unseen', 'annotations/open_val.json'),
               ('test_seen', 'annotations/open_val_seen.json'))


@dataclass
class GroundingReport:
    """What happened to every box of a source split.

    Attributes:
        source (str): The source annotation file.
        boxes (int): Boxes in the source.
        referred (int): Boxes with at least one expression.
        ambiguous (int): Boxes no attribute singles out (skipped).
        ambiguous_by_crowd (int): Of these, boxes that an attribute would
            single out if the crowd regions of their class were not there.
        crowd (int): Crowd regions (``iscrowd``; never referents).
        invalid (int): Bad box records (skipped; see ``problems``).
        expressions (int): Grounding records written.
        by_attribute (dict[str, int]): Expressions per attribute.
        ambiguous_by_class (dict[str, int]): Ambiguous boxes per class.
        problems (list[str]): One line per invalid record.
    """
    source: str
    boxes: int = 0
    referred: int = 0
    ambiguous: int = 0
    ambiguous_by_crowd: int = 0
    crowd: int = 0
    invalid: int = 0
    expressions: int = 0
    by_attribute: Dict[str, int] = field(default_factory=dict)
    ambiguous_by_class: Dict[str, int] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)

    def reconciles(self) -> bool:
        """Whether every box is accounted for exactly once."""
        return self.boxes == (self.referred + self.ambiguous + self.crowd +
                              self.invalid)

    def summary(self) -> str:
        """One line of counts."""
        attrs = ', '.join(f'{a} {self.by_attribute.get(a, 0)}'
                          for a in ATTRIBUTES)
        return (f'{self.source}: {self.boxes} boxes = {self.referred} '
                f'referred + {self.ambiguous} ambiguous ('
                f'{self.ambiguous_by_crowd} because of a crowd region) + '
                f'{self.crowd} crowd + {self.invalid} invalid; '
                f'{self.expressions} expressions ({attrs})')

    def to_dict(self) -> dict:
        """A JSON-ready copy."""
        return dict(self.__dict__)


def _box_problem(ann: dict, images: Dict, cats: Dict) -> Optional[str]:
    """Why an annotation cannot be referred to, or None."""
    bbox = ann.get('bbox')
    if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4 and all(
            isinstance(v, (int, float)) and np.isfinite(v) for v in bbox)):
        return f'bbox must be 4 finite numbers, got {bbox!r}'
    if bbox[2] <= 0 or bbox[3] <= 0:
        return f'bbox has no area: {bbox!r}'
    if ann.get('image_id') not in images:
        return f'image_id {ann.get("image_id")!r} is not in images'
    if ann.get('category_id') not in cats:
        return f'category_id {ann.get("category_id")!r} is not in categories'
    return None


def _image_size(img: dict) -> Optional[Tuple[float, float]]:
    w, h = img.get('width'), img.get('height')
    if isinstance(w, (int, float)) and isinstance(h, (int, float)) \
            and w > 0 and h > 0:
        return float(w), float(h)
    return None


def make_grounding_split(
        data: dict,
        source: str = '<dict>',
        rules: ReferringRules = ReferringRules()
) -> Tuple[dict, GroundingReport]:
    """Referring expressions for every box of an MMIOC split.

    Args:
        data (dict): An MMIOC annotation file (parsed).
        source (str): Its name, for the report and messages.
        rules (ReferringRules): Tolerances of the attribute rules.

    Returns:
        tuple: ``(grounding, report)``: the MDETR-style COCO dict (see the
        module docstring) and the :class:`GroundingReport`.

    Raises:
        ValueError: Two categories share a prompt text (one line naming
            both classes and ``source``).
    """
    check_distinct_nouns(data['categories'], source)
    images = {img['id']: img for img in data['images']}
    cats = {c['id']: c for c in data['categories']}
    report = GroundingReport(source=source)
    groups: Dict[Tuple, List[dict]] = defaultdict(list)
    crowds: Dict[Tuple, List[List[float]]] = defaultdict(list)
    for ann in data['annotations']:
        report.boxes += 1
        problem = _box_problem(ann, images, cats)
        if problem is None and _image_size(images[ann['image_id']]) is None:
            problem = f'image {ann["image_id"]} has no valid width/height'
        if problem is not None:
            report.invalid += 1
            report.problems.append(
                f'{source}: annotation {ann.get("id")!r}: {problem}')
            continue
        key = (ann['image_id'], ann['category_id'])
        if ann.get('iscrowd', 0):
            report.crowd += 1
            crowds[key].append([float(v) for v in ann['bbox']])
        else:
            groups[key].append(ann)

    records, anns = [], []
    by_attribute: Counter = Counter()
    ambiguous: Counter = Counter()
    for (img_id, cat_id) in sorted(groups):
        group = groups[(img_id, cat_id)]
        img = images[img_id]
        width, height = _image_size(img)
        boxes = np.array([a['bbox'] for a in group], dtype=np.float64)
        noun = noun_of(cats[cat_id])
        crowd = crowds.get((img_id, cat_id))
        per_box = group_expressions(noun, boxes, width, height, rules,
                                    np.array(crowd) if crowd else None)
        without_crowd = group_expressions(
            noun, boxes, width, height, rules) if crowd else per_box
        for ann, expressions, alone in zip(group, per_box, without_crowd):
            if not expressions:
                report.ambiguous += 1
                report.ambiguous_by_crowd += bool(alone)
                ambiguous[cats[cat_id].get('name', str(cat_id))] += 1
                continue
            report.referred += 1
            for expr in expressions:
                rec_id = len(records) + 1
                records.append(
                    dict(
                        id=rec_id,
                        file_name=img['file_name'],
                        height=img['height'],
                        width=img['width'],
                        caption=expr.text,
                        dataset_name=DATASET_NAME,
                        original_img_id=img_id,
                        attribute=expr.attribute,
                        value=expr.value))
                x, y, w, h = (float(v) for v in ann['bbox'])
                anns.append(
                    dict(
                        id=rec_id,
                        image_id=rec_id,
                        bbox=[x, y, w, h],
                        area=w * h,
                        category_id=cat_id,
                        iscrowd=0,
                        original_id=ann['id']))
                by_attribute[expr.attribute] += 1
    report.expressions = len(records)
    report.by_attribute = dict(sorted(by_attribute.items()))
    report.ambiguous_by_class = dict(sorted(ambiguous.items()))
    info = dict(data.get('info') or {})
    info.update(grounding_source=source, grounding_rules=rules.__dict__)
    grounding = dict(
        info=info,
        images=records,
        annotations=anns,
        categories=data['categories'])
    return grounding, report


def to_odvg(grounding: dict) -> List[dict]:
    """The records of a grounding dict as ODVG grounding lines.

    Args:
        grounding (dict): What :func:`make_grounding_split` returns.

    Returns:
        list[dict]: One ``mmdet.ODVGDataset`` (VG mode) record per
        expression, its region's ``bbox`` in xyxy pixels.
    """
    box_of = {a['image_id']: a['bbox'] for a in grounding['annotations']}
    lines = []
    for rec in grounding['images']:
        x, y, w, h = box_of[rec['id']]
        caption = rec['caption']
        lines.append(
            dict(
                filename=rec['file_name'],
                height=rec['height'],
                width=rec['width'],
                grounding=dict(
                    caption=caption,
                    regions=[
                        dict(
                            bbox=[x, y, x + w, y + h],
                            phrase=caption,
                            tokens_positive=[[0, len(caption)]])
                    ])))
    return lines


def verify_grounding(grounding: dict,
                     source: dict,
                     rules: ReferringRules = ReferringRules(),
                     name: str = '<grounding>') -> List[str]:
    """Check every expression of a grounding file against its source split.

    The check is :func:`~mmioc_rtvp.builders.grounding_check.check_grounding`:
    each caption is read from its text alone and matched against every box
    and crowd region of its image; it must denote exactly one object, the
    annotated box.

    Args:
        grounding (dict): MDETR-style grounding dict.
        source (dict): The MMIOC split it was made from.
        rules (ReferringRules): The tolerances it was made with.
        name (str): The grounding file's name, for the messages.

    Returns:
        list[str]: One line per bad expression (empty: all good).
    """
    return check_grounding(grounding, source, name, rules.min_gap,
                           rules.size_ratio)


def write_grounding_split(ann_file: str,
                          out_dir: str,
                          split: str,
                          rules: ReferringRules = ReferringRules()
                          ) -> GroundingReport:
    """Read an MMIOC split and write its grounding files.

    Args:
        ann_file (str): The MMIOC annotation file.
        out_dir (str): Output directory (created).
        split (str): Output name: ``<split>.json`` and
            ``<split>_odvg.jsonl``.
        rules (ReferringRules): Tolerances of the attribute rules.

    Returns:
        GroundingReport: The counts and problems.

    Raises:
        RuntimeError: A written expression fails :func:`verify_grounding`
            (a bug of the rules; the message names it).
    """
    data = load_mmioc(ann_file)
    grounding, report = make_grounding_split(data, ann_file, rules)
    problems = verify_grounding(grounding, data, rules, f'{split}.json')
    if problems:
        raise RuntimeError(problems[0])
    os.makedirs(out_dir, exist_ok=True)
    dump_json(grounding, osp.join(out_dir, f'{split}.json'))
    odvg_path = osp.join(out_dir, f'{split}_odvg.jsonl')
    with open(odvg_path, 'w', encoding='utf-8') as f:
        for line in to_odvg(grounding):
            f.write(json.dumps(line) + '\n')
    return report


def write_grounding_splits(data_root: str,
                           splits: Sequence[Tuple[str, str]] = OPEN_SPLITS,
                           out_subdir: str = 'grounding',
                           rules: ReferringRules = ReferringRules()
                           ) -> Dict[str, GroundingReport]:
    """Grounding files for several splits of one data root, and a report.

    Args:
        data_root (str): The MMIOC data root.
        splits (Sequence[tuple[str, str]]): ``(name, annotation file
            relative to data_root)`` pairs. Defaults to
            :data:`OPEN_SPLITS`.
        out_subdir (str): Output directory relative to ``data_root``.
        rules (ReferringRules): Tolerances of the attribute rules.

    Returns:
        dict[str, GroundingReport]: Per split; also written to
        ``<out_subdir>/report.json``.
    """
    out_dir = osp.join(data_root, out_subdir)
    reports = {
        name: write_grounding_split(
            osp.join(data_root, ann), out_dir, name, rules)
        for name, ann in splits
    }
    dump_json(
        dict(
            rules=rules.__dict__,
            splits={k: r.to_dict()
                    for k, r in reports.items()}),
        osp.join(out_dir, 'report.json'),
        indent=True)
    return reports
