"""Top-K selection, random sampling, and the scan-order -> pool-index mapping."""

from __future__ import annotations

import numpy as np
import torch

from albench.strategies.base import Scan, top_k
from albench.strategies.entropy import EntropyStrategy
from albench.strategies.learn_loss import LearnLossStrategy
from albench.strategies.random import RandomStrategy


def test_top_k_takes_the_highest_scores_and_returns_pool_indices():
    candidates = np.array([40, 7, 93, 12, 5])  # scan order differs from pool order
    scores = torch.tensor([0.1, 0.9, 0.5, 0.7, 0.2])
    assert top_k(scores, candidates, 2).tolist() == [7, 12]  # highest first, not lowest


def test_top_k_ties_keep_scan_order():
    assert top_k(torch.tensor([1.0, 2.0, 2.0]), np.array([3, 1, 2]), 2).tolist() == [1, 2]


def test_entropy_and_learn_loss_select_their_own_statistic():
    candidates = np.array([10, 20, 30, 40])
    scan = Scan(
        candidates=candidates,
        stats={
            "entropy": torch.tensor([0.0, 3.0, 1.0, 2.0]),
            "predicted_loss": torch.tensor([5.0, -1.0, 0.0, 4.0]),
        },
    )
    rng = np.random.default_rng(0)
    assert EntropyStrategy().select(scan, 2, rng).tolist() == [20, 40]
    assert LearnLossStrategy().select(scan, 2, rng).tolist() == [10, 40]


def test_random_draws_without_replacement_from_candidates_only():
    labeled = np.arange(0, 100, 2)
    candidates = np.setdiff1d(np.arange(100), labeled)  # the unlabeled pool
    for seed in range(20):
        picks = RandomStrategy().select(
            Scan(candidates=candidates), 50, np.random.default_rng(seed)
        )
        assert len(set(picks.tolist())) == 50  # all of them, none twice
        assert not np.isin(picks, labeled).any()
