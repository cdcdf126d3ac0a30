"""Expected gradient length (Settles, Craven & Ray, NIPS 2008; Settles 2009, §3.4).

A candidate is worth labelling if labelling it would change the model most: the expected norm,
under the model's own predictive distribution, of the gradient its loss would add,

    EGL(x) = sum_y p(y | x) || grad_theta CE(f(x), y) ||.

albench takes theta = the last layer (weights W and bias b), where the gradient has a closed
form: for the label y, dCE/dW = (p - e_y) (x) h and dCE/db = p - e_y, with h the last layer's
input (the embedding) and p the softmax, so

    || grad ||^2 = ||p - e_y||^2 (||h||^2 + 1),   ||p - e_y||^2 = ||p||^2 - 2 p_y + 1,

and EGL(x) = sqrt(||h||^2 + 1) sum_y p_y sqrt(||p||^2 - 2 p_y + 1): O(C + D) per sample, no
autograd, no per-class backward pass. (The full-network EGL needs C backward passes per
candidate; the last-layer restriction is the one BADGE also makes.)

Classification only (``class_logits`` and ``linear_head``: the embedding is the input of the
linear layer giving the logits). Cost per cycle: one scan of S_M, then a top-K.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from albench.contracts import CLASS_LOGITS, EMBEDDING, LINEAR_HEAD, Scan, Strategy, top_k
from albench.registry import builtin

__all__ = ["EGLStrategy", "expected_gradient_length"]


def expected_gradient_length(logits: Tensor, embedding: Tensor) -> Tensor:
    """(B, C) logits, (B, D) last-layer input -> (B,) EGL of the last layer (W and b)."""
    p = logits.double().softmax(dim=1)  # (B, C)
    sq = (p * p).sum(dim=1, keepdim=True) - 2.0 * p + 1.0  # (B, C) ||p - e_y||^2 for every y
    expected = (p * sq.clamp_min(0).sqrt()).sum(dim=1)  # (B,) sum_y p_y ||p - e_y||
    scale = ((embedding.double() ** 2).sum(dim=1) + 1.0).sqrt()  # (B,) ||(h, 1)||
    return (expected * scale).float()


@builtin("egl", rank=10)
class EGLStrategy(Strategy):
    """Top-K expected gradient length of the last layer, closed form (Settles et al. 2008).

    Classification only (``class_logits``, ``linear_head``); gradients of the weights and the
    bias of the last layer. See the module docstring.
    """

    display_name = "EGL"
    requires = frozenset({CLASS_LOGITS, EMBEDDING, LINEAR_HEAD})
    scores = ("egl",)

    def collect(self, out, aux, task) -> dict[str, Tensor]:
        return {"egl": expected_gradient_length(out.output, out.embedding)}

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        return top_k(scan.stats["egl"], scan.candidates, budget)
