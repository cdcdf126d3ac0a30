"""The Learner: one task, one strategy, the target model, the strategy's module and a device.

``Learner.train`` is paper Eq. 3 for any task and strategy: the mean per-sample target loss
plus every term the strategy adds, one optimiser over both models rebuilt every cycle with
its schedule, and the stop-gradient epoch after which the loss module reads detached taps.
Each term is averaged per epoch for logging.

``Learner.infer`` is the one inference loop: eval mode, no augmentation (the caller's batches),
no autograd, a fixed order. The test-set evaluation (metric, per-sample loss, every scorer)
and the pool scan (the strategy's statistics, never the tap feature maps) both run through
it; the statistics stay on the device until the selection.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Subset

from albench.contracts import (
    ENTROPY,
    EvalResult,
    Metric,
    Scan,
    StepOutput,
    Strategy,
    Task,
    TaskData,
)
from albench.errors import ConfigError
from albench.schema import is_score_column

if TYPE_CHECKING:
    from albench.config import TrainConfig

__all__ = ["Batches", "Learner", "NonFiniteLossError", "accelerate", "build_optimizer"]

Collect = Callable[[StepOutput, Any], dict[str, Tensor]]  # (output, batch) -> name -> (B, ...)


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite (the job fails, the others go on)."""


def build_optimizer(
    params: list[nn.Parameter], cfg: TrainConfig
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """The train config's optimiser and its step schedule (x ``lr_gamma`` at each milestone)."""
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


def accelerate(
    task: Task, model: nn.Module, cfg: TrainConfig, device: torch.device
) -> tuple[nn.Module, str]:
    """Apply the speed settings to ``model``; returns the module to train with and a note.

    channels_last and cudnn.benchmark on CUDA; ``torch.compile`` when asked, checked on an
    example batch so that a compiler failure falls back to eager mode with its reason.
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        if cfg.channels_last:
            model.to(memory_format=torch.channels_last)
    if not cfg.compile:
        return model, "off"
    try:
        compiled = torch.compile(model)
        with torch.no_grad():
            task.step(compiled, task.to_device(task.example_batch(2), device), train=False)
        return compiled, "on"
    except Exception as exc:  # any compiler/back-end failure: run eagerly, say why
        return model, f"fallback to eager: {type(exc).__name__}: {str(exc)[:300]}"


def _memory_budget(device: torch.device) -> int:
    """Bytes a device-resident data set may take: half of what is free on ``device``."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0] // 2
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2


class Batches:
    """A job's batches: index slices of device-resident data when the task offers them and
    they fit (``train.data_path`` "auto" or "resident"), else DataLoaders over the datasets."""

    def __init__(self, task: Task, data: TaskData, cfg: TrainConfig, device: torch.device):
        self.task, self.data, self.cfg = task, data, cfg
        self.resident = None
        if cfg.data_path != "loader":
            self.resident = task.device_data(data, device, _memory_budget(device))
            if self.resident is None and cfg.data_path == "resident":
                raise ConfigError(
                    f"train.data_path = 'resident': task {task.name!r} has no device-resident "
                    "data path, or its data does not fit; use 'auto' or 'loader'"
                )
        self.path = "resident" if self.resident is not None else "loader"

    def train(self, indices: np.ndarray, seed: int, drop_last: bool):
        if self.resident is not None:
            return self.resident.train_batches(indices, self.cfg.batch_size, seed, drop_last)
        return self._loader(
            self.data.pool_train,
            indices,
            self.cfg.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
            drop_last=drop_last,
        )

    def eval(self, split: str, indices: np.ndarray):
        """Fixed-order batches of the "pool" (without augmentation) or "test" split."""
        if self.resident is not None:
            return self.resident.eval_batches(split, indices, self.cfg.eval_batch_size)
        dataset = self.data.pool_eval if split == "pool" else self.data.test
        return self._loader(dataset, indices, self.cfg.eval_batch_size, shuffle=False)

    def _loader(self, dataset, indices: np.ndarray, batch_size: int, **kw) -> DataLoader:
        return DataLoader(
            Subset(dataset, indices.tolist()),
            batch_size=batch_size,
            num_workers=self.cfg.num_workers,
            collate_fn=self.task.collate,
            **kw,
        )


@dataclass
class Learner:
    """Owns the task, the strategy, the target model, the strategy's module, the device and
    the job's :class:`Batches` (where :meth:`scan` reads the pool).

    ``forward`` runs the forward passes (e.g. the ``torch.compile`` wrapper of ``model``);
    ``model`` owns the parameters. Build one with :meth:`build`.
    """

    task: Task
    strategy: Strategy
    model: nn.Module
    aux: nn.Module | None
    device: torch.device
    forward: nn.Module | None = None
    compile_note: str = "off"
    batches: Batches | None = None  # the job's batches (its pool, for :meth:`scan`)

    @classmethod
    def build(
        cls,
        task: Task,
        strategy: Strategy,
        cfg: TrainConfig,
        device: torch.device,
        seeds: tuple[int, int],
    ) -> Learner:
        """Fresh models: the target model seeded with ``seeds[0]``, the module with ``[1]``."""
        torch.manual_seed(seeds[0])
        model = task.build_model().to(device)
        torch.manual_seed(seeds[1])
        aux = strategy.auxiliary(task)
        aux = aux.to(device) if aux is not None else None
        forward, note = accelerate(task, model, cfg, device)
        return cls(task, strategy, model, aux, device, forward, note)

    # -- state
    def modules(self) -> list[nn.Module]:
        return [m for m in (self.model, self.aux) if m is not None]

    def state(self) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
        """CPU copies of the model's and the module's state dicts (for checkpoints)."""
        return _cpu_state(self.model), _cpu_state(self.aux) if self.aux is not None else None

    def load(self, model: dict[str, Tensor], aux: dict[str, Tensor] | None) -> None:
        self.model.load_state_dict(model)
        if self.aux is not None and aux is not None:
            self.aux.load_state_dict(aux)

    def _mode(self, train: bool) -> None:
        for m in self.modules():
            m.train(train)

    # -- training
    def train(
        self,
        batches: Iterable[Any],
        cfg: TrainConfig,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    ) -> list[dict[str, float]]:
        """Train for ``cfg.epochs`` epochs; returns the per-epoch mean of every loss term.

        With ``cfg.precision == "bf16"`` on CUDA the forward runs under bf16 autocast (fp32
        master weights; bf16 needs no loss scaling).
        """
        task, strategy, device = self.task, self.strategy, self.device
        forward = self.forward or self.model
        amp = cfg.precision == "bf16" and device.type == "cuda"
        params = [p for m in self.modules() for p in m.parameters()]
        optimizer, scheduler = task.configure_optimizer(params, cfg) or build_optimizer(params, cfg)
        history = []
        for epoch in range(cfg.epochs):
            self._mode(True)
            detach_taps = epoch >= cfg.stop_grad_epoch
            sums: dict[str, Tensor] = {}
            count = 0
            for batch in batches:
                batch = task.to_device(batch, device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    out = task.step(forward, batch, train=True)
                # Outside autocast: the per-sample loss and the strategy's terms stay in fp32.
                terms = {"target": out.loss.float().mean()}  # (B,) -> scalar, Eq. 3 first term
                terms.update(strategy.extra_losses(out, self.aux, detach_taps=detach_taps))
                optimizer.zero_grad(set_to_none=True)
                sum(terms.values()).backward()
                optimizer.step()
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v.detach()
                count += 1
            scheduler.step()
            means = {k: float(v) / max(count, 1) for k, v in sums.items()}  # 1 host sync/epoch
            if not all(math.isfinite(v) for v in means.values()):
                raise NonFiniteLossError(f"non-finite training loss at epoch {epoch}: {means}")
            history.append(means)
            if on_epoch is not None:
                on_epoch(epoch, means)
        return history

    # -- inference
    def infer(
        self, batches: Iterable[Any], collect: Collect, metric: Metric | None = None
    ) -> dict[str, Tensor]:
        """``collect(out, batch)`` of every batch, concatenated in batch order (eval mode, no
        autograd); ``metric`` is updated with every batch when given."""
        self._mode(False)
        parts: dict[str, list[Tensor]] = {}
        with torch.inference_mode():
            for batch in batches:
                batch = self.task.to_device(batch, self.device)
                out = self.task.step(self.model, batch, train=False)
                if metric is not None:
                    metric.update(out, batch)
                for k, v in collect(out, batch).items():
                    parts.setdefault(k, []).append(v)
        return {k: torch.cat(v) for k, v in parts.items()}

    def _test_values(self, out: StepOutput, batch: Any) -> dict[str, Tensor]:
        values = {"loss": out.loss.float()}
        values |= {k: v.reshape(-1) for k, v in self.task.outcome(out, batch).items()}
        if ENTROPY in self.task.provides:
            values[ENTROPY] = self.task.uncertainty(out).float().reshape(-1)  # (B,)
        if self.strategy.scores:
            stats = self.strategy.collect(out, self.aux, self.task)
            values.update({k: stats[k].float().reshape(-1) for k in self.strategy.scores})
        return values

    def evaluate(self, batches: Iterable[Any]) -> EvalResult:
        """The metric, the per-sample loss and every scorer over the test batches."""
        metric = self.task.new_metric()
        values = self.infer(batches, self._test_values, metric)
        values = {k: v.cpu().numpy() for k, v in values.items()}
        loss = values.pop("loss")
        outcome = {k: values.pop(k) for k in list(values) if not is_score_column(k)}
        return EvalResult(float(metric.compute()), loss, scores=values, outcome=outcome)

    def scan(self, candidates: np.ndarray, labeled: np.ndarray) -> Scan:
        """A :class:`Scan` of ``candidates`` (and of ``labeled`` if the strategy declares
        ``scan_labeled``), in fixed-order batches of the pool from :attr:`batches`."""
        result = Scan(candidates=candidates)
        if not self.strategy.needs_scan:
            return result

        def collect(out: StepOutput, batch: Any) -> dict[str, Tensor]:
            stats = self.strategy.collect(out, self.aux, self.task)
            return stats | self.strategy.collect_inputs(batch, self.task)

        result.stats = self.infer(self.batches.eval("pool", candidates), collect)
        if self.strategy.scan_labeled:
            result.labeled = labeled
            result.labeled_stats = self.infer(self.batches.eval("pool", labeled), collect)
        return result


def _cpu_state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
