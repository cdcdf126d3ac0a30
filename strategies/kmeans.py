"""k-means sampling: cluster the candidates' embeddings into K clusters, pick the candidate
nearest each centroid (the diversity baseline of DeepAL+'s ``KMeansSampling`` and of ALScope).

Definition (every task family: each provides a per-sample embedding, the same one core-set
uses): Lloyd's k-means (Lloyd 1982) with K = the budget, seeded by k-means++ (Arthur &
Vassilvitskii, SODA 2007: the first seed uniform, each next one drawn with probability
proportional to its squared distance to the nearest seed so far, "D^2 sampling"), iterated
until no assignment changes or ``max_iter`` (100: converged in practice on the quick
benchmark's sizes; scikit-learn's default is 300) iterations; then, per cluster, its member
nearest the centroid (so the K picks are distinct). A cluster that ends empty (duplicate
embeddings) takes the nearest candidate not picked yet. The labeled set plays no part (unlike
core-set, which grows away from it).

Everything runs on the embedding's device in float64 (no TF32, and distances exact enough that
no assignment flips against a float64 reference). Seeding draws its uniforms from the
selection's generator (the trial's ``SELECT`` stream), so picks are reproducible.

Cost per cycle: one scan of S_M; seeding K x O(M D); each Lloyd iteration O(M K D), as an
(M, chunk) distance block, chunk = max(1, ``max_elements`` // M) centroids at a time. Peak
extra memory: M x D x 8 bytes (float64 copy) + M x chunk x 8 (one block) + K x D x 8
(centroids) + a few (M,) vectors; never M x M.

:func:`d2_seeding` is shared with BADGE (its seeding on gradient embeddings).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from albench.contracts import EMBEDDING, Scan, Strategy
from albench.registry import builtin

__all__ = ["KMeansStrategy", "d2_seeding", "kmeans_select", "lloyd", "nearest_members"]


def d2_seeding(
    distance_to: Callable[[int], Tensor],
    m: int,
    k: int,
    first: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """k-means++ seeding: ``k`` distinct indices out of ``m`` points, the first ``first``.

    ``distance_to(i)`` gives the (m,) squared distances of every point to point i (float64,
    on any device). Each next seed is the first index whose cumulative weight exceeds
    u x total, u = ``rng.random()``, weights the squared distances to the nearest seed (seeds
    weigh 0, so none repeats). If every weight is 0 (the rest duplicates a seed) the next seed
    is drawn uniformly among the points not chosen yet.
    """
    if k > m:
        raise ValueError(f"{k} seeds asked from {m} points")
    picks = [first]
    d2 = distance_to(first).clamp_min(0)  # (m,)
    d2[first] = 0.0
    for _ in range(1, k):
        cum = torch.cumsum(d2, dim=0)  # (m,)
        total = float(cum[-1])
        if total > 0:
            x = torch.tensor([rng.random() * total], dtype=cum.dtype, device=cum.device)
            i = min(int(torch.searchsorted(cum, x, right=True)), m - 1)
        else:
            i = int(rng.choice(np.setdiff1d(np.arange(m), picks)))
        picks.append(i)
        d2 = torch.minimum(d2, distance_to(i).clamp_min(0))
        d2[i] = 0.0  # exactly: the expansion may leave a rounding residue
    return np.asarray(picks, dtype=np.int64)


def _assign(x: Tensor, centroids: Tensor, max_elements: int) -> tuple[Tensor, Tensor]:
    """(M, D), (K, D) float64 -> nearest centroid (M,) and its squared distance (M,)."""
    m = x.shape[0]
    xx = (x * x).sum(dim=1)  # (M,)
    best = torch.full((m,), float("inf"), dtype=x.dtype, device=x.device)
    arg = torch.zeros(m, dtype=torch.long, device=x.device)
    chunk = max(1, max_elements // max(m, 1))
    for start in range(0, centroids.shape[0], chunk):
        c = centroids[start : start + chunk]  # (c, D)
        d2 = xx[:, None] + (c * c).sum(dim=1)[None, :] - 2.0 * (x @ c.T)  # (M, c)
        value, index = d2.min(dim=1)  # (M, c) -> (M,)
        better = value < best  # strict: ties keep the lower centroid index
        best = torch.where(better, value, best)
        arg = torch.where(better, index + start, arg)
    return arg, best.clamp_min(0)


def lloyd(
    features: Tensor, centroids: Tensor, max_iter: int = 100, max_elements: int = 1 << 24
) -> tuple[Tensor, Tensor]:
    """Lloyd's iterations from ``centroids`` (K, D): the final (centroids, assignment (M,)).

    Stops when no assignment changes. A cluster left empty keeps its centroid.
    """
    x = features.double()
    c = centroids.double().clone()
    k = c.shape[0]
    assign, _ = _assign(x, c, max_elements)
    for _ in range(max_iter):
        sums = torch.zeros_like(c).index_add_(0, assign, x)  # (K, D)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)  # (K,)
        c = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], c)
        new, _ = _assign(x, c, max_elements)
        if torch.equal(new, assign):
            break
        assign = new
    return c, assign


def nearest_members(features: Tensor, centroids: Tensor, assign: Tensor) -> np.ndarray:
    """(K,) per cluster, the index of its member nearest its centroid; an empty cluster takes
    the nearest candidate not picked yet (clusters in index order)."""
    x, c = features.double(), centroids.double()
    k = c.shape[0]
    d2 = ((x - c[assign]) ** 2).sum(dim=1)  # (M,) to own centroid
    order = torch.argsort(d2, stable=True)
    order = order[torch.argsort(assign[order], stable=True)]  # by cluster, then distance
    grouped = assign[order]
    first = torch.ones_like(grouped, dtype=torch.bool)
    first[1:] = grouped[1:] != grouped[:-1]
    picks = np.full(k, -1, dtype=np.int64)
    picks[grouped[first].cpu().numpy()] = order[first].cpu().numpy()
    taken = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    taken[torch.as_tensor(picks[picks >= 0], device=x.device)] = True
    for j in np.flatnonzero(picks < 0):  # empty clusters
        d = ((x - c[j]) ** 2).sum(dim=1).masked_fill(taken, float("inf"))  # (M,)
        i = int(torch.argmin(d))
        picks[j] = i
        taken[i] = True
    return picks


def kmeans_select(
    features: Tensor,
    budget: int,
    rng: np.random.Generator,
    max_iter: int = 100,
    max_elements: int = 1 << 24,
) -> np.ndarray:
    """Indices (into ``features`` (M, D)) of the ``budget`` k-means picks (module docstring)."""
    m = features.shape[0]
    if budget > m:
        raise ValueError(f"budget {budget} exceeds the {m} candidates")
    x = features.double()
    xx = (x * x).sum(dim=1)  # (M,)

    def distance_to(i: int) -> Tensor:  # (M,) squared distances to point i
        return xx + xx[i] - 2.0 * (x @ x[i])

    seeds = d2_seeding(distance_to, m, budget, int(rng.integers(m)), rng)
    centroids, assign = lloyd(x, x[torch.as_tensor(seeds, device=x.device)], max_iter, max_elements)
    return nearest_members(x, centroids, assign)


@builtin("kmeans", rank=11)
class KMeansStrategy(Strategy):
    """k-means (K clusters) on the embedding; the member nearest each centroid (diversity).

    Every task family (the embedding core-set uses); k-means++ seeding from the trial's
    selection generator, Lloyd iterations on the device. See the module docstring.
    """

    display_name = "k-means"
    requires = frozenset({EMBEDDING})

    def __init__(self, max_iter: int = 100, max_elements: int = 1 << 24):
        self.max_iter = max_iter  # Lloyd iterations at most (stops earlier once stable)
        self.max_elements = max_elements  # bound on the (M, chunk) distance block, in floats

    def collect(self, out, aux, task) -> dict[str, Tensor]:
        return {"embedding": out.embedding.float()}  # (B, D)

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        emb = scan.stats["embedding"]
        picks = kmeans_select(emb, budget, rng, self.max_iter, self.max_elements)
        return scan.candidates[picks]
