"""Random sampling: the baseline every paper figure starts from (§4).

Draws ``budget`` distinct items uniformly from the candidates without replacement, with the
trial's generator, so all strategies of a trial share the same stream; it needs no scan.
"""

from __future__ import annotations

import numpy as np

from albench.contracts import Scan, Strategy
from albench.registry import builtin

__all__ = ["RandomStrategy"]


@builtin("random", rank=0)
class RandomStrategy(Strategy):
    """Uniform random sampling without replacement (baseline)."""

    display_name = "random"
    baseline = True  # every paper figure compares with it
    needs_scan = False

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(scan.candidates, size=budget, replace=False)
