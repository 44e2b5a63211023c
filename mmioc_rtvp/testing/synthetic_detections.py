# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Random COCO ground truth and detections, for evaluation tests/benchmarks.

Everything is drawn with numpy from one seed (vectorised: 1.5M detections in
a few seconds). The data exercise every branch of COCO evaluation: images
without boxes, crowd boxes, boxes of every area range, detections that
match a ground-truth box (jittered, sometimes with the wrong class), false
positives, and images with more detections than ``maxDets``.

Example::

    >>> from mmioc_rtvp.testing.synthetic_detections import (
    ...     random_coco_detections)
    >>> gt, dets = random_coco_detections(num_images=100, num_gt=300,
    ...                                   num_dets=3000)
"""
from typing import List, Sequence, Tuple

import numpy as np


def detection_list_to_array(dets: Sequence[dict]) -> np.ndarray:
    """``loadRes``-style detection dicts as one ``(N, 7)`` float64 array
    ``[image_id, x, y, w, h, score, category_id]``."""
    return np.array(
        [[d['image_id'], *d['bbox'], d['score'], d['category_id']]
         for d in dets],
        dtype=np.float64).reshape(-1, 7)


def _categories(num_classes: int, num_scenes: int,
                num_supercategories: int) -> List[dict]:
    """Categories with non-contiguous ids ``3 * k + 1`` and a hierarchy."""
    return [
        dict(
            id=3 * k + 1,
            name=f'class {k}',
            supercategory=f'supercategory {k % num_supercategories}',
            scene=f'scene {k % num_scenes}') for k in range(num_classes)
    ]


def _random_boxes(rng: np.random.Generator, sizes: np.ndarray,
                  n: int) -> np.ndarray:
    """``(n, 4)`` xywh boxes inside images of ``(n, 2)`` (w, h) sizes.

    Sides are log-uniform between 2 px and 60 % of the image side, so small
    (< 32^2), medium and large (> 96^2) boxes all occur.
    """
    w = np.exp(rng.uniform(np.log(2), np.log(0.6 * sizes[:, 0]), n))
    h = np.exp(rng.uniform(np.log(2), np.log(0.6 * sizes[:, 1]), n))
    x = rng.uniform(0, 1, n) * (sizes[:, 0] - w)
    y = rng.uniform(0, 1, n) * (sizes[:, 1] - h)
    return np.stack([x, y, w, h], axis=1)


def random_coco_detections(num_images: int = 1000,
                           num_gt: int = 3000,
                           num_dets: int = 30000,
                           num_classes: int = 20,
                           num_scenes: int = 5,
                           num_supercategories: int = 3,
                           empty_fraction: float = 0.1,
                           crowd_fraction: float = 0.05,
                           match_fraction: float = 0.7,
                           wrong_class_fraction: float = 0.1,
                           score_decimals: int = -1,
                           seed: int = 0) -> Tuple[dict, List[dict]]:
    """A random COCO ground-truth dict and a list of detections.

    Ground truth: ``num_gt`` boxes spread uniformly over the images that are
    not empty (an ``empty_fraction`` of the images has none), classes
    uniform, ``crowd_fraction`` of them ``iscrowd=1``; ``area = w * h``.
    Image ids are ``2 * i + 1`` (non-contiguous), category ids ``3 * k + 1``.

    Detections: each ground-truth box yields, with probability
    ``match_fraction``, one detection with its box jittered by up to ~30 % of
    its side (its class replaced by a random one with probability
    ``wrong_class_fraction``); the rest of the ``num_dets`` detections are
    random boxes of random classes on random images (empty images included).
    Scores are uniform in (0, 1); matched detections score higher on average.
    ``score_decimals >= 0`` rounds the scores, which creates ties.

    Args:
        num_images (int): Number of images ``N``.
        num_gt (int): Number of ground-truth boxes.
        num_dets (int): Number of detections (at least the matched ones).
        num_classes (int): Number of categories ``K``.
        num_scenes (int): Number of scenes (category attribute).
        num_supercategories (int): Number of supercategories.
        empty_fraction (float): Share of images without ground truth.
        crowd_fraction (float): Share of crowd ground-truth boxes.
        match_fraction (float): Share of ground-truth boxes detected.
        wrong_class_fraction (float): Share of matched detections with a
            wrong class.
        score_decimals (int): Round scores to this many decimals (< 0: no).
        seed (int): Seed of the generator.

    Returns:
        tuple[dict, list[dict]]: The COCO dict (``images``, ``annotations``,
        ``categories``) and the detections (``image_id``, ``category_id``,
        ``bbox`` xywh, ``score``), in the format of ``COCO.loadRes``.
    """
    rng = np.random.default_rng(seed)
    image_ids = 2 * np.arange(num_images, dtype=np.int64) + 1
    sizes = rng.integers(128, 1025, size=(num_images, 2))
    cats = _categories(num_classes, num_scenes, num_supercategories)
    cat_ids = np.array([c['id'] for c in cats], dtype=np.int64)

    non_empty = np.flatnonzero(rng.uniform(size=num_images) >= empty_fraction)
    if len(non_empty) == 0 and num_gt > 0:
        raise ValueError('every image is empty: lower empty_fraction')
    gt_img = rng.choice(non_empty, size=num_gt) if num_gt else np.zeros(
        0, dtype=np.int64)
    gt_img.sort()
    gt_cls = rng.integers(0, num_classes, size=num_gt)
    gt_box = _random_boxes(rng, sizes[gt_img], num_gt)
    gt_crowd = rng.uniform(size=num_gt) < crowd_fraction

    matched = np.flatnonzero(rng.uniform(size=num_gt) < match_fraction)
    jitter = rng.uniform(-0.3, 0.3, size=(len(matched), 4))
    m_box = gt_box[matched].copy()
    m_box[:, :2] += jitter[:, :2] * m_box[:, 2:]
    m_box[:, 2:] *= 1 + jitter[:, 2:]
    m_cls = gt_cls[matched].copy()
    wrong = rng.uniform(size=len(matched)) < wrong_class_fraction
    m_cls[wrong] = rng.integers(0, num_classes, size=int(wrong.sum()))
    m_score = rng.uniform(0.2, 1.0, size=len(matched))

    num_fp = max(num_dets - len(matched), 0)
    fp_img = rng.integers(0, num_images, size=num_fp)
    fp_box = _random_boxes(rng, sizes[fp_img], num_fp)
    fp_cls = rng.integers(0, num_classes, size=num_fp)
    fp_score = rng.uniform(0.0, 0.8, size=num_fp)

    dt_img = np.concatenate([gt_img[matched], fp_img])
    dt_box = np.concatenate([m_box, fp_box])
    dt_cls = np.concatenate([m_cls, fp_cls])
    dt_score = np.concatenate([m_score, fp_score])
    if score_decimals >= 0:
        dt_score = np.round(dt_score, score_decimals)
    order = rng.permutation(len(dt_img))

    images = [
        dict(id=int(i), width=int(w), height=int(h), file_name=f'{i}.jpg')
        for i, (w, h) in zip(image_ids.tolist(), sizes.tolist())
    ]
    annotations = [
        dict(
            id=a + 1,
            image_id=i,
            category_id=c,
            bbox=b,
            area=b[2] * b[3],
            iscrowd=int(z)) for a, (i, c, b, z) in enumerate(
                zip(image_ids[gt_img].tolist(), cat_ids[gt_cls].tolist(),
                    gt_box.tolist(), gt_crowd.tolist()))
    ]
    detections = [
        dict(image_id=i, category_id=c, bbox=b, score=s)
        for i, c, b, s in zip(image_ids[dt_img[order]].tolist(),
                              cat_ids[dt_cls[order]].tolist(),
                              dt_box[order].tolist(),
                              dt_score[order].tolist())
    ]
    gt = dict(images=images, annotations=annotations, categories=cats)
    return gt, detections
