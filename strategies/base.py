"""The strategy contract: what an acquisition strategy adds to training, scans and selection.

A strategy never sees the task's internals: it gets :class:`~albench.tasks.base.StepOutput`
batches and a :class:`Scan` of the pool subset, and returns pool indices. Its capabilities are
declared as class attributes (``needs_scan``, ``scan_labeled``, ``scores``) and read by the
loop; the loop never branches on a strategy's type.

Hook order in one cycle: ``auxiliary`` once per job (the module is trained with the target
model), ``extra_losses`` every training batch, ``collect`` every scan batch and every test
batch (for the names in ``scores``), ``select`` once after the scan.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from torch import Tensor, nn

if TYPE_CHECKING:
    from albench.tasks.base import StepOutput, Task

__all__ = ["Scan", "Strategy", "top_k"]


@dataclass
class Scan:
    """What a scan of the candidates produced, in scan order.

    ``candidates[i]`` is the pool index of the i-th scanned item and ``stats[k][i]`` its
    statistic ``k``; ``labeled``/``labeled_stats`` likewise for the labeled set when the
    strategy declares ``scan_labeled``. Tensors stay on the job's device until ``select``.
    """

    candidates: np.ndarray  # (M,) pool indices, scan order
    stats: dict[str, Tensor] = field(default_factory=dict)  # name -> (M, ...) in scan order
    labeled: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    labeled_stats: dict[str, Tensor] = field(default_factory=dict)


def top_k(scores: Tensor, candidates: np.ndarray, budget: int) -> np.ndarray:
    """Pool indices of the ``budget`` highest scores; ties keep scan order.

    ``scores[i]`` belongs to ``candidates[i]``, so the result indexes the pool, not the scan.
    """
    s = scores.detach().float().cpu().numpy().reshape(-1)  # (M,)
    if len(s) != len(candidates):
        raise ValueError(f"{len(s)} scores for {len(candidates)} candidates")
    order = np.argsort(-s, kind="stable")[:budget]  # descending: highest scores first
    return candidates[order]


class Strategy(ABC):
    """An acquisition strategy; ``__init__`` only stores hyper-parameters (picklable)."""

    name: ClassVar[str] = ""
    needs_scan: ClassVar[bool] = True  # False: select() gets a Scan with no stats
    scan_labeled: ClassVar[bool] = False  # True: the labeled set is scanned as well
    scores: ClassVar[tuple[str, ...]] = ()  # collect() keys that are per-sample scores,
    # evaluated against the true test loss every cycle (ranking accuracy, correlations)

    def auxiliary(self, task: Task) -> nn.Module | None:
        """A module trained jointly with the target model (called once per job), or None."""
        return None

    def extra_losses(
        self, out: StepOutput, aux: nn.Module | None, *, detach_taps: bool
    ) -> dict[str, Tensor]:
        """Loss terms added to the mean target loss for one training batch.

        ``detach_taps`` is True from the task's stop-gradient epoch on.
        """
        return {}

    def collect(self, out: StepOutput, aux: nn.Module | None, task: Task) -> dict[str, Tensor]:
        """Per-sample statistics of one scan batch (eval mode, no autograd): name -> (B, ...)."""
        return {}

    @abstractmethod
    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        """``budget`` distinct pool indices out of ``scan.candidates``."""

    def get_params(self) -> dict[str, Any]:
        """The hyper-parameters given to ``__init__`` (logged as run params)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}
