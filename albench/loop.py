"""One job = one (task, strategy, trial): the active-learning cycles of DESIGN.md "Protocol".

Per cycle: train the target model (and the strategy's module) on the labeled set (Eq. 3);
evaluate the last epoch's model on the test split with per-sample losses and every scorer;
draw the random subset S_M of the unlabeled pool; scan it in eval mode in a fixed order; take
the strategy's K picks; reveal their labels. The model is warm-started across cycles unless
``al.reinit_model`` is set; the optimiser and its schedule restart every cycle.

Fairness (paper §4): the trial seed alone fixes the initial labeled set, the subset draws,
the initial weights, the data order and the augmentation; the strategy only changes which
items are added. Each source of randomness has its own stream derived from the trial seed,
so a strategy's extra module or extra random draws cannot shift another stream.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import time
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Subset

from albench.config import TaskConfig, config_hash
from albench.errors import AlbenchError, BudgetTooLargeError, ConfigError, PoolExhaustedError
from albench.provenance import git_sha
from albench.registry import STRATEGIES, TASKS
from albench.scoring import score_quality
from albench.strategies.base import Strategy
from albench.tasks.base import Task, TaskData
from albench.training import accelerate, build_scan, train_cycle

__all__ = [
    "Job",
    "JobResult",
    "Reporter",
    "Stream",
    "checkpoint_path",
    "derive_seed",
    "prepare",
    "run_job",
]


class Stream(IntEnum):
    """Independent random streams of a trial (see module docstring)."""

    INITIAL = 0  # initial labeled set
    SUBSET = 1  # per-cycle random subset S_M
    MODEL = 2  # initial weights of the target model
    AUX = 3  # initial weights of the strategy's module
    SHUFFLE = 4  # order of training batches
    AUGMENT = 5  # data augmentation (torch's global generator)
    SELECT = 6  # the strategy's own randomness (random sampling)


def derive_seed(seed: int, stream: Stream, cycle: int = 0) -> int:
    """A 63-bit seed for (trial seed, stream, cycle), independent across streams."""
    state = np.random.SeedSequence([seed, int(stream), cycle]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


@dataclass(frozen=True)
class Job:
    """Everything one job needs; a plain picklable value so a scheduler can ship it."""

    benchmark: str
    experiment: str
    task: TaskConfig
    strategy: str
    strategy_params: dict[str, Any] = field(default_factory=dict)
    trial: int = 0
    seed: int = 0  # base seed of the benchmark; the trial runs with seed + trial
    device: str = "cpu"
    data_root: str = "data"
    download: bool = False
    tracking_uri: str | None = None

    @property
    def trial_seed(self) -> int:
        return self.seed + self.trial

    @property
    def run_name(self) -> str:
        return f"{self.task.name}/{self.strategy}/trial-{self.trial}"

    def config(self) -> dict[str, Any]:
        """The resolved configuration this job runs with (logged as config.json and params)."""
        return {
            "benchmark": self.benchmark,
            "task": self.task.name,
            "strategy": self.strategy,
            "trial": self.trial,
            "seed": self.trial_seed,
            "al": dataclasses.asdict(self.task.al),
            "train": dataclasses.asdict(self.task.train),
            "task_params": dict(self.task.params),
            "strategy_params": dict(self.strategy_params),
        }

    def config_hash(self) -> str:
        return config_hash(self.config())


@dataclass(frozen=True)
class JobResult:
    run_id: str
    status: str  # FINISHED | FAILED | KILLED
    metric: float  # the task metric at the last cycle (NaN if the job did not get there)
    seconds: float
    error: str = ""


def prepare(job: Job) -> tuple[Task, Strategy, TaskData]:
    """Build the task and strategy and load the data; raise on any bad input, before MLflow."""
    task = TASKS.create(job.task.name, dict(job.task.params), f"tasks.{job.task.name}.params")
    strategy = STRATEGIES.create(
        job.strategy, dict(job.strategy_params), f"strategies.{job.strategy}"
    )
    data = task.datasets(job.data_root, job.download)
    al = job.task.al
    if al.labels_needed > data.pool_size:
        raise BudgetTooLargeError(
            f"task {job.task.name!r}: al.initial + al.budget x (al.cycles - 1) = "
            f"{al.initial} + {al.budget} x {al.cycles - 1} = {al.labels_needed} labels, but the "
            f"pool has {data.pool_size}; lower al.budget or al.cycles (e.g. --set al.cycles=N)"
        )
    return task, strategy, data


def _memory_budget(device: torch.device) -> int:
    """Bytes a device-resident data set may take: half of what is free on ``device``."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0] // 2
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2


class _Loaders:
    """A job's batches: index slices of device-resident data when the task offers them and
    they fit (``train.data_path`` "auto" or "resident"), else DataLoaders over the datasets."""

    def __init__(self, task: Task, data: TaskData, cfg, device: torch.device):
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


class Reporter(Protocol):
    """Receives progress from a running job (the runner renders it)."""

    def __call__(
        self,
        name: str,
        cycle: int,
        cycles: int,
        epoch: int,
        epochs: int,
        metric: float | None = None,
    ) -> None: ...


def checkpoint_path(state_dir: str | Path, job: Job) -> Path:
    """Where ``job`` keeps its checkpoint: one file per (experiment, config hash)."""
    return Path(state_dir) / job.experiment / f"{job.config_hash()}.pt"


def run_job(
    job: Job, report: Reporter | None = None, state_dir: str | Path | None = None
) -> JobResult:
    """Run every cycle of ``job`` and log it to MLflow as one run; see the module docstring.

    Bad input raises :class:`~albench.errors.AlbenchError` before any run is created. A
    failure after that marks the run FAILED (KILLED on Ctrl-C) with the reason, then re-raises.
    With ``state_dir`` the job checkpoints after every cycle and, if a checkpoint is there,
    resumes at the next cycle in the same MLflow run (results equal an uninterrupted run).
    """
    from albench import checkpoint as ckpt_io
    from albench.tracking import Tracker, flatten

    task, strategy, data = prepare(job)
    al, cfg = job.task.al, job.task.train
    device = torch.device(job.device)
    seed = job.trial_seed
    tracker = Tracker(job.tracking_uri)
    ckpt_path = checkpoint_path(state_dir, job) if state_dir is not None else None
    ckpt = ckpt_io.load(ckpt_path) if ckpt_path is not None else None

    torch.manual_seed(derive_seed(seed, Stream.MODEL))
    model = task.build_model().to(device)
    torch.manual_seed(derive_seed(seed, Stream.AUX))
    aux = strategy.auxiliary(task)
    aux = aux.to(device) if aux is not None else None
    initial_state = _snapshot(model, aux) if al.reinit_model else None
    loaders = _Loaders(task, data, cfg, device)
    forward_model, compile_note = accelerate(task, model, cfg, device)
    worker_tags = {"albench.host": socket.gethostname(), "albench.pid": os.getpid()}

    if ckpt is not None:  # resume in the same run, at the next cycle
        run_id, start = ckpt.run_id, ckpt.cycle + 1
        labeled = ckpt.labeled
        model.load_state_dict(ckpt.model)
        if aux is not None and ckpt.aux is not None:
            aux.load_state_dict(ckpt.aux)
        ckpt_io.restore_rng(ckpt.rng)
        tracker.reopen_run(run_id)
        tracker.set_tags(run_id, worker_tags | {"albench.resumed_at_cycle": start})
        _log_cycle(tracker, run_id, ckpt.rows, ckpt.artifacts, dedupe=True)
    else:
        start = 0
        tags = {
            "albench.task": job.task.name,
            "albench.strategy": job.strategy,
            "albench.trial": job.trial,
            "albench.seed": seed,
            "albench.benchmark": job.benchmark,
            "albench.config_hash": job.config_hash(),
            "albench.git_sha": git_sha(),
            "albench.metric": task.metric,
        } | worker_tags
        params = flatten(job.config()) | {
            "device": str(device),
            "data_root": job.data_root,
            "data_path": loaders.path,
            "compile": compile_note,
        }
        params |= {f"task_info.{k}": str(v) for k, v in task.run_info().items()}
        run_id = tracker.start_run(
            tracker.experiment_id(job.experiment), job.run_name, tags, params
        )
        rng = np.random.default_rng(derive_seed(seed, Stream.INITIAL))
        labeled = np.sort(rng.choice(data.pool_size, size=al.initial, replace=False))

    started = time.perf_counter()
    metric = math.nan
    try:
        if ckpt is None:
            tracker.log_json(run_id, job.config(), "config.json")
            tracker.log_npy(run_id, labeled, "selected/initial.npy")
            if ckpt_path is not None:  # from now on a rerun resumes this run, even in cycle 0
                ckpt_io.save(ckpt_path, _checkpoint(job, run_id, -1, labeled, model, aux, [], {}))
        scorers = {
            name: (lambda out, name=name: strategy.collect(out, aux, task)[name])
            for name in strategy.scores
        }

        def on_epoch(cycle: int) -> Any:
            if report is None:
                return None
            return lambda epoch, means: report(
                job.run_name, cycle, al.cycles, epoch + 1, cfg.epochs
            )

        for cycle in range(start, al.cycles):
            if report is not None:
                report(job.run_name, cycle, al.cycles, 0, cfg.epochs)
            if initial_state is not None and cycle > 0:
                _restore(model, aux, initial_state)
            # ---- train on the labeled set (Eq. 3)
            torch.manual_seed(derive_seed(seed, Stream.AUGMENT, cycle))
            train_loader = loaders.train(
                labeled,
                seed=derive_seed(seed, Stream.SHUFFLE, cycle),
                drop_last=len(labeled) % cfg.batch_size == 1,  # never a batch of one (BatchNorm)
            )
            t0 = time.perf_counter()
            history = train_cycle(
                task,
                strategy,
                model,
                aux,
                train_loader,
                cfg,
                device,
                on_epoch=on_epoch(cycle),
                forward_model=forward_model,
            )
            rows = [
                (f"train/loss/{term}", value, cycle * cfg.epochs + epoch)
                for epoch, means in enumerate(history)
                for term, value in means.items()
            ]
            rows.append(("time/train_s", time.perf_counter() - t0, cycle))

            # ---- evaluate the last epoch's model on the test split
            if aux is not None:
                aux.eval()
            test_loader = loaders.eval("test", np.arange(len(data.test)))
            result = task.evaluate(model, test_loader, device, scorers)
            metric = result.metric
            rows += [(f"eval/{task.metric}", metric, cycle), ("labeled", len(labeled), cycle)]
            for name, score in result.scores.items():
                for stat, value in score_quality(score, result.loss).items():
                    rows.append((f"eval/{stat}/{name}", value, cycle))
            columns = {
                "index": np.arange(len(result.loss)),
                "loss": result.loss,
                "predicted_loss": result.scores.get(
                    "predicted_loss", np.full(len(result.loss), np.nan)
                ),
            }
            columns.update(result.scores)
            artifacts: dict[str, Any] = {f"test_scores/cycle_{cycle:02d}.csv": columns}

            # ---- select K new items from the random subset S_M of the unlabeled pool
            if cycle < al.cycles - 1:
                unlabeled = np.setdiff1d(np.arange(data.pool_size), labeled)
                sub_rng = np.random.default_rng(derive_seed(seed, Stream.SUBSET, cycle))
                m = al.subset if 0 < al.subset < len(unlabeled) else len(unlabeled)
                candidates = sub_rng.choice(unlabeled, size=m, replace=False)  # random order
                if al.budget > len(candidates):
                    raise PoolExhaustedError(
                        f"cycle {cycle}: {al.budget} picks asked from {len(candidates)} candidates"
                    )
                t0 = time.perf_counter()
                scan = build_scan(
                    task,
                    strategy,
                    model,
                    aux,
                    lambda idx: loaders.eval("pool", idx),
                    candidates,
                    labeled,
                    device,
                )
                rows.append(("time/scan_s", time.perf_counter() - t0, cycle))
                t0 = time.perf_counter()
                select_rng = np.random.default_rng(derive_seed(seed, Stream.SELECT, cycle))
                picked = np.asarray(strategy.select(scan, al.budget, select_rng), dtype=np.int64)
                rows.append(("time/select_s", time.perf_counter() - t0, cycle))
                _check_picks(picked, candidates, al.budget, job.strategy)
                labeled = np.concatenate([labeled, picked])
                artifacts[f"selected/cycle_{cycle:02d}.npy"] = picked
            if report is not None:
                report(job.run_name, cycle, al.cycles, cfg.epochs, cfg.epochs, metric)
            # ---- checkpoint first, then log: a crash in between is finished on resume
            if ckpt_path is not None:
                snapshot = _checkpoint(job, run_id, cycle, labeled, model, aux, rows, artifacts)
                ckpt_io.save(ckpt_path, snapshot)
            _log_cycle(tracker, run_id, rows, artifacts)
    except KeyboardInterrupt:
        tracker.end_run(run_id, "KILLED", "interrupted (Ctrl-C)")
        raise
    except BaseException as exc:
        tracker.end_run(run_id, "FAILED", f"{type(exc).__name__}: {exc}")
        raise
    tracker.end_run(run_id, "FINISHED")
    if ckpt_path is not None:
        ckpt_path.unlink(missing_ok=True)  # MLflow's FINISHED status is the record from now on
    return JobResult(run_id, "FINISHED", metric, time.perf_counter() - started)


def _checkpoint(job, run_id, cycle, labeled, model, aux, rows, artifacts):
    """What the next cycle needs to go on exactly as if the job had never stopped."""
    from albench.checkpoint import Checkpoint, capture_rng

    return Checkpoint(
        run_id=run_id,
        config_hash=job.config_hash(),
        cycle=cycle,
        labeled=labeled,
        model=_state(model),
        aux=_state(aux) if aux is not None else None,
        rng=capture_rng(),
        rows=rows,
        artifacts=artifacts,
    )


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _log_cycle(tracker, run_id: str, rows, artifacts: dict[str, Any], dedupe: bool = False):
    """Log one cycle's metric rows and artifacts; ``dedupe`` skips (key, step) already there."""
    if dedupe:
        keys = {k for k, _, _ in rows}
        logged = {(k, s) for k in keys for s, _ in tracker.metric_history(run_id, k)}
        rows = [r for r in rows if (r[0], r[2]) not in logged]
    tracker.log_metrics(run_id, rows)
    for name, value in artifacts.items():
        if name.endswith(".npy"):
            tracker.log_npy(run_id, np.asarray(value), name)
        else:
            tracker.log_frame(run_id, pd.DataFrame(value), name)


def _check_picks(picked: np.ndarray, candidates: np.ndarray, budget: int, name: str) -> None:
    """A strategy must return ``budget`` distinct candidates; anything else is its bug."""
    if len(picked) != budget or len(np.unique(picked)) != budget:
        raise AlbenchError(
            f"strategy {name!r} returned {len(picked)} picks "
            f"({len(np.unique(picked))} distinct), expected {budget} distinct"
        )
    if not np.isin(picked, candidates).all():
        raise AlbenchError(f"strategy {name!r} picked items outside the scanned subset")


def _snapshot(model: torch.nn.Module, aux: torch.nn.Module | None) -> list[dict[str, Any]]:
    return [
        {k: v.detach().clone() for k, v in m.state_dict().items()}
        for m in (model, aux)
        if m is not None
    ]


def _restore(model: torch.nn.Module, aux: torch.nn.Module | None, state) -> None:
    for m, s in zip([m for m in (model, aux) if m is not None], state, strict=True):
        m.load_state_dict(s)
