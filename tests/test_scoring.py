"""Ranking accuracy (O(n log n)) against the O(n^2) definition, and the correlations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from albench.scoring import ranking_accuracy, score_quality


def pairwise_ranking_accuracy(score, loss) -> float:
    good = total = 0.0
    for i, j in itertools.combinations(range(len(score)), 2):
        if loss[i] == loss[j]:
            continue
        total += 1
        if score[i] == score[j]:
            good += 0.5
        elif (score[i] > score[j]) == (loss[i] > loss[j]):
            good += 1
    return good / total


@pytest.mark.parametrize("seed", range(5))
def test_ranking_accuracy_matches_the_pairwise_count(seed):
    rng = np.random.default_rng(seed)
    loss = rng.integers(0, 6, size=80).astype(float)  # many ties in the true loss
    score = np.round(loss + rng.normal(scale=2.0, size=80))  # and in the score
    assert ranking_accuracy(score, loss) == pytest.approx(
        pairwise_ranking_accuracy(score, loss), abs=1e-12
    )


def test_ranking_accuracy_extremes():
    loss = np.arange(10.0)
    assert ranking_accuracy(loss * 3, loss) == pytest.approx(1.0)
    assert ranking_accuracy(-loss, loss) == pytest.approx(0.0)
    assert ranking_accuracy(np.ones(10), loss) == 0.5
    assert math.isnan(ranking_accuracy(loss, np.ones(10)))


def test_ranking_accuracy_is_fast_on_a_test_set():
    rng = np.random.default_rng(0)
    x = rng.normal(size=10_000)
    value = ranking_accuracy(x + rng.normal(size=10_000), x)  # 5e7 pairs, no O(n^2) loop
    assert 0.7 < value < 0.8


def test_score_quality_reports_the_three_statistics():
    rng = np.random.default_rng(1)
    loss = rng.exponential(size=200)
    score = loss + rng.normal(scale=0.5, size=200)
    q = score_quality(score, loss)
    assert q["pearson"] == pytest.approx(stats.pearsonr(score, loss).statistic)
    assert q["spearman"] == pytest.approx(stats.spearmanr(score, loss).statistic)
    assert q["rank_acc"] == pytest.approx(pairwise_ranking_accuracy(score, loss))
