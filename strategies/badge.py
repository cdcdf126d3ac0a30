"""BADGE: batch active learning by diverse gradient embeddings (Ash et al., ICLR 2020).

Definition (Ash et al., Algorithm 1): each candidate x gets the gradient of the cross-entropy
loss at its *predicted* label y^ = argmax_c p_c(x) with respect to the last layer's weights,

    g_x = d CE(f(x), y^) / d W = (p(x) - e_y^) (x) h(x)        (C x D, flattened),

with h(x) the last layer's input (the embedding) and p the softmax; its norm grows with the
model's uncertainty, its direction encodes what the sample would change. The K picks are the
k-means++ seeds of {g_x} (Arthur & Vassilvitskii 2007): the first is the largest ||g_x|| (as the
authors' code), each next one drawn with probability proportional to its squared distance to
the nearest seed so far (:func:`albench.strategies.kmeans.d2_seeding`, uniforms from the
trial's ``SELECT`` generator).

Classification only: the task must provide ``class_logits`` and ``linear_head`` (the
embedding is the input of the linear layer whose output is the logits). SSD and the hourglass
have no single last layer with a per-sample softmax over a label; no published BADGE
definition covers them, so those pairs are refused before any run.

Never materialised: g_x has C x D entries (5,120 for CIFAR-10's ResNet-18), so M = 10,000
candidates would take 205 MB in float32. With a_x = p(x) - e_y^ (C,) and h_x (D,),

    ||g_i - g_j||^2 = ||a_i||^2 ||h_i||^2 + ||a_j||^2 ||h_j||^2 - 2 (a_i . a_j)(h_i . h_j),

an (M, c) block of squared distances to c centres is two matrix products and a Hadamard
product, computed on the device in float64 (:func:`gradient_sq_distances`, c at most
max(1, ``max_elements`` // M) centres per block). k-means++ needs one centre per step, so
selection computes (M, 1) blocks with the squared norms computed once. Peak extra memory:
8 M (C + D) bytes (float64 a and h) + about 5 (M,) float64 vectors (norms, D^2 weights, their
cumulative sum, one distance row, its products); at the paper's CIFAR scale (M = 10,000,
C = 10, D = 512) about 42 MB, against 205 MB for the float32 (M, C x D) matrix alone. Time:
K steps of O(M (C + D)) each.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from albench.contracts import CLASS_LOGITS, EMBEDDING, LINEAR_HEAD, Scan, Strategy
from albench.registry import builtin
from albench.strategies.kmeans import d2_seeding

__all__ = [
    "BadgeStrategy",
    "badge_select",
    "gradient_embedding_parts",
    "gradient_sq_distances",
]


def gradient_embedding_parts(logits: Tensor, embedding: Tensor) -> tuple[Tensor, Tensor]:
    """(M, C) logits, (M, D) embedding -> a = p - onehot(argmax p) (M, C), h (M, D), float64.

    The gradient embedding is their outer product a_i (x) h_i, never formed."""
    p = logits.double().softmax(dim=1)  # (M, C)
    onehot = F.one_hot(p.argmax(dim=1), p.shape[1]).to(p.dtype)  # (M, C)
    return p - onehot, embedding.double()


def _sq_norms(a: Tensor, h: Tensor) -> Tensor:
    """(M,) ||g_i||^2 = ||a_i||^2 ||h_i||^2 (norms, not a * a: no (M, D) temporary)."""
    return torch.linalg.vector_norm(a, dim=1).square() * torch.linalg.vector_norm(h, dim=1).square()


def _block(parts: tuple[Tensor, Tensor, Tensor], centres: tuple[Tensor, Tensor, Tensor]):
    """(M, c) squared distances; each side is (a, h, squared norms)."""
    a, h, norms = parts
    ac, hc, cnorms = centres
    dot = (a @ ac.T) * (h @ hc.T)  # (M, C) (C, c) * (M, D) (D, c) -> (M, c) g_i . g_j
    return (norms[:, None] + cnorms[None, :] - 2.0 * dot).clamp_min(0)


def gradient_sq_distances(
    parts: tuple[Tensor, Tensor], centres: tuple[Tensor, Tensor], max_elements: int = 1 << 24
) -> Tensor:
    """(M, c) squared distances ||g_i - g_j||^2 from the factorised parts (module docstring).

    ``parts`` = (a (M, C), h (M, D)), ``centres`` = (a (c, C), h (c, D)); blocks of
    max(1, ``max_elements`` // M) centres."""
    a, h = parts
    ac, hc = centres
    left = (a, h, _sq_norms(a, h))
    cnorms = _sq_norms(ac, hc)  # (c,)
    chunk = max(1, max_elements // max(a.shape[0], 1))
    blocks = [
        _block(left, (ac[s : s + chunk], hc[s : s + chunk], cnorms[s : s + chunk]))
        for s in range(0, ac.shape[0], chunk)
    ]
    return torch.cat(blocks, dim=1)  # (M, c)


def badge_select(
    logits: Tensor, embedding: Tensor, budget: int, rng: np.random.Generator
) -> np.ndarray:
    """Indices (into the M candidates) of BADGE's ``budget`` k-means++ seeds.

    One centre per k-means++ step: an (M, 1) block, the squared norms computed once."""
    m = logits.shape[0]
    if budget > m:
        raise ValueError(f"budget {budget} exceeds the {m} candidates")
    a, h = gradient_embedding_parts(logits, embedding)
    norms = _sq_norms(a, h)  # (M,) ||g_x||^2
    parts = (a, h, norms)

    def distance_to(i: int) -> Tensor:  # (M,) squared distances to g_i
        return _block(parts, (a[i : i + 1], h[i : i + 1], norms[i : i + 1]))[:, 0]

    first = int(torch.argmax(norms))  # the authors' code: the largest gradient first
    return d2_seeding(distance_to, m, budget, first, rng)


@builtin("badge", rank=9)
class BadgeStrategy(Strategy):
    """BADGE: k-means++ seeding on last-layer gradient embeddings (Ash et al., ICLR 2020).

    Classification only (``class_logits``, ``linear_head``); distances from the factorised
    form, never the (M, C x D) embedding. See the module docstring.
    """

    display_name = "BADGE"
    requires = frozenset({CLASS_LOGITS, EMBEDDING, LINEAR_HEAD})

    def collect(self, out, aux, task) -> dict[str, Tensor]:
        return {"logits": out.output.float(), "embedding": out.embedding.float()}

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        logits, emb = scan.stats["logits"], scan.stats["embedding"]
        picks = badge_select(logits, emb, budget, rng)
        return scan.candidates[picks]
