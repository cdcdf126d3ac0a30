"""The look-ahead oracle, meant as the positive control: a strategy that must beat random.

``lookahead_oracle`` picks the K new labels greedily, in ``groups`` steps, by what they do to
the test metric: each step draws ``tries`` random groups of K / ``groups`` candidates from
S_M, scores each by the test metric after a cheap update of the current model with the
groups picked so far plus it labeled (``Scan.probe``: one epoch over them and as many
labeled items, at the cycle's last learning rate, then the model is restored), and keeps
the best. It is the greedy oracle of CDALBench (Werner et al., 2024), which scores single
candidates by the test performance of a model updated with them, in groups so that it is
affordable on a CPU (groups x tries probes per cycle). It reads the test split's labels,
which a real run cannot: it is declared an oracle (``oracle = True``: reports draw it dashed
and never count it as a baseline).

Unlike ``oracle_loss`` (the top-K *true loss*, the ceiling of loss prediction, which loses to
random on the detection and pose twins), it optimises the quantity the benchmark measures,
so a harness that cannot tell it from ``random`` cannot tell anything. Not yet a control:
with the defaults its short update barely separates the groups, and on the quick
benchmark's digits it is within noise of random (README, "Strategies"). Any task family
(every task has a metric). Cost per cycle: groups x tries x (one short epoch + one test
evaluation).
"""

from __future__ import annotations

import numpy as np

from albench.contracts import Scan, Strategy
from albench.errors import ConfigError

__all__ = ["LookaheadOracleStrategy", "greedy_groups"]


def greedy_groups(
    candidates: np.ndarray, budget: int, groups: int, tries: int, score, rng: np.random.Generator
) -> np.ndarray:
    """``budget`` candidates picked in ``min(groups, budget)`` greedy steps: each step draws
    ``tries`` random groups (sizes as equal as possible) from the candidates not yet picked
    and keeps the one whose ``score(picked so far + group)`` is highest (the first on a
    tie)."""
    picked = np.empty(0, dtype=np.int64)
    left = np.asarray(candidates, dtype=np.int64)
    for part in np.array_split(np.arange(budget), min(groups, budget)):
        options = [rng.choice(left, size=len(part), replace=False) for _ in range(tries)]
        scores = [score(np.concatenate([picked, o])) for o in options]
        best = options[int(np.argmax(scores))]
        picked = np.concatenate([picked, best])
        left = left[~np.isin(left, best)]
    return picked


class LookaheadOracleStrategy(Strategy):
    """Oracle: greedy groups that most raise the test metric after a cheap update (control).

    CDALBench's greedy oracle, in groups; see the module docstring."""

    name = "lookahead_oracle"

    display_name = "oracle (look-ahead)"
    oracle = True
    lookahead = True
    needs_scan = False  # it reads no statistic of the candidates, only the probe

    def __init__(self, groups: int = 4, tries: int = 4):
        for key, value in (("groups", groups), ("tries", tries)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"strategies.lookahead_oracle.{key} = {value!r}: expected 1 or more"
                )
        self.groups = groups  # greedy steps per cycle (the K picks in this many groups)
        self.tries = tries  # random groups scored per step (1: random sampling)

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        if scan.probe is None:
            raise RuntimeError("the look-ahead oracle needs Scan.probe (lookahead = True)")
        return greedy_groups(scan.candidates, budget, self.groups, self.tries, scan.probe, rng)
