"""BADGE against the explicit gradient embeddings: autograd, distances, and a NumPy
k-means++ over the (M, C x D) matrix with the same random draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from albench.contracts import Scan
from albench.strategies.badge import (
    BadgeStrategy,
    badge_select,
    gradient_embedding_parts,
    gradient_sq_distances,
)


def explicit_embeddings(logits: np.ndarray, emb: np.ndarray) -> np.ndarray:
    """(M, C x D): (p - onehot(argmax p)) outer h, flattened, in float64."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    a = p - np.eye(p.shape[1])[p.argmax(axis=1)]
    return (a[:, :, None] * emb[:, None, :]).reshape(len(a), -1)


def numpy_kmeans_pp(g: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Textbook k-means++ over explicit rows, BADGE's first pick (largest norm) and the same
    inverse-CDF draws as albench (u = rng.random(), first cumulative weight above u x total)."""
    picks = [int(np.argmax((g**2).sum(axis=1)))]
    d2 = ((g - g[picks[0]]) ** 2).sum(axis=1)
    d2[picks[0]] = 0
    for _ in range(1, k):
        cum = np.cumsum(d2)
        i = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
        picks.append(i)
        d2 = np.minimum(d2, ((g - g[i]) ** 2).sum(axis=1))
        d2[i] = 0
    return picks


def _data(m=40, c=4, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, c)) * 2, rng.normal(size=(m, d))


def test_the_factorised_embedding_is_the_last_layer_gradient_at_the_predicted_label():
    torch.manual_seed(0)
    linear = nn.Linear(5, 3)
    h = torch.randn(4, 5)
    logits = linear(h)
    a, hh = gradient_embedding_parts(logits.detach(), h)
    for i in range(4):
        linear.zero_grad()
        F.cross_entropy(linear(h[i : i + 1]), logits[i : i + 1].argmax(1)).backward()
        explicit = torch.outer(a[i], hh[i]).float()  # (C, D)
        torch.testing.assert_close(linear.weight.grad, explicit, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("max_elements", [5, 1 << 24])  # one centre per block, and one block
def test_factorised_distances_equal_the_explicit_ones(max_elements):
    logits, emb = _data()
    g = explicit_embeddings(logits, emb)
    explicit = ((g[:, None, :] - g[None, 7:19, :]) ** 2).sum(axis=2)  # (M, 12)
    a, h = gradient_embedding_parts(torch.from_numpy(logits), torch.from_numpy(emb))
    ours = gradient_sq_distances((a, h), (a[7:19], h[7:19]), max_elements)
    np.testing.assert_allclose(ours.numpy(), explicit, atol=1e-5, rtol=1e-5)
    # and from float32 inputs, as a scan collects them
    a32, h32 = gradient_embedding_parts(
        torch.from_numpy(logits).float(), torch.from_numpy(emb).float()
    )
    ours32 = gradient_sq_distances((a32, h32), (a32[7:19], h32[7:19]), max_elements)
    g32 = explicit_embeddings(logits.astype(np.float32).astype(np.float64), emb.astype(np.float32))
    ref32 = ((g32[:, None, :] - g32[None, 7:19, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(ours32.numpy(), ref32, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_badge_picks_equal_explicit_kmeans_pp(seed):
    logits, emb = _data(m=60, seed=seed)
    ours = badge_select(
        torch.from_numpy(logits).float(), torch.from_numpy(emb).float(), 15,
        np.random.default_rng(seed),
    )  # fmt: skip
    g = explicit_embeddings(
        logits.astype(np.float32).astype(np.float64), emb.astype(np.float32).astype(np.float64)
    )
    assert ours.tolist() == numpy_kmeans_pp(g, 15, np.random.default_rng(seed))
    assert len(set(ours.tolist())) == 15


def test_badge_never_repeats_among_duplicates():
    logits = torch.zeros(6, 3)  # identical candidates: every gradient embedding is equal
    emb = torch.ones(6, 4)
    picks = badge_select(logits, emb, 6, np.random.default_rng(0))
    assert sorted(picks.tolist()) == list(range(6))


def test_select_maps_scan_order_to_pool_indices():
    logits, emb = _data(m=30)
    candidates = np.random.default_rng(0).permutation(500)[:30]
    scan = Scan(
        candidates=candidates,
        stats={
            "logits": torch.from_numpy(logits).float(),
            "embedding": torch.from_numpy(emb).float(),
        },
    )
    picked = BadgeStrategy().select(scan, 5, np.random.default_rng(3))
    positions = badge_select(
        scan.stats["logits"], scan.stats["embedding"], 5, np.random.default_rng(3)
    )
    assert picked.tolist() == candidates[positions].tolist()
