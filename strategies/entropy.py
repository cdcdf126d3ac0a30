"""Entropy sampling (§4.1 "comparison targets"; Settles & Craven 2008, Luo et al. 2013).

Scores each candidate with the task's uncertainty (softmax entropy for classification, mean
detection entropy for SSD, mean heatmap entropy for pose) and takes the top K.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from albench.contracts import ENTROPY, Scan, Strategy, top_k
from albench.registry import builtin

__all__ = ["EntropyStrategy"]


@builtin("entropy", rank=1)
class EntropyStrategy(Strategy):
    """Top-K by the task's entropy of the model's prediction (uncertainty baseline)."""

    display_name = "entropy"
    requires = frozenset({ENTROPY})
    scores = ("entropy",)

    def collect(self, out, aux, task) -> dict[str, Tensor]:
        return {"entropy": task.uncertainty(out)}

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        return top_k(scan.stats["entropy"], scan.candidates, budget)
