"""Core-set sampling by k-center greedy (Sener & Savarese, ICLR 2018; paper §4.1).

The paper runs K-Center-Greedy over the feature right before the classifier (the task's
``embedding``), with the labeled set as the initial centres, over the random subset S_M.
Each pick is the candidate farthest from its nearest centre; it then becomes a centre.

Memory: the distances from the M candidates to the L labeled centres are computed in chunks
of ``chunk`` centres at a time, so the peak extra memory is M * chunk floats (never an
M x L or M x M matrix); each greedy step then needs one (M,) row. Everything runs on the
device the features are on, in fp32 with exact differences (no matmul expansion, so TF32
cannot change a pick), and only the picked indices go back to the host.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from albench.registry import STRATEGIES
from albench.strategies.base import Scan, Strategy

__all__ = ["CoresetStrategy", "k_center_greedy"]


def _cdist(a: Tensor, b: Tensor) -> Tensor:
    """(M, D), (c, D) -> (M, c) exact Euclidean distances (no matmul expansion)."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


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
    min_dist = torch.full((m,), float("inf"), device=features.device)  # (M,)
    chunk = max(1, max_elements // max(m, 1))
    for start in range(0, centers.shape[0], chunk):
        d = _cdist(features, centers[start : start + chunk].float())  # (M, c)
        min_dist = torch.minimum(min_dist, d.min(dim=1).values)  # (M, c) -> (M,)
    picks = torch.empty(budget, dtype=torch.long, device=features.device)
    for k in range(budget):
        i = torch.argmax(min_dist)
        picks[k] = i
        row = _cdist(features, features.index_select(0, i.view(1)))[:, 0]  # (M,), no host sync
        min_dist = torch.minimum(min_dist, row)
        min_dist[i] = -1.0  # never pick the same candidate twice, even among duplicates
    return picks.cpu().numpy()


@STRATEGIES.register("coreset")
class CoresetStrategy(Strategy):
    """Core-set: k-center greedy over the penultimate features, labeled set as centres."""

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
