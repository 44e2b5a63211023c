# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Score filtering and NMS of exported detectors, in numpy.

The exported graphs stop at decoded boxes and sigmoid scores
(:class:`~mmioc_rtvp.deploy.ExportableDetector`); this module does the rest
of mmyolo's ``YOLOv5Head.predict_by_feat`` for one image, with the same
rules and the same order of operations, so that a runner needs neither
torch nor mmcv:

1. keep (prior, class) pairs whose score exceeds ``score_thr``, the
   ``nms_pre`` best of them (``multi_label=True``; with ``False`` only the
   best class of each prior competes), as mmdet's
   ``filter_scores_and_topk``;
2. map boxes to the original image (``pad_param``, ``scale_factor``);
3. drop boxes not wider and taller than ``min_bbox_size`` (if given),
   class-aware greedy NMS (mmcv's ``batched_nms`` with ``nms`` /
   ``iou_threshold``: IoU strictly above the threshold suppresses, classes
   separated by coordinate offsets below 10000 boxes and one class at a time
   above), keep the ``max_per_img`` best;
4. clip boxes to the original image.
"""
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

#: mmcv's batched_nms switches from coordinate offsets to a loop over the
#: classes at this many boxes.
SPLIT_THR = 10000


def filter_scores_and_topk(scores: np.ndarray, score_thr: float,
                           topk: int) -> Tuple[np.ndarray, np.ndarray,
                                               np.ndarray]:
    """The ``topk`` best (prior, class) scores above a threshold.

    Args:
        scores (np.ndarray): (N, K) scores.
        score_thr (float): Keep scores strictly above it.
        topk (int): At most this many pairs.

    Returns:
        tuple[np.ndarray]: scores (M,), labels (M,) and prior indices (M,),
        by decreasing score.
    """
    prior_idx, labels = np.nonzero(scores > score_thr)
    kept = scores[prior_idx, labels]
    order = np.argsort(-kept, kind='stable')[:topk]
    return kept[order], labels[order], prior_idx[order]


def nms(boxes: np.ndarray, scores: np.ndarray,
        iou_threshold: float) -> np.ndarray:
    """Greedy NMS (mmcv's CPU ``nms`` rule, float32 arithmetic).

    Args:
        boxes (np.ndarray): (M, 4) xyxy.
        scores (np.ndarray): (M,).
        iou_threshold (float): A box whose IoU with a kept, higher-scoring
            box is strictly greater is suppressed.

    Returns:
        np.ndarray: Indices of the kept boxes, by decreasing score.
    """
    boxes = boxes.astype(np.float32, copy=False)
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind='stable')
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[pos + 1:]
        rest = rest[~suppressed[rest]]
        w = np.maximum(
            np.float32(0),
            np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(
            np.float32(0),
            np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest[iou > np.float32(iou_threshold)]] = True
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray,
                scores: np.ndarray,
                labels: np.ndarray,
                iou_threshold: float,
                class_agnostic: bool = False) -> np.ndarray:
    """NMS within each class (mmcv's ``batched_nms`` rules).

    Args:
        boxes (np.ndarray): (M, 4) xyxy.
        scores (np.ndarray): (M,).
        labels (np.ndarray): (M,) class indices.
        iou_threshold (float): See :func:`nms`.
        class_agnostic (bool): One NMS over all classes.

    Returns:
        np.ndarray: Kept indices, by decreasing score.
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    boxes = boxes.astype(np.float32, copy=False)
    if class_agnostic:
        keep = nms(boxes, scores, iou_threshold)
    elif len(boxes) < SPLIT_THR:
        offsets = labels.astype(np.float32) * (boxes.max() + np.float32(1))
        keep = nms(boxes + offsets[:, None], scores, iou_threshold)
    else:
        keep = np.concatenate([
            np.flatnonzero(labels == c)[nms(boxes[labels == c],
                                            scores[labels == c],
                                            iou_threshold)]
            for c in np.unique(labels)
        ])
    return keep[np.argsort(-scores[keep], kind='stable')]


def postprocess_detections(boxes: np.ndarray,
                           scores: np.ndarray,
                           test_cfg: Mapping,
                           img_meta: Optional[Mapping] = None
                           ) -> Dict[str, np.ndarray]:
    """Detections of one image from its decoded boxes and scores.

    Args:
        boxes (np.ndarray): (N, 4) xyxy in input-tensor pixels.
        scores (np.ndarray): (N, K) sigmoid scores.
        test_cfg (Mapping): The model's ``test_cfg``: ``score_thr``,
            ``nms_pre``, ``multi_label``, ``nms`` (``iou_threshold``,
            optional ``class_agnostic``), ``max_per_img``, optional
            ``min_bbox_size``. ``nms=None`` skips NMS.
        img_meta (Mapping, optional): ``ori_shape`` (h, w),
            ``scale_factor`` (w, h) and optional ``pad_param`` (top, bottom,
            left, right) of the test pipeline; None keeps input-tensor
            coordinates and does not clip.

    Returns:
        dict[str, np.ndarray]: ``bboxes`` (M, 4) float32, ``scores`` (M,)
        float32 and ``labels`` (M,) int64, by decreasing score.
    """
    if boxes.ndim != 2 or scores.ndim != 2 or boxes.shape[0] != \
            scores.shape[0] or boxes.shape[1] != 4:
        raise ValueError(f'expected boxes (N, 4) and scores (N, K), got '
                         f'{boxes.shape} and {scores.shape}')
    score_thr = float(test_cfg.get('score_thr', -1))
    nms_pre = int(test_cfg.get('nms_pre', 100000))
    if test_cfg.get('multi_label', True) and scores.shape[1] > 1:
        kept, labels, idx = filter_scores_and_topk(scores, score_thr, nms_pre)
    else:
        best = scores.argmax(1)
        kept, _, idx = filter_scores_and_topk(
            scores.max(1, keepdims=True), score_thr, nms_pre)
        labels = best[idx]
    bboxes = boxes[idx].astype(np.float32)
    if img_meta is not None:
        pad = img_meta.get('pad_param')
        if pad is not None:
            bboxes = bboxes - np.asarray([pad[2], pad[0], pad[2], pad[0]],
                                         dtype=np.float32)
        sw, sh = _scale_factor(img_meta.get('scale_factor', (1.0, 1.0)))
        bboxes = bboxes / np.asarray([sw, sh, sw, sh], dtype=np.float32)
    min_size = test_cfg.get('min_bbox_size', -1)
    if min_size is not None and min_size >= 0:
        w = bboxes[:, 2] - bboxes[:, 0]
        h = bboxes[:, 3] - bboxes[:, 1]
        valid = (w > min_size) & (h > min_size)
        bboxes, kept, labels = bboxes[valid], kept[valid], labels[valid]
    nms_cfg = test_cfg.get('nms')
    if nms_cfg is not None and len(bboxes):
        keep = batched_nms(bboxes, kept, labels,
                           float(nms_cfg['iou_threshold']),
                           bool(nms_cfg.get('class_agnostic', False)))
        bboxes, kept, labels = bboxes[keep], kept[keep], labels[keep]
    max_per_img = test_cfg.get('max_per_img')
    if max_per_img is not None:
        bboxes, kept, labels = (bboxes[:max_per_img], kept[:max_per_img],
                                labels[:max_per_img])
    if img_meta is not None and 'ori_shape' in img_meta:
        h, w = img_meta['ori_shape'][:2]
        bboxes = bboxes.copy()
        bboxes[:, 0::2] = bboxes[:, 0::2].clip(0, w)
        bboxes[:, 1::2] = bboxes[:, 1::2].clip(0, h)
    return dict(
        bboxes=bboxes.astype(np.float32),
        scores=kept.astype(np.float32),
        labels=labels.astype(np.int64))


def _scale_factor(scale_factor: Sequence[float]) -> Tuple[float, float]:
    """(w, h) of a scale factor given as one number or a pair."""
    if np.ndim(scale_factor) == 0:
        return float(scale_factor), float(scale_factor)
    return float(scale_factor[0]), float(scale_factor[1])
