"""The true-loss oracle: the ceiling of every loss-prediction strategy.

``oracle_loss`` picks the K candidates of S_M with the highest *true* target loss of the
current model, computed exactly as the test losses are: eval mode, no augmentation, no
autograd, the task's per-sample loss (cross-entropy, the SSD multibox loss of the image, the
heatmap MSE). It reads the labels of S_M before they are revealed, which a real run cannot:
it is declared an oracle (``oracle = True``: reports draw it dashed and never count it as a
baseline). ``learn_loss`` approximates exactly this ranking, so the gap between the two is what
a perfect loss predictor would add (Yoo & Kweon 2019 motivate the method with it, §3). Its
score ``true_loss`` is logged like every score; against the true test loss its ranking
accuracy is 1 by construction (a check of the pipeline). All task families (any task provides
its loss). Cost per cycle: one scan of S_M, then a top-K.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from albench.contracts import LOSS, Scan, Strategy, top_k
from albench.registry import builtin

__all__ = ["OracleLossStrategy"]


@builtin("oracle_loss", rank=15)
class OracleLossStrategy(Strategy):
    """Oracle: top-K true loss of the current model (ceiling of loss prediction).

    Uses the labels of the candidates (eval mode, no augmentation, as the test losses). See
    the module docstring.
    """

    display_name = "oracle (true loss)"
    oracle = True
    requires = frozenset({LOSS})
    scores = ("true_loss",)

    def collect(self, out, aux, task) -> dict[str, Tensor]:
        return {"true_loss": out.loss.float()}  # (B,)

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        return top_k(scan.stats["true_loss"], scan.candidates, budget)
