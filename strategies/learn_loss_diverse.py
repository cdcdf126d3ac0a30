"""Learning loss with diversity: the paper's own future work (Yoo & Kweon 2019, §5).

The paper closes with "diversity or density of data" as the next step for its top-K
predicted-loss selection. ``learn_loss_diverse`` is that hybrid: the loss-prediction module
and its ranking loss exactly as ``learn_loss`` (Eq. 2-3, the same class), then

1. the top alpha x K candidates of S_M by predicted loss (alpha = ``alpha``, default 3: a pool
   three times the budget keeps the uncertainty filter strict while leaving k-center greedy
   room to spread; capped at M);
2. k-center greedy (Sener & Savarese 2018, :func:`~albench.strategies.coreset.k_center_greedy`)
   over their embeddings down to K, the labeled set as the initial centres.

alpha = 1 is ``learn_loss``; alpha >= M / K is core-set. All task families (it needs the
loss, the taps and the embedding, which every built-in task provides). ``predicted_loss`` is
logged as its score. Cost per cycle: the module's training, a scan of S_M and of the labeled
set (the centres), then K k-center steps over alpha x K candidates.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from albench.contracts import EMBEDDING, LOSS, TAPS, Scan
from albench.registry import builtin
from albench.strategies.coreset import k_center_greedy
from albench.strategies.learn_loss import LearnLossStrategy

__all__ = ["LearnLossDiverseStrategy", "top_then_k_center"]


def top_then_k_center(
    scores: Tensor, features: Tensor, centers: Tensor, budget: int, alpha: float
) -> np.ndarray:
    """Indices (into the M candidates) of ``budget`` k-center picks among the
    ceil(alpha x budget) highest ``scores`` (ties keep scan order)."""
    s = scores.detach().float().cpu().numpy().reshape(-1)  # (M,)
    n = min(len(s), max(budget, math.ceil(alpha * budget)))
    top = np.argsort(-s, kind="stable")[:n]  # the n highest, scan positions
    index = torch.as_tensor(top, dtype=torch.long, device=features.device)
    picks = k_center_greedy(features.index_select(0, index), centers, budget)  # (n, D) -> K
    return top[picks]


@builtin("learn_loss_diverse", rank=12)
class LearnLossDiverseStrategy(LearnLossStrategy):
    """Learning loss + diversity: top alpha x K predicted loss, k-center greedy down to K.

    The module and the ranking loss of ``learn_loss``; selection by predicted loss, then
    k-center greedy in the embedding with the labeled set as centres. See the module
    docstring.
    """

    display_name = "learning loss + diversity"
    baseline = False
    requires = frozenset({EMBEDDING, LOSS, TAPS})
    scan_labeled = True  # the labeled set's embeddings are the initial centres

    def __init__(
        self, weight: float = 1.0, margin: float = 1.0, hidden: int = 128, alpha: float = 3.0
    ):
        super().__init__(weight=weight, margin=margin, hidden=hidden)
        self.alpha = alpha  # candidates kept by predicted loss, as a multiple of the budget K

    def collect(self, out, aux, task) -> dict[str, Tensor]:
        return {"predicted_loss": aux(out.taps), "embedding": out.embedding.float()}

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        picks = top_then_k_center(
            scan.stats["predicted_loss"],
            scan.stats["embedding"],
            scan.labeled_stats["embedding"],
            budget,
            self.alpha,
        )
        return scan.candidates[picks]
