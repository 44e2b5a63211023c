# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Image-level OK/NG verdicts from detections, and their calibration.

An image's *defect score* is the highest score among its detections (0 when
there is none). The image is NG (defective) when its defect score is at or
above a threshold, else OK. The threshold is chosen on a validation set by
:func:`calibrate_threshold` (``tools/analysis_tools/calibrate_threshold.py``)
and written to a small JSON file (:class:`OKNGThreshold`) that the
inferencer and the web demo read: by default
``<checkpoint without .pth>.okng.json`` next to the checkpoint
(:func:`default_threshold_file`).
"""
import json
import math
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

#: Suffix of the threshold file next to a checkpoint.
THRESHOLD_SUFFIX = '.okng.json'
#: Calibration methods of :func:`calibrate_threshold`.
METHODS = ('f1', 'recall')
OK, NG = 'OK', 'NG'


def default_threshold_file(weights: str) -> str:
    """Where the threshold of a checkpoint lives by default.

    Args:
        weights (str): The checkpoint path, e.g. ``work_dirs/x/epoch_40.pth``.

    Returns:
        str: ``work_dirs/x/epoch_40.okng.json``.
    """
    return osp.splitext(weights)[0] + THRESHOLD_SUFFIX


def image_defect_score(scores: Sequence[float]) -> float:
    """Defect score of one image: its highest detection score, 0 if none.

    Args:
        scores (Sequence[float]): (N,) detection scores of the image.

    Returns:
        float: ``max(scores)``, or 0.0 for ``N = 0``.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    return float(scores.max()) if scores.size else 0.0


def verdict(defect_score: float, threshold: float) -> str:
    """``'NG'`` if ``defect_score >= threshold`` else ``'OK'``."""
    return NG if defect_score >= threshold else OK


def _check_scores_labels(scores: Sequence[float],
                         labels: Sequence[bool]) -> tuple:
    """(N,) float64 scores and (N,) bool labels, checked."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if scores.shape != labels.shape:
        raise ValueError(f'{scores.size} scores for {labels.size} labels')
    if scores.size == 0:
        raise ValueError('no images to compute image-level metrics on')
    if not np.isfinite(scores).all():
        raise ValueError('image scores must be finite')
    return scores, labels.astype(bool)


def binary_metrics(scores: Sequence[float], labels: Sequence[bool],
                   threshold: float) -> Dict[str, float]:
    """Image-level confusion counts and precision / recall / F1.

    NG (positive) is predicted when ``score >= threshold``; a label is True
    for a defective image.

    Args:
        scores (Sequence[float]): (N,) image defect scores.
        labels (Sequence[bool]): (N,) True for defective images.
        threshold (float): The decision threshold.

    Returns:
        dict: ``tp``, ``fp``, ``fn``, ``tn`` (ints), ``precision``,
        ``recall``, ``f1`` and ``accuracy``; a ratio whose denominator is 0
        is 0.0 (precision with no NG prediction, recall with no defective
        image).
    """
    scores, labels = _check_scores_labels(scores, labels)
    pred = scores >= threshold
    tp = int(np.sum(pred & labels))
    fp = int(np.sum(pred & ~labels))
    fn = int(np.sum(~pred & labels))
    tn = int(np.sum(~pred & ~labels))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = (2 * precision * recall / (precision + recall)
          if precision + recall else 0.0)
    return dict(
        tp=tp, fp=fp, fn=fn, tn=tn, precision=precision, recall=recall,
        f1=f1, accuracy=(tp + tn) / scores.size)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> Optional[float]:
    """Area under the ROC curve of image defect scores.

    The probability that a defective image scores higher than a defect-free
    one, ties counting one half (the Mann-Whitney U statistic divided by
    ``n_pos * n_neg``).

    Args:
        scores (Sequence[float]): (N,) image defect scores.
        labels (Sequence[bool]): (N,) True for defective images.

    Returns:
        float or None: The AUROC, None when one class is absent.
    """
    scores, labels = _check_scores_labels(scores, labels)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    # average ranks (1-based) with ties sharing the mean of their ranks
    order = np.argsort(scores, kind='mergesort')
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    start = 0
    while start < scores.size:
        stop = start
        while (stop + 1 < scores.size
               and sorted_scores[stop + 1] == sorted_scores[start]):
            stop += 1
        ranks[order[start:stop + 1]] = (start + stop) / 2 + 1
        start = stop + 1
    u_stat = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u_stat / (n_pos * n_neg))


def calibrate_threshold(scores: Sequence[float],
                        labels: Sequence[bool],
                        method: str = 'f1',
                        target_recall: Optional[float] = None) -> float:
    """Choose the OK/NG threshold on a validation set.

    Candidate thresholds are the distinct image scores (a threshold between
    two consecutive scores classifies like the upper one).

    - ``'f1'``: the candidate with the highest image-level F1 (ties: the
      highest threshold, i.e. the fewest false alarms);
    - ``'recall'``: the highest candidate whose recall is at least
      ``target_recall`` (the fewest false alarms that still catch that
      share of the defective images).

    Args:
        scores (Sequence[float]): (N,) image defect scores.
        labels (Sequence[bool]): (N,) True for defective images.
        method (str): ``'f1'`` or ``'recall'``.
        target_recall (float, optional): In (0, 1], for ``'recall'``.

    Returns:
        float: The threshold (one of the scores).

    Raises:
        ValueError: Unknown method, missing/invalid target recall, or no
            defective image in the set.
    """
    scores, labels = _check_scores_labels(scores, labels)
    if method not in METHODS:
        raise ValueError(f'unknown calibration method {method!r}; expected '
                         f'one of {METHODS}')
    if not labels.any():
        raise ValueError('the calibration set has no defective image: '
                         'recall and F1 are undefined')
    # NG iff score >= t: cumulative counts over the scores sorted downwards,
    # read at the last image of each distinct score
    order = np.argsort(-scores, kind='mergesort')
    sorted_scores, sorted_labels = scores[order], labels[order]
    last = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    candidates = sorted_scores[last]  # distinct scores, highest first
    tp = np.cumsum(sorted_labels)[last]
    fp = np.cumsum(~sorted_labels)[last]
    recall = tp / labels.sum()
    if method == 'recall':
        if target_recall is None or not 0 < target_recall <= 1:
            raise ValueError('method="recall" needs target_recall in (0, 1], '
                             f'got {target_recall}')
        # recall grows as the threshold falls: the first reaching the target
        # (1e-12: a target written as 0.9 must accept 9/10)
        reached = np.nonzero(recall >= target_recall - 1e-12)[0]
        return float(candidates[reached[0]])
    precision = tp / np.maximum(tp + fp, 1)
    with np.errstate(invalid='ignore', divide='ignore'):
        f1 = np.where(precision + recall > 0,
                      2 * precision * recall / (precision + recall), 0.0)
    return float(candidates[int(np.argmax(f1))])  # argmax: first = highest


@dataclass
class OKNGThreshold:
    """The OK/NG decision threshold and how it was chosen.

    Attributes:
        threshold (float): NG when an image's defect score is >= this.
        method (str): ``'f1'``, ``'recall'`` or ``'manual'``.
        target_recall (float, optional): For ``'recall'``.
        metrics (dict): Image-level metrics on the calibration set
            (precision, recall, f1, auroc, counts).
        vocabulary (list[list[str]], optional): The prompts the scores were
            computed with; the score scale depends on them.
        exemplars (dict[str, str], optional): ``{class: use}`` of the
            classes that read an exemplar file (``'exemplars'`` or
            ``'both'``), None without one.
        source (dict): Where the calibration came from (config,
            checkpoint, annotation file, number of images).
    """
    threshold: float
    method: str = 'manual'
    target_recall: Optional[float] = None
    metrics: Dict[str, float] = field(default_factory=dict)
    vocabulary: Optional[List[List[str]]] = None
    exemplars: Optional[Dict[str, str]] = None
    source: Dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.threshold, (int, float)) or not math.isfinite(
                self.threshold):
            raise ValueError(
                f'OK/NG threshold must be a finite number, got '
                f'{self.threshold!r}')
        self.threshold = float(self.threshold)

    def verdict(self, defect_score: float) -> str:
        """``'NG'`` or ``'OK'`` for an image defect score."""
        return verdict(defect_score, self.threshold)

    def dump(self, path: str) -> None:
        """Write the JSON file (creating its directory)."""
        folder = osp.dirname(osp.abspath(path))
        os.makedirs(folder, exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(asdict(self), f, indent=2)
            f.write('\n')

    @classmethod
    def load(cls, path: str) -> 'OKNGThreshold':
        """Read a file written by :meth:`dump`.

        Raises:
            FileNotFoundError: No such file.
            ValueError: Not valid JSON or no numeric ``threshold``.
        """
        if not osp.isfile(path):
            raise FileNotFoundError(f'OK/NG threshold file {path} does not '
                                    'exist (write it with tools/'
                                    'analysis_tools/calibrate_threshold.py)')
        with open(path, encoding='utf-8') as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}: not valid JSON ({err})') from err
        if not isinstance(data, dict) or 'threshold' not in data:
            raise ValueError(f'{path}: expected an object with a "threshold"')
        known = {k: v for k, v in data.items()
                 if k in cls.__dataclass_fields__}
        try:
            return cls(**known)
        except ValueError as err:
            raise ValueError(f'{path}: {err}') from err
