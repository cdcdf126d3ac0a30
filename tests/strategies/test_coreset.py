"""k-center greedy against a brute-force greedy over the full distance matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from albench.strategies.base import Scan
from albench.strategies.coreset import CoresetStrategy, k_center_greedy


def brute_force_greedy(features: np.ndarray, centers: np.ndarray, budget: int) -> list[int]:
    everything = np.concatenate([centers, features]).astype(np.float64)
    dist = np.linalg.norm(everything[:, None, :] - everything[None, :, :], axis=2)
    chosen = list(range(len(centers)))
    picks = []
    for _ in range(budget):
        nearest = dist[len(centers) :, chosen].min(axis=1)
        nearest[[p for p in picks]] = -1
        best = int(np.argmax(nearest))
        picks.append(best)
        chosen.append(len(centers) + best)
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_elements", [7, 1 << 24])  # tiny chunks and one chunk
def test_k_center_greedy_matches_brute_force(seed, max_elements):
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(60, 5)).astype(np.float32)
    centers = rng.normal(size=(9, 5)).astype(np.float32)
    ours = k_center_greedy(torch.from_numpy(feats), torch.from_numpy(centers), 12, max_elements)
    assert ours.tolist() == brute_force_greedy(feats, centers, 12)


def test_k_center_greedy_never_repeats_among_duplicates():
    feats = torch.zeros(5, 3)  # all candidates identical and equal to the centre
    picks = k_center_greedy(feats, torch.zeros(1, 3), 5)
    assert sorted(picks.tolist()) == [0, 1, 2, 3, 4]


def test_k_center_greedy_rejects_budget_above_candidates():
    with pytest.raises(ValueError):
        k_center_greedy(torch.zeros(3, 2), torch.zeros(1, 2), 4)


def test_coreset_select_maps_scan_order_to_pool_indices():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(30, 4)).astype(np.float32)
    centers = rng.normal(size=(5, 4)).astype(np.float32)
    candidates = rng.permutation(1000)[:30]  # pool indices in a scan order unlike pool order
    scan = Scan(
        candidates=candidates,
        stats={"embedding": torch.from_numpy(feats)},
        labeled=np.arange(5),
        labeled_stats={"embedding": torch.from_numpy(centers)},
    )
    picked = CoresetStrategy().select(scan, 6, rng)
    assert picked.tolist() == candidates[brute_force_greedy(feats, centers, 6)].tolist()
