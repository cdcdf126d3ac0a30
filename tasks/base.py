"""The task contract: data, model, per-sample loss, uncertainty and metric of one recognition task.

A task is everything the active-learning loop must not know about: what a batch looks like,
how the target model is built, what its per-sample loss is, where the loss-prediction module
taps the network (paper Fig. 2), what the core-set embedding is and how the metric is computed.
The loop, the strategies and the scoring code only see :class:`StepOutput`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from albench.config import TrainConfig

__all__ = ["DeviceData", "EvalResult", "Metric", "StepOutput", "Task", "TaskData"]


@dataclass(frozen=True)
class StepOutput:
    """What a task returns for one batch."""

    output: Any  # task-specific predictions (logits, SSD head outputs, heatmaps)
    loss: Tensor  # (B,) per-sample target loss, NOT reduced
    taps: list[Tensor]  # feature maps read by the loss-prediction module, paper Fig. 2
    embedding: Tensor  # (B, D) features for core-set


@dataclass(frozen=True)
class TaskData:
    """The pool twice (same items, same indices) and the test split.

    ``pool_train`` applies the training augmentation; ``pool_eval`` is the same pool without
    it, for the scans that score unlabeled items (DESIGN.md "Protocol").
    """

    pool_train: Dataset
    pool_eval: Dataset
    test: Dataset
    arrays: Any = None  # raw tensors a task can move to the device (see Task.device_data)

    @property
    def pool_size(self) -> int:
        return len(self.pool_eval)  # type: ignore[arg-type]


@dataclass(frozen=True)
class EvalResult:
    """One pass over the test split: the metric and per-sample values in test order."""

    metric: float
    loss: np.ndarray  # (N,) true per-sample target loss
    scores: dict[str, np.ndarray]  # scorer name -> (N,) score, e.g. entropy, predicted_loss


class DeviceData(ABC):
    """A task's data held on the job's device: batches are index slices, augmentation is
    done there too (DESIGN.md "Performance principles"). Iterating a loader again gives a new
    epoch (a new shuffle and new augmentation draws from its seeded generators)."""

    nbytes: int = 0

    @abstractmethod
    def train_batches(
        self, indices: np.ndarray, batch_size: int, seed: int, drop_last: bool
    ) -> Iterable[Any]:
        """Shuffled, augmented batches of pool items ``indices``; ``seed`` fixes both."""

    @abstractmethod
    def eval_batches(self, split: str, indices: np.ndarray, batch_size: int) -> Iterable[Any]:
        """Batches of ``split`` ("pool" or "test") items in the given order, no augmentation."""


class Metric(ABC):
    """Streaming metric: ``update`` per batch in eval mode, ``compute`` once at the end."""

    @abstractmethod
    def update(self, out: StepOutput, batch: Any) -> None: ...

    @abstractmethod
    def compute(self) -> float: ...


class Task(ABC):
    """A recognition task with its data, model, loss, uncertainty and metric."""

    name: ClassVar[str] = ""
    metric: ClassVar[str] = ""  # "accuracy" | "map" | "pckh": logged as eval/<metric>
    tap_channels: ClassVar[tuple[int, ...]] = ()  # channels of each tap, for the loss module
    embedded: ClassVar[bool] = False  # True: offline data generated or bundled (quick runs)
    sizes: ClassVar[tuple[int, int] | None] = None  # (pool, test) for planning without data

    @abstractmethod
    def datasets(self, root: str, download: bool) -> TaskData:
        """Load (or generate) the pool and test split; raise DatasetMissingError if absent."""

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A freshly initialised target model (the loop seeds torch before calling this)."""

    @abstractmethod
    def step(self, model: nn.Module, batch: Any, train: bool) -> StepOutput:
        """Forward one batch already on the model's device; ``loss`` is per sample."""

    @abstractmethod
    def uncertainty(self, out: StepOutput) -> Tensor:
        """(B,) the paper's entropy baseline score for this task (higher = more uncertain)."""

    @abstractmethod
    def new_metric(self) -> Metric:
        """A fresh accumulator for the task's metric over the test split."""

    @abstractmethod
    def example_batch(self, batch_size: int) -> Any:
        """A generated batch with the shapes of real data (contract tests, benchmarks)."""

    def run_info(self) -> dict[str, str]:
        """Facts the task resolved itself that its config does not show (e.g. whether the
        pretrained weights it looks for were found), called once after ``build_model`` and
        logged as MLflow params ``task_info.<key>``. Default: none."""
        return {}

    def build_optimizer(
        self, params: Iterable[nn.Parameter], cfg: TrainConfig
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
        """Optimiser and per-epoch schedule from the train config; rebuilt every cycle."""
        params = list(params)
        if cfg.optimizer == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
        elif cfg.optimizer == "rmsprop":
            opt = torch.optim.RMSprop(
                params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
        else:
            opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.MultiStepLR(
            opt, milestones=list(cfg.lr_milestones), gamma=cfg.lr_gamma
        )
        return opt, sched

    def device_data(
        self, data: TaskData, device: torch.device, max_bytes: int
    ) -> DeviceData | None:
        """The data resident on ``device`` if this task supports it and it fits in
        ``max_bytes``; None selects the DataLoader path (the default)."""
        return None

    def collate(self, items: list[Any]) -> Any:
        """How a list of dataset items becomes a batch (default: torch's default collate)."""
        return torch.utils.data.default_collate(items)

    def to_device(self, batch: Any, device: torch.device) -> Any:
        """Move a batch to ``device`` (tensors, and tensors inside lists/tuples/dicts)."""
        return _to_device(batch, device)

    def evaluate(
        self, model: nn.Module, loader: Iterable[Any], device: torch.device, scorers=None
    ) -> EvalResult:
        """Metric, per-sample loss and per-sample scores over ``loader`` in eval mode.

        ``scorers`` maps a name to ``fn(out) -> (B,)``; entropy is always included since every
        task defines it.
        """
        scorers = {"entropy": self.uncertainty, **(scorers or {})}
        metric = self.new_metric()
        losses: list[Tensor] = []
        scores: dict[str, list[Tensor]] = {k: [] for k in scorers}
        model.eval()
        with torch.inference_mode():
            for batch in loader:
                batch = self.to_device(batch, device)
                out = self.step(model, batch, train=False)
                metric.update(out, batch)
                losses.append(out.loss.float())
                for name, fn in scorers.items():
                    scores[name].append(fn(out).float().reshape(-1))  # (B,)
        return EvalResult(
            metric=float(metric.compute()),
            loss=torch.cat(losses).cpu().numpy(),
            scores={k: torch.cat(v).cpu().numpy() for k, v in scores.items()},
        )


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, list | tuple):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch
