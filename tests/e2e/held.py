"""Plug-in strategies for the interruption tests: a built-in strategy that, from its second
selection on (once a cycle is trained and saved), waits while the file named by ``HOLD_FILE``
exists, and says so by creating ``HOLD_FILE.waiting-*`` (see :func:`wait_until_held`).

An interruption test starts its jobs with the file in place and acts once every job waits: its
signal, killed worker or stopped server then comes mid-run, after a saved cycle, however fast
or loaded the machine. Then it removes the file and the jobs go on. So tiny schedules do where
long training once had to keep the jobs busy. Without ``HOLD_FILE`` (or with the file gone)
each class selects exactly as the built-in it extends.

Given on the command line as ``--strategies held:HeldRandom,held:HeldLearnLoss`` with this
folder on ``PYTHONPATH`` (the workers inherit it): see :func:`held_env`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from albench.strategies.entropy import EntropyStrategy
from albench.strategies.learn_loss import LearnLossStrategy
from albench.strategies.random import RandomStrategy

__all__ = ["HeldEntropy", "HeldLearnLoss", "HeldRandom", "held_env", "wait_until_held"]

FOLDER = Path(__file__).resolve().parent


def held_env(env: dict[str, str], hold: Path) -> dict[str, str]:
    """``env`` with this folder on ``PYTHONPATH`` and ``HOLD_FILE`` set to ``hold``."""
    path = os.pathsep.join(p for p in (str(FOLDER), env.get("PYTHONPATH", "")) if p)
    return env | {"PYTHONPATH": path, "HOLD_FILE": str(hold)}


def wait_until_held(hold: Path, jobs: int, alive=lambda: True, timeout: float = 600) -> None:
    """Return once ``jobs`` selections wait on ``hold``; fail if ``alive()`` turns false (the
    run ended early) or after ``timeout`` seconds (a hang guard, not a timing)."""
    deadline = time.monotonic() + timeout
    while len(list(hold.parent.glob(f"{hold.name}.waiting-*"))) < jobs:
        assert alive(), "the run ended before its jobs were held"
        assert time.monotonic() < deadline, f"fewer than {jobs} jobs held after {timeout} s"
        time.sleep(0.05)


class _Held:
    name = None  # the registry names it by its module:Class spec, not the built-in's name
    _selections = 0

    def select(self, scan, budget, rng):
        self._selections += 1
        hold = os.environ.get("HOLD_FILE")
        if hold and self._selections > 1 and os.path.exists(hold):
            Path(f"{hold}.waiting-{os.getpid()}-{id(self)}").touch()
            while os.path.exists(hold):
                time.sleep(0.05)
        return super().select(scan, budget, rng)


class HeldRandom(_Held, RandomStrategy):
    """Random sampling, held while ``HOLD_FILE`` exists."""


class HeldEntropy(_Held, EntropyStrategy):
    """Entropy sampling, held while ``HOLD_FILE`` exists."""


class HeldLearnLoss(_Held, LearnLossStrategy):
    """Learning loss, held while ``HOLD_FILE`` exists."""
