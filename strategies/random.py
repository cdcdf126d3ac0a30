"""Random sampling: the baseline every paper figure starts from (§4).

Draws ``budget`` distinct items uniformly from the candidates without replacement, with the
trial's generator, so all strategies of a trial share the same stream; it needs no scan.
"""

from __future__ import annotations

import numpy as np

from albench.contracts import Scan, Strategy

__all__ = ["RandomStrategy"]


class RandomStrategy(Strategy):
    """Uniform random sampling without replacement (baseline)."""

    name = "random"

    display_name = "random"
    baseline = True  # every paper figure compares with it
    needs_scan = False

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(scan.candidates, size=budget, replace=False)
