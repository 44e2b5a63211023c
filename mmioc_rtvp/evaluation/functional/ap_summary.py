# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""AP of a subset of classes from COCO's precision array, and AP tables.

``COCOeval.summarize`` averages ``precision[t, r, k, a, m]`` over every entry
that is not ``-1`` (``-1``: the class has no ground truth in that area
range). Restricting the class axis to a group of classes gives the AP that
COCOeval itself reports when its ``catIds`` are that group (each class's
entries are independent of the other classes), so the AP of the seen
classes, of a supercategory or of a scene all come from one evaluation.
"""
import csv
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

#: Columns of an AP row: (name, IoU threshold or None for 0.50:0.95,
#: area-range index, max detections or None for the last setting). As in
#: ``COCOeval.summarize``, AP is read at 100 detections whatever the
#: settings, the other columns at the last setting.
AP_COLUMNS = (('AP', None, 0, 100), ('AP50', 0.5, 0, None),
              ('AP75', 0.75, 0, None), ('APs', None, 1, None),
              ('APm', None, 2, None), ('APl', None, 3, None))


def summarize_precision(precision: np.ndarray,
                        class_index: Optional[Sequence[int]] = None,
                        iou_index: Optional[int] = None,
                        area_index: int = 0,
                        max_det_index: int = -1) -> float:
    """The AP of some classes, as ``COCOeval.summarize`` computes it.

    Args:
        precision (np.ndarray): ``(T, R, K, A, M)`` ``COCOeval`` precision.
        class_index (Sequence[int], optional): Indices into K (default: all).
        iou_index (int, optional): One IoU threshold (default: the mean over
            the T thresholds).
        area_index (int): Area range (0 all, 1 small, 2 medium, 3 large).
        max_det_index (int): Max-detection setting (default: the last).

    Returns:
        float: The mean of the valid entries, ``-1.0`` if there is none.
    """
    s = precision[..., area_index, max_det_index]
    if iou_index is not None:
        s = s[iou_index:iou_index + 1]
    if class_index is not None:
        s = s[:, :, np.asarray(class_index, dtype=np.int64)]
    valid = s[s > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def harmonic_mean(a: float, b: float) -> float:
    """``2ab / (a + b)``; 0 if both are 0, -1 if either is undefined (-1)."""
    if a < 0 or b < 0:
        return -1.0
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def ap_row(precision: np.ndarray,
           iou_thrs: Sequence[float],
           class_index: Optional[Sequence[int]] = None,
           max_dets: Sequence[int] = (1, 10, 100)) -> Dict[str, float]:
    """AP, AP50, AP75, APs, APm, APl of some classes.

    Args:
        precision (np.ndarray): ``(T, R, K, A, M)`` precision.
        iou_thrs (Sequence[float]): The T IoU thresholds (AP50 / AP75 are
            ``-1`` if 0.5 / 0.75 is not among them).
        class_index (Sequence[int], optional): Indices into K (default: all).
        max_dets (Sequence[int]): The M max-detection settings (AP is ``-1``
            if 100 is not among them, as in pycocotools).

    Returns:
        dict[str, float]: One value per name of :data:`AP_COLUMNS`; over all
        classes, ``COCOeval.stats[:6]``.
    """
    iou_thrs = np.asarray(iou_thrs, dtype=np.float64)
    max_dets = list(max_dets)
    row = {}
    for name, thr, area, dets in AP_COLUMNS:
        iou_index, det_index = None, -1
        if thr is not None:
            hits = np.flatnonzero(np.isclose(iou_thrs, thr))
            iou_index = int(hits[0]) if len(hits) else None
        if dets is not None:
            det_index = max_dets.index(dets) if dets in max_dets else None
        if (thr is not None and iou_index is None) or det_index is None:
            row[name] = -1.0
            continue
        row[name] = summarize_precision(precision, class_index, iou_index,
                                        area, det_index)
    return row


def group_rows(precision: np.ndarray,
               iou_thrs: Sequence[float],
               groups: Sequence[str],
               num_gt: Sequence[int],
               max_dets: Sequence[int] = (1, 10, 100)) -> List[dict]:
    """One AP row per distinct group of classes (e.g. per scene).

    Args:
        precision (np.ndarray): ``(T, R, K, A, M)`` precision.
        iou_thrs (Sequence[float]): The T IoU thresholds.
        groups (Sequence[str]): The group of each of the K classes.
        num_gt (Sequence[int]): Non-crowd ground-truth boxes of each class.
        max_dets (Sequence[int]): The M max-detection settings.

    Returns:
        list[dict]: ``group``, ``classes``, ``gt`` then the AP columns, in
        order of first appearance of the groups.
    """
    groups = list(groups)
    num_gt = np.asarray(num_gt, dtype=np.int64)
    rows = []
    for name in dict.fromkeys(groups):
        index = [k for k, g in enumerate(groups) if g == name]
        rows.append(
            dict(
                group=name,
                classes=len(index),
                gt=int(num_gt[index].sum()),
                **ap_row(precision, iou_thrs, index, max_dets)))
    return rows


def _cell(value) -> str:
    if isinstance(value, float):
        return 'n/a' if value < 0 else f'{value:.4f}'
    return str(value)


def markdown_table(rows: Sequence[dict]) -> str:
    """A markdown table of rows sharing their keys (floats: 4 decimals,
    ``n/a`` for ``-1``)."""
    if not rows:
        return ''
    header = list(rows[0])
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    lines += [
        '| ' + ' | '.join(_cell(r[k]) for k in header) + ' |' for r in rows
    ]
    return '\n'.join(lines)


def write_csv(path: str, rows: Sequence[dict]) -> None:
    """Write rows sharing their keys as CSV (floats: full precision, ``-1``
    where undefined, as pycocotools)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
