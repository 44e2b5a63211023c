# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""One COCO bbox evaluation (evaluate + accumulate + summarize) on a backend.

Backends (``COCO_BACKENDS``):

- ``'pycocotools'``: the reference implementation (``pycocotools.cocoeval``);
- ``'hotcoco'`` (what ``MMIOCMetric`` runs by default): hotcoco (Rust, MIT,
  PyPI; a runtime requirement), a re-implementation of the same
  algorithm whose 12 summary figures and ``precision`` / ``recall`` arrays
  equal pycocotools' (tested in ``tests/test_evaluation``; measured the
  fastest of faster-coco-eval, hotcoco and vernier in ``docs/evaluation.md``).

Both take the ground truth as a COCO dict and the detections as one
``(N, 7)`` array ``[image_id, x, y, w, h, score, category_id]`` (the format of
``COCO.loadRes`` for arrays), so no JSON is written or parsed.
"""
import contextlib
import io
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

COCO_BACKENDS = ('pycocotools', 'hotcoco')

#: Names of the 12 figures of ``COCOeval.stats``, in order.
COCO_STAT_NAMES = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l',
                   'AR_1', 'AR_10', 'AR_100', 'AR_s', 'AR_m', 'AR_l')


@dataclass
class CocoEvalResult:
    """What one evaluation returns.

    Attributes:
        stats (np.ndarray): ``(12,)`` float64, ``COCOeval.stats`` (``-1``
            where a figure is undefined, as in pycocotools).
        precision (np.ndarray): ``(T, R, K, A, M)`` float64,
            ``COCOeval.eval['precision']``: T IoU thresholds, R = 101 recall
            thresholds, K categories (in ``cat_ids`` order), A = 4 area
            ranges (all, small, medium, large), M max-detection settings.
        recall (np.ndarray): ``(T, K, A, M)`` float64.
        max_dets (tuple[int]): The M max-detection settings.
    """
    stats: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    max_dets: tuple


def detections_array(image_ids: Sequence[int], bboxes: Sequence[np.ndarray],
                     scores: Sequence[np.ndarray],
                     category_ids: Sequence[np.ndarray]) -> np.ndarray:
    """Stack per-image detections into the ``(N, 7)`` ``loadRes`` array.

    Args:
        image_ids (Sequence[int]): The image id of each of B images.
        bboxes (Sequence[np.ndarray]): B arrays ``(n_i, 4)`` of ``x1, y1, x2,
            y2`` boxes.
        scores (Sequence[np.ndarray]): B arrays ``(n_i,)``.
        category_ids (Sequence[np.ndarray]): B arrays ``(n_i,)`` of category
            ids (not labels).

    Returns:
        np.ndarray: ``(N, 7)`` float64 ``[image_id, x, y, w, h, score,
        category_id]``; ``w = x2 - x1`` is computed in float64, as
        ``mmdet.CocoMetric.xyxy2xywh`` does on Python floats.
    """
    counts = [len(s) for s in scores]
    if sum(counts) == 0:
        return np.zeros((0, 7), dtype=np.float64)
    boxes = np.concatenate(
        [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in bboxes])
    out = np.empty((len(boxes), 7), dtype=np.float64)
    out[:, 0] = np.repeat(np.asarray(image_ids, dtype=np.float64), counts)
    out[:, 1:3] = boxes[:, :2]
    out[:, 3:5] = boxes[:, 2:] - boxes[:, :2]
    out[:, 5] = np.concatenate(
        [np.asarray(s, dtype=np.float64).ravel() for s in scores])
    out[:, 6] = np.concatenate(
        [np.asarray(c, dtype=np.float64).ravel() for c in category_ids])
    return out


def coco_gt_dict(gt: dict) -> dict:
    """The three COCO lists of ``gt`` in a new dict (the backends may attach
    their index to it); ``annotations`` may be absent (mmdet's conversion
    omits it when there is no box)."""
    return dict(
        images=gt['images'],
        annotations=gt.get('annotations') or [],
        categories=gt['categories'])


def _set_params(params, cat_ids, img_ids, max_dets, iou_thrs) -> None:
    """Assign every parameter that differs from COCO's defaults (whole
    attributes: hotcoco's parameter reads return copies)."""
    if cat_ids is not None:
        params.catIds = [int(c) for c in cat_ids]
    if img_ids is not None:
        params.imgIds = [int(i) for i in img_ids]
    if max_dets is not None:
        params.maxDets = [int(m) for m in max_dets]
    if iou_thrs is not None:
        params.iouThrs = np.asarray(iou_thrs, dtype=np.float64)


def _empty_results(gt: dict) -> dict:
    """A detection dict without detections (``loadRes`` rejects none)."""
    return dict(images=gt['images'], annotations=[],
                categories=gt['categories'])


def _run_pycocotools(gt, dets, params_kw) -> tuple:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    # pycocotools prints every step: keep the log readable
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if len(dets):
            coco_dt = coco_gt.loadRes(dets)
        else:
            coco_dt = COCO()
            coco_dt.dataset = _empty_results(gt)
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, 'bbox')
        _set_params(evaluator.params, **params_kw)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats, evaluator.eval, evaluator.params.maxDets


def _run_hotcoco(gt, dets, params_kw) -> tuple:
    try:
        import hotcoco
    except ImportError:
        raise ImportError(
            "backend='hotcoco' needs the hotcoco package: "
            'pip install hotcoco (requirements/runtime.txt)') from None
    with contextlib.redirect_stdout(io.StringIO()), \
            warnings.catch_warnings():
        # hotcoco warns when maxDets differ from (1, 10, 100): mmdet's
        # CocoMetric uses (100, 300, 1000) on purpose
        warnings.simplefilter('ignore', UserWarning)
        coco_gt = hotcoco.COCO(gt)
        coco_dt = coco_gt.loadRes(dets if len(dets) else [])
        evaluator = hotcoco.COCOeval(coco_gt, coco_dt, 'bbox')
        _set_params(evaluator.params, **params_kw)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return (evaluator.stats, evaluator.eval,
            list(evaluator.params.maxDets))


def evaluate_coco_bbox(gt: dict,
                       dets: np.ndarray,
                       backend: str = 'pycocotools',
                       cat_ids: Optional[Sequence[int]] = None,
                       img_ids: Optional[Sequence[int]] = None,
                       max_dets: Optional[Sequence[int]] = None,
                       iou_thrs: Optional[Sequence[float]] = None
                       ) -> CocoEvalResult:
    """COCO bbox evaluation of ``dets`` against ``gt`` on one backend.

    Args:
        gt (dict): COCO ground truth (``images``, ``annotations``,
            ``categories``); not modified.
        dets (np.ndarray): ``(N, 7)`` detections, see
            :func:`detections_array`. Every image id must be in ``gt``.
        backend (str): One of :data:`COCO_BACKENDS`.
        cat_ids (Sequence[int], optional): Categories to evaluate, in the
            order of the ``precision`` axis K (default: every category of
            ``gt``, sorted by id).
        img_ids (Sequence[int], optional): Images to evaluate (default: all).
        max_dets (Sequence[int], optional): The 3 max-detection settings
            (default: COCO's 1, 10, 100; mmdet's CocoMetric: 100, 300, 1000).
        iou_thrs (Sequence[float], optional): IoU thresholds (default:
            0.50:0.05:0.95).

    Returns:
        CocoEvalResult: ``stats``, ``precision``, ``recall``, ``max_dets``.
    """
    if backend not in COCO_BACKENDS:
        raise ValueError(f'unknown COCO evaluation backend {backend!r}; '
                         f'choose one of {COCO_BACKENDS}')
    dets = np.asarray(dets, dtype=np.float64).reshape(-1, 7)
    gt = coco_gt_dict(gt)
    params_kw = dict(
        cat_ids=cat_ids, img_ids=img_ids, max_dets=max_dets,
        iou_thrs=iou_thrs)
    run = _run_pycocotools if backend == 'pycocotools' else _run_hotcoco
    stats, ev, used_max_dets = run(gt, dets, params_kw)
    return CocoEvalResult(
        stats=np.asarray(stats, dtype=np.float64),
        precision=np.asarray(ev['precision'], dtype=np.float64),
        recall=np.asarray(ev['recall'], dtype=np.float64),
        max_dets=tuple(int(m) for m in used_max_dets))
