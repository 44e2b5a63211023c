# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""One class embedding from several exemplars, with outliers reported.

A plain mean lets one wrong box (another defect, background, a box drawn on
the wrong image) drag the class embedding away. Here each exemplar is
compared with the mean of the *others* (leave-one-out cosine); with three
or more exemplars an exemplar is an outlier when that cosine is

- below ``min_cosine`` (it does not look like the rest at all), or
- (four or more exemplars) far below the others' cosines: more than
  ``mad_z`` robust z-scores (median absolute deviation, scaled by 1.4826)
  and at least ``min_gap`` below their median.

Outliers are excluded and reported (record, cosine); the inliers are
averaged and L2-normalised. Outliers are only excluded when a strict
majority stays; otherwise every exemplar is kept and the disagreement is
reported. With two exemplars there is no majority: a cosine between them
below ``min_cosine`` is reported as a disagreement and both are averaged.
A ``tuned`` entry is a learned class embedding and is used as it is.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .embeddings_file import EXEMPLAR, TUNED, PromptEmbeddings

#: Leave-one-out cosine below which an exemplar is an outlier.
MIN_COSINE = 0.3
#: Robust z-score (MAD rule) above which an exemplar is an outlier.
MAD_Z = 3.5
#: ... provided it is at least this far below the median cosine.
MIN_GAP = 0.1


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x / ||x||`` along ``axis`` in float32 (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.where(norm == 0, 1, norm)).astype(np.float32)


@dataclass
class ClassAggregate:
    """A class's embedding from the file, and how it was made.

    Attributes:
        class_name (str): The class.
        embedding (np.ndarray): (D,) unit embedding.
        kind (str): ``'exemplar'`` or ``'tuned'``.
        inliers (list[int]): File rows averaged (or the tuned row).
        outliers (list[tuple[int, float]]): Excluded rows and their
            leave-one-out cosine.
        loo_cosines (list[float]): Leave-one-out cosine of every exemplar
            row of the class (same order as its rows; empty below three).
        warnings (list[str]): Disagreements that were not resolved, and
            rows not used.
    """
    class_name: str
    embedding: np.ndarray
    kind: str
    inliers: List[int]
    outliers: List[Tuple[int, float]] = field(default_factory=list)
    loo_cosines: List[float] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


def leave_one_out_cosines(embeds: np.ndarray) -> np.ndarray:
    """Cosine of each row with the normalised mean of the other rows.

    Args:
        embeds (np.ndarray): (n, D) unit rows, n >= 2.

    Returns:
        np.ndarray: (n,) cosines.
    """
    embeds = l2_normalize(embeds).astype(np.float64)
    others = embeds.sum(axis=0, keepdims=True) - embeds  # (n, D)
    return np.sum(embeds * l2_normalize(others), axis=1)


def find_outliers(cosines: np.ndarray,
                  min_cosine: float = MIN_COSINE,
                  mad_z: float = MAD_Z,
                  min_gap: float = MIN_GAP) -> np.ndarray:
    """Which leave-one-out cosines mark an outlier (see the module doc).

    Args:
        cosines (np.ndarray): (n,) leave-one-out cosines, n >= 3.
        min_cosine (float): Absolute floor.
        mad_z (float): Robust z-score limit (n >= 4).
        min_gap (float): Least distance below the median for the MAD rule.

    Returns:
        np.ndarray: (n,) bool.
    """
    outlier = cosines < min_cosine
    if len(cosines) >= 4:
        median = np.median(cosines)
        mad = 1.4826 * np.median(np.abs(cosines - median))
        gap = median - cosines
        outlier |= (gap >= min_gap) & (gap > mad_z * mad)
    return outlier


def aggregate_exemplars(embeds: np.ndarray,
                        rows: Sequence[int],
                        class_name: str = '',
                        min_cosine: float = MIN_COSINE,
                        mad_z: float = MAD_Z,
                        min_gap: float = MIN_GAP) -> ClassAggregate:
    """Robust mean of one class's exemplar embeddings.

    Args:
        embeds (np.ndarray): (n, D) exemplar embeddings of the class.
        rows (Sequence[int]): Their n row numbers in the file (reported).
        class_name (str): The class (reported).
        min_cosine (float): See :func:`find_outliers`.
        mad_z (float): See :func:`find_outliers`.
        min_gap (float): See :func:`find_outliers`.

    Returns:
        ClassAggregate: The (D,) unit embedding and the report.
    """
    embeds = l2_normalize(embeds)
    rows = list(rows)
    if len(rows) != len(embeds) or not rows:
        raise ValueError(f'class {class_name!r}: {len(embeds)} embeddings '
                         f'for {len(rows)} rows')
    result = ClassAggregate(class_name, embeds[0], EXEMPLAR, rows)
    if len(rows) == 2:
        cos = float(np.dot(embeds[0], embeds[1]))
        if cos < min_cosine:
            result.warnings.append(
                f'class {class_name!r}: its 2 exemplars (records {rows}) '
                f'disagree (cosine {cos:.2f} < {min_cosine}); both averaged, '
                'add a third exemplar to decide')
    elif len(rows) >= 3:
        cosines = leave_one_out_cosines(embeds)
        result.loo_cosines = [float(c) for c in cosines]
        outlier = find_outliers(cosines, min_cosine, mad_z, min_gap)
        if outlier.any() and (~outlier).sum() > outlier.sum():
            result.inliers = [r for r, o in zip(rows, outlier) if not o]
            result.outliers = [(r, float(c))
                               for r, c, o in zip(rows, cosines, outlier)
                               if o]
            embeds = embeds[~outlier]
        elif outlier.any():
            result.warnings.append(
                f'class {class_name!r}: its exemplars disagree with no '
                f'majority (leave-one-out cosines '
                f'{np.round(cosines, 2).tolist()} for records {rows}); all '
                'averaged')
    result.embedding = l2_normalize(embeds.mean(axis=0))
    return result


def aggregate_class(prompts: PromptEmbeddings,
                    class_name: str,
                    min_cosine: float = MIN_COSINE,
                    mad_z: float = MAD_Z,
                    min_gap: float = MIN_GAP) -> Optional[ClassAggregate]:
    """A class's embedding from a prompt-embeddings file.

    A ``tuned`` entry is used as it is (the class's exemplar rows, if any,
    are then reported as not used); otherwise the exemplars are aggregated
    with :func:`aggregate_exemplars`.

    Args:
        prompts (PromptEmbeddings): The file.
        class_name (str): The class.
        min_cosine, mad_z, min_gap: See :func:`find_outliers`.

    Returns:
        ClassAggregate or None: None when the file has no entry of the
        class.

    Raises:
        ValueError: Several tuned entries for the class (which one is
            meant is unknown).
    """
    rows = prompts.rows_of(class_name)
    if not rows:
        return None
    tuned = [r for r in rows if prompts.records[r].kind == TUNED]
    exemplars = [r for r in rows if prompts.records[r].kind == EXEMPLAR]
    where = prompts.path or '<prompt embeddings>'
    if len(tuned) > 1:
        raise ValueError(f'{where}: class {class_name!r} has {len(tuned)} '
                         f'tuned embeddings (records {tuned}); keep one')
    if tuned:
        result = ClassAggregate(class_name,
                                l2_normalize(prompts.embeddings[tuned[0]]),
                                TUNED, tuned)
        if exemplars:
            result.warnings.append(
                f'class {class_name!r}: the tuned embedding (record '
                f'{tuned[0]}) is used; its exemplar records {exemplars} are '
                'not')
        return result
    return aggregate_exemplars(prompts.embeddings[exemplars], exemplars,
                               class_name, min_cosine, mad_z, min_gap)
