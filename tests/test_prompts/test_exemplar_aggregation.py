# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Robust aggregation of a class's exemplars; outliers are reported."""
import numpy as np
import pytest

from mmioc_rtvp.prompts import PromptEmbeddings, PromptRecord
from mmioc_rtvp.prompts.exemplar_aggregation import (aggregate_class,
                                                     aggregate_exemplars,
                                                     find_outliers,
                                                     leave_one_out_cosines,
                                                     l2_normalize)

D = 32


def cluster(n: int, spread: float, seed: int, centre=None) -> np.ndarray:
    """n unit vectors around a centre (cosine to it ~ 1 / sqrt(1 + s^2))."""
    rng = np.random.default_rng(seed)
    if centre is None:
        centre = l2_normalize(rng.normal(size=D))
    noise = rng.normal(size=(n, D)) / np.sqrt(D)
    return l2_normalize(centre[None] + spread * noise), centre


def test_leave_one_out_cosine_matches_its_definition():
    embeds, _ = cluster(4, 0.5, 0)
    expected = [
        float(embeds[i] @ l2_normalize(np.delete(embeds, i, 0).mean(0)))
        for i in range(4)
    ]
    assert np.allclose(leave_one_out_cosines(embeds), expected, atol=1e-6)


def test_an_outlier_is_excluded_and_reported():
    inliers, centre = cluster(5, 0.3, 1)
    stray = l2_normalize(np.random.default_rng(9).normal(size=(1, D)))
    embeds = np.concatenate([inliers[:2], stray, inliers[2:]])
    rows = [10, 11, 12, 13, 14, 15]
    agg = aggregate_exemplars(embeds, rows, 'hole')
    assert agg.inliers == [10, 11, 13, 14, 15]
    assert [r for r, _ in agg.outliers] == [12]
    assert agg.outliers[0][1] == pytest.approx(agg.loo_cosines[2])
    assert agg.outliers[0][1] < 0.3 and min(
        np.delete(agg.loo_cosines, 2)) > 0.8
    # the result is the normalised mean of the inliers only, a unit vector
    assert agg.embedding.shape == (D, ) and agg.embedding.dtype == np.float32
    assert np.linalg.norm(agg.embedding) == pytest.approx(1, abs=1e-6)
    assert np.allclose(agg.embedding, l2_normalize(inliers.mean(0)),
                       atol=1e-6)
    # a plain mean would have been dragged towards the stray exemplar
    plain = l2_normalize(embeds.mean(0))
    assert float(agg.embedding @ centre) > float(plain @ centre)
    assert not agg.warnings


def test_the_mad_rule_catches_a_milder_outlier():
    # every cosine is above the absolute floor, one is far below the rest
    cosines = np.array([0.95, 0.96, 0.94, 0.95, 0.55])
    assert find_outliers(cosines, min_cosine=0.3).tolist() == [
        False, False, False, False, True]
    # a tight, agreeing set flags nothing (the gap rule guards a tiny MAD)
    assert not find_outliers(np.array([0.95, 0.951, 0.949, 0.93])).any()
    # three exemplars: only the absolute floor applies
    assert find_outliers(np.array([0.95, 0.96, 0.55])).tolist() == [
        False, False, False]


def test_two_exemplars_disagreeing_are_flagged_not_guessed():
    a, _ = cluster(1, 0.0, 2)
    b, _ = cluster(1, 0.0, 3)
    agg = aggregate_exemplars(np.concatenate([a, b]), [0, 1], 'pit')
    assert agg.inliers == [0, 1] and not agg.outliers
    assert len(agg.warnings) == 1 and "'pit'" in agg.warnings[0]
    assert 'disagree' in agg.warnings[0]
    assert np.allclose(agg.embedding, l2_normalize(a[0] + b[0]), atol=1e-6)
    # agreeing pair: no warning
    close, _ = cluster(2, 0.2, 4)
    assert not aggregate_exemplars(close, [0, 1]).warnings


def test_without_a_majority_nothing_is_excluded():
    embeds = l2_normalize(np.random.default_rng(5).normal(size=(3, D)))
    agg = aggregate_exemplars(embeds, [0, 1, 2], 'dent')
    assert agg.inliers == [0, 1, 2] and not agg.outliers
    assert 'no majority' in agg.warnings[0]


def test_a_single_exemplar_is_used_as_is():
    e, _ = cluster(1, 0.0, 6)
    agg = aggregate_exemplars(e * 3, [7])
    assert agg.inliers == [7] and np.allclose(agg.embedding, e[0], atol=1e-6)


def test_a_tuned_entry_is_used_as_is_and_wins_over_exemplars():
    embeds, _ = cluster(4, 0.3, 7)
    records = [PromptRecord('pit', 'exemplar', 'a.png', (0, 0, 4, 4))] * 2 \
        + [PromptRecord('pit', 'tuned'), PromptRecord('dent', 'tuned')]
    prompts = PromptEmbeddings(embeds, records, 'sha256:x')
    agg = aggregate_class(prompts, 'pit')
    assert agg.kind == 'tuned' and agg.inliers == [2]
    assert np.array_equal(agg.embedding, embeds[2])
    assert 'exemplar records [0, 1] are not' in agg.warnings[0]
    assert aggregate_class(prompts, 'scratch') is None
    twice = PromptEmbeddings(embeds[:2], [PromptRecord('pit', 'tuned')] * 2,
                             'sha256:x')
    with pytest.raises(ValueError, match=r'2 tuned embeddings \(records'):
        aggregate_class(twice, 'pit')
