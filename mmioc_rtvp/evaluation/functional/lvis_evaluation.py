# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""LVIS bbox evaluation (AP, APr / APc / APf) that runs on numpy 2.

lvis-api 0.5.3 (PyPI's latest) calls ``np.float`` in
``LVISEval.accumulate``, which numpy >= 1.24 removed. This runs the LVIS
protocol with hotcoco's ``lvis_style`` mode instead: federated ground truth
(``neg_category_ids`` / ``not_exhaustive_category_ids`` of each image),
at most ``max_dets`` detections per image over all categories (lvis-api's
``LVISResults`` cap), and AP per frequency group of the categories
(``frequency``: ``r`` rare, ``c`` common, ``f`` frequent). Its figures are
checked against lvis-api's matching (``LVISEval.evaluate``) and summary in
``tests/test_evaluation``.
"""
import contextlib
import io
from collections import OrderedDict
from typing import Dict

import numpy as np

from .coco_evaluation import coco_gt_dict

#: The 13 LVIS figures, in lvis-api's order (``AR@300`` etc. follow
#: ``max_dets``).
LVIS_AP_NAMES = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc',
                 'APf')


def evaluate_lvis_bbox(gt: dict,
                       dets: np.ndarray,
                       max_dets: int = 300) -> Dict[str, float]:
    """LVIS bbox evaluation of ``dets`` against an LVIS-format ``gt``.

    Args:
        gt (dict): LVIS ground truth: ``images`` (with ``neg_category_ids``
            and ``not_exhaustive_category_ids``), ``annotations``,
            ``categories`` (with ``frequency``).
        dets (np.ndarray): ``(N, 7)`` ``[image_id, x, y, w, h, score,
            category_id]`` (see ``detections_array``).
        max_dets (int): Detections kept per image, over all categories, by
            score (lvis-api's default 300).

    Returns:
        dict[str, float]: ``AP``, ``AP50``, ``AP75``, ``APs``, ``APm``,
        ``APl``, ``APr``, ``APc``, ``APf``, ``AR@<max_dets>``,
        ``ARs@<max_dets>``, ``ARm@<max_dets>``, ``ARl@<max_dets>``
        (``-1``: undefined, e.g. no rare category).
    """
    try:
        import hotcoco
    except ImportError:
        raise ImportError('LVIS evaluation needs the hotcoco package: pip '
                          'install -r requirements/optional.txt') from None
    dets = np.asarray(dets, dtype=np.float64).reshape(-1, 7)
    gt = coco_gt_dict(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = hotcoco.COCO(gt)
        coco_dt = hotcoco.LVISResults(coco_gt, dets if len(dets) else [],
                                      max_dets=max_dets)
        evaluator = hotcoco.COCOeval(
            coco_gt, coco_dt, 'bbox', lvis_style=True)
        evaluator.params.maxDets = [int(max_dets)]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        figures = evaluator.get_results()
    names = list(LVIS_AP_NAMES) + [
        f'AR{a}@{max_dets}' for a in ('', 's', 'm', 'l')
    ]
    missing = [n for n in names if n not in figures]
    if missing:
        raise RuntimeError(f'hotcoco returned no {missing} (got '
                           f'{sorted(figures)}); unsupported hotcoco version')
    return OrderedDict((n, float(figures[n])) for n in names)
