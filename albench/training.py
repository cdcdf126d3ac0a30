"""Generic joint training of the target model and the strategy's module, and the pool scan.

``train_cycle`` is paper Eq. 3 for any task and strategy: the mean per-sample target loss
plus every term the strategy adds, one optimiser over both models rebuilt every cycle with
its schedule, and the stop-gradient epoch after which the loss module reads detached taps.
Each term is averaged per epoch for logging.

``scan`` runs the trained model in eval mode, without augmentation and without autograd, over
a fixed-order loader of pool items and keeps only the strategy's per-sample statistics
(never the tap feature maps); they stay on the device until the selection.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from albench.config import TrainConfig
from albench.strategies.base import Scan, Strategy
from albench.tasks.base import Task

__all__ = ["NonFiniteLossError", "accelerate", "build_scan", "scan", "train_cycle"]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite (the job fails, the others go on)."""


def _parameters(model: nn.Module, aux: nn.Module | None) -> list[nn.Parameter]:
    params = list(model.parameters())
    if aux is not None:
        params += list(aux.parameters())
    return params


def train_cycle(
    task: Task,
    strategy: Strategy,
    model: nn.Module,
    aux: nn.Module | None,
    loader: Iterable[Any],
    cfg: TrainConfig,
    device: torch.device,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    forward_model: nn.Module | None = None,
) -> list[dict[str, float]]:
    """Train for ``cfg.epochs`` epochs; returns the per-epoch mean of every loss term.

    ``forward_model`` (e.g. the ``torch.compile`` wrapper of ``model``) runs the forward
    passes; ``model`` owns the parameters. With ``cfg.precision == "bf16"`` on CUDA the
    forward runs under bf16 autocast (fp32 master weights; bf16 needs no loss scaling).
    """
    forward_model = forward_model or model
    amp = cfg.precision == "bf16" and device.type == "cuda"
    optimizer, scheduler = task.build_optimizer(_parameters(model, aux), cfg)
    history = []
    for epoch in range(cfg.epochs):
        model.train()
        if aux is not None:
            aux.train()
        detach_taps = epoch >= cfg.stop_grad_epoch
        sums: dict[str, Tensor] = {}
        batches = 0
        for batch in loader:
            batch = task.to_device(batch, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                out = task.step(forward_model, batch, train=True)
            # Outside autocast: the per-sample loss and the strategy's terms stay in fp32.
            terms = {"target": out.loss.float().mean()}  # (B,) -> scalar, Eq. 3 first term
            terms.update(strategy.extra_losses(out, aux, detach_taps=detach_taps))
            total = sum(terms.values())
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v.detach()
            batches += 1
        scheduler.step()
        means = {k: float(v) / max(batches, 1) for k, v in sums.items()}  # one host sync/epoch
        if not all(math.isfinite(v) for v in means.values()):
            raise NonFiniteLossError(f"non-finite training loss at epoch {epoch}: {means}")
        history.append(means)
        if on_epoch is not None:
            on_epoch(epoch, means)
    return history


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


def scan(
    task: Task,
    strategy: Strategy,
    model: nn.Module,
    aux: nn.Module | None,
    loader: Iterable[Any],
    device: torch.device,
) -> dict[str, Tensor]:
    """The strategy's statistics over ``loader`` in its (fixed) order, concatenated."""
    model.eval()
    if aux is not None:
        aux.eval()
    parts: dict[str, list[Tensor]] = {}
    with torch.inference_mode():
        for batch in loader:
            batch = task.to_device(batch, device)
            out = task.step(model, batch, train=False)
            for k, v in strategy.collect(out, aux, task).items():
                parts.setdefault(k, []).append(v)
    return {k: torch.cat(v) for k, v in parts.items()}


def build_scan(
    task: Task,
    strategy: Strategy,
    model: nn.Module,
    aux: nn.Module | None,
    make_loader: Callable[[np.ndarray], Iterable[Any]],
    candidates: np.ndarray,
    labeled: np.ndarray,
    device: torch.device,
) -> Scan:
    """A :class:`Scan` of ``candidates`` (and of ``labeled`` if the strategy declares it)."""
    result = Scan(candidates=candidates)
    if not strategy.needs_scan:
        return result
    result.stats = scan(task, strategy, model, aux, make_loader(candidates), device)
    if strategy.scan_labeled:
        result.labeled = labeled
        result.labeled_stats = scan(task, strategy, model, aux, make_loader(labeled), device)
    return result
