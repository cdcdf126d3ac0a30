"""Core-set sampling by k-center greedy (Sener & Savarese, ICLR 2018; paper §4.1).

The paper runs K-Center-Greedy over the feature right before the classifier (the task's
``embedding``), with the labeled set as the initial centres, over the random subset S_M.
Each pick is the candidate farthest from its nearest centre; it then becomes a centre.

Cost and memory: the nearest-centre distance of every candidate is initialised block by block
with the expansion |x - c|^2 = |x|^2 + |c|^2 - 2 x.c as a matrix product in float64 (exact
enough that no pick changes: float32 would lose ~1e-4 of |x|^2 to cancellation; float64 never
uses TF32), ``chunk`` = max(1, ``max_elements`` // M) centres at a time. Each greedy step then
needs one (M,) row of exact float32 distances to the new centre (a fused kernel, no
expansion). Peak extra memory: M * D * 8 bytes (the float64 copy of the candidates) +
2 * M * c * 8 bytes (one block and the sum of squared norms added to it, c = min(L, chunk))
+ a few (M,) vectors; never an M x M matrix, and an M x L one only while L <= chunk. Measured
at M = 10,000, D = 512, L = 1,000: 0.20 GB (``benchmarks/speed/badge_coreset.py``); lower
``max_elements`` for less.
Everything stays on the features' device; only the picked indices go back to the host.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from albench.contracts import EMBEDDING, Scan, Strategy
from albench.registry import builtin

__all__ = ["CoresetStrategy", "k_center_greedy"]


def _cdist(a: Tensor, b: Tensor) -> Tensor:
    """(M, D), (c, D) -> (M, c) exact Euclidean distances (no matmul expansion)."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def _nearest_center_distance(features: Tensor, centers: Tensor, max_elements: int) -> Tensor:
    """(M, D), (L, D) -> (M,) distance from each candidate to its nearest centre (inf if L=0)."""
    m = features.shape[0]
    x = features.double()
    xx = (x * x).sum(dim=1)  # (M,)
    best = torch.full((m,), float("inf"), dtype=torch.float64, device=features.device)
    chunk = max(1, max_elements // max(m, 1))
    for start in range(0, centers.shape[0], chunk):
        c = centers[start : start + chunk].to(x)  # (c, D)
        d2 = (x @ c.T).mul_(-2.0)  # (M, c); in place: -2 x.c is exact
        d2.add_(xx[:, None] + (c * c).sum(dim=1)[None, :])  # = (|x|^2 + |c|^2) - 2 x.c
        best = torch.minimum(best, d2.min(dim=1).values)  # (M, c) -> (M,)
    return best.clamp_min_(0).sqrt_().float()


def k_center_greedy(
    features: Tensor, centers: Tensor, budget: int, max_elements: int = 1 << 24
) -> np.ndarray:
    """Indices (into ``features``) of ``budget`` greedy k-center picks.

    ``features`` (M, D) are the candidates, ``centers`` (L, D) the already-labeled points
    (L may be 0: the first pick is then candidate 0). ``max_elements`` bounds the size of the
    chunked (M, chunk) distance block used to initialise the nearest-centre distances.
    """
    m = features.shape[0]
    if budget > m:
        raise ValueError(f"budget {budget} exceeds the {m} candidates")
    features = features.float()
    min_dist = _nearest_center_distance(features, centers, max_elements)  # (M,)
    picks = torch.empty(budget, dtype=torch.long, device=features.device)
    for k in range(budget):
        i = torch.argmax(min_dist)
        picks[k] = i
        row = _cdist(features, features.index_select(0, i.view(1)))[:, 0]  # (M,), no host sync
        min_dist = torch.minimum(min_dist, row)
        min_dist[i] = -1.0  # never pick the same candidate twice, even among duplicates
    return picks.cpu().numpy()


@builtin("coreset", rank=2)
class CoresetStrategy(Strategy):
    """Core-set: k-center greedy over the penultimate features, labeled set as centres."""

    display_name = "core-set"
    requires = frozenset({EMBEDDING})
    scan_labeled = True

    def __init__(self, max_elements: int = 1 << 24):
        self.max_elements = max_elements  # bound on the (M, chunk) distance block, in floats

    def collect(self, out, aux, task) -> dict[str, Tensor]:
        return {"embedding": out.embedding.float()}  # (B, D)

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        picks = k_center_greedy(
            scan.stats["embedding"], scan.labeled_stats["embedding"], budget, self.max_elements
        )
        return scan.candidates[picks]
