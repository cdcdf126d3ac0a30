"""k-means sampling against brute-force NumPy: D^2 seeding with the same draws, Lloyd's
iterations from the same seeds, the member nearest each centroid; separated blobs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from albench.contracts import Scan
from albench.strategies.kmeans import (
    KMeansStrategy,
    d2_seeding,
    kmeans_select,
    lloyd,
    nearest_members,
)


def numpy_seeding(x: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    picks = [int(rng.integers(len(x)))]
    d2 = ((x - x[picks[0]]) ** 2).sum(axis=1)
    d2[picks[0]] = 0
    for _ in range(1, k):
        cum = np.cumsum(d2)
        i = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
        picks.append(i)
        d2 = np.minimum(d2, ((x - x[i]) ** 2).sum(axis=1))
        d2[i] = 0
    return picks


def numpy_lloyd(x: np.ndarray, c: np.ndarray, iters: int) -> tuple[np.ndarray, np.ndarray]:
    c = c.copy()
    assign = ((x[:, None] - c[None]) ** 2).sum(axis=2).argmin(axis=1)
    for _ in range(iters):
        for j in range(len(c)):
            if (assign == j).any():
                c[j] = x[assign == j].mean(axis=0)
        new = ((x[:, None] - c[None]) ** 2).sum(axis=2).argmin(axis=1)
        if (new == assign).all():
            break
        assign = new
    return c, assign


def brute_force_check(x: np.ndarray, picks: list[int], rng: np.random.Generator) -> None:
    """The same seeds, the same clusters, and per cluster a member at the smallest distance
    to its centroid (exact ties, e.g. a cluster of two, may go either way)."""
    k = len(picks)
    seeds = numpy_seeding(x, k, rng)
    c, assign = numpy_lloyd(x, x[seeds], 100)
    for j, pick in enumerate(picks):
        members = np.flatnonzero(assign == j)
        d = ((x[members] - c[j]) ** 2).sum(axis=1)
        assert pick in members.tolist()
        assert ((x[pick] - c[j]) ** 2).sum() <= d.min() + 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_select_equals_brute_force(seed):
    x = np.random.default_rng(seed).normal(size=(80, 5))
    ours = kmeans_select(torch.from_numpy(x), 7, np.random.default_rng(seed))
    brute_force_check(x, ours.tolist(), np.random.default_rng(seed))


@pytest.mark.parametrize("max_elements", [3, 1 << 24])  # one centroid per block, one block
def test_lloyd_equals_numpy(max_elements):
    x = np.random.default_rng(5).normal(size=(50, 4))
    init = x[[0, 10, 20, 30]]
    c, assign = lloyd(torch.from_numpy(x), torch.from_numpy(init), 50, max_elements)
    ref_c, ref_assign = numpy_lloyd(x, init, 50)
    np.testing.assert_allclose(c.numpy(), ref_c, atol=1e-10)
    assert assign.tolist() == ref_assign.tolist()


def test_seeding_matches_numpy_and_never_repeats():
    x = np.random.default_rng(1).normal(size=(30, 3))
    xt = torch.from_numpy(x)

    def distance_to(i):
        return ((xt - xt[i]) ** 2).sum(dim=1)

    rng = np.random.default_rng(4)
    first = int(rng.integers(30))
    ours = d2_seeding(distance_to, 30, 10, first, rng)
    assert ours.tolist() == numpy_seeding(x, 10, np.random.default_rng(4))
    dup = torch.zeros(5, 2)
    picks = d2_seeding(lambda i: ((dup - dup[i]) ** 2).sum(1), 5, 5, 0, np.random.default_rng(0))
    assert sorted(picks.tolist()) == [0, 1, 2, 3, 4]  # all duplicates: uniform among the rest


def test_one_pick_per_separated_blob_nearest_its_mean():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [50.0, 0.0], [0.0, 50.0]])
    x = np.concatenate([c + rng.normal(size=(20, 2)) for c in centres])  # blob b: rows 20b..
    picks = kmeans_select(torch.from_numpy(x), 3, np.random.default_rng(1))
    for b in range(3):
        blob = x[20 * b : 20 * (b + 1)]
        nearest = 20 * b + int(np.argmin(((blob - blob.mean(axis=0)) ** 2).sum(axis=1)))
        assert nearest in picks.tolist()


def test_empty_clusters_take_the_nearest_unpicked_candidate():
    x = torch.tensor([[0.0], [1.0], [10.0]], dtype=torch.float64)
    centroids = torch.tensor([[0.4], [0.6], [10.0]], dtype=torch.float64)
    assign = torch.tensor([0, 0, 2])  # cluster 1 has no member
    picks = nearest_members(x, centroids, assign)
    assert picks.tolist() == [0, 1, 2]


def test_strategy_maps_scan_order_to_pool_indices():
    x = np.random.default_rng(0).normal(size=(25, 3)).astype(np.float32)
    candidates = np.random.default_rng(1).permutation(300)[:25]
    scan = Scan(candidates=candidates, stats={"embedding": torch.from_numpy(x)})
    picked = KMeansStrategy().select(scan, 4, np.random.default_rng(2))
    positions = kmeans_select(torch.from_numpy(x), 4, np.random.default_rng(2))
    assert picked.tolist() == candidates[positions].tolist() and len(set(picked)) == 4
