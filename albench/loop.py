"""One job = one (task, strategy, trial): the active-learning cycles of docs/protocol.md.

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
import json
import math
import os
import re
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from albench import cpu, signals
from albench.checkpoint import CorruptStateError, ForeignStateError, JobState
from albench.cluster import where_am_i
from albench.config import ALConfig, TaskConfig, config_hash, experiment_file_name
from albench.contracts import EMBEDDING, Scan, Strategy, Task, TaskData
from albench.errors import AlbenchError, BudgetTooLargeError, ConfigError, PoolExhaustedError
from albench.provenance import git_sha
from albench.registry import STRATEGIES, TASKS, check_pair
from albench.schema import (
    CONFIG_JSON,
    EXPECTATIONS_JSON,
    INITIAL_PICKS,
    JOB,
    LABELED,
    PICK_SCORE_PREFIX,
    PLATEAU,
    TIME_SCAN,
    TIME_SELECT,
    TIME_TRAIN,
    Tag,
    artifact,
    curve_key,
    eval_key,
    pick_key,
    quality_key,
    train_loss_key,
)
from albench.scoring import score_quality
from albench.tracking import flatten
from albench.training import Batches, Learner

__all__ = [
    "Job",
    "JobResult",
    "Progress",
    "Reporter",
    "Stream",
    "checkpoint_path",
    "check_picks",
    "derive_seed",
    "plateau",
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
    # how the report compares this job's task (run tags, not configuration: they change no
    # number of the job): the equivalence margin (None: the task's declared one) and, for
    # trials = "auto", the max_trials its rounds run up to (None: a fixed number of trials)
    equivalence_margin: float | None = None
    max_trials: int | None = None

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
            "benchmark_seed": self.seed,
            "al": _fields(self.task.al, balanced_initial=False),
            "train": dataclasses.asdict(self.task.train),
            "task_params": dict(self.task.params),
            "strategy_params": dict(self.strategy_params),
            # which pins the reproducible CPU mode used: other pins, other numbers, other job
            "cpu_pins": cpu.REVISION if self.task.train.reproducible_cpu else 0,
        } | ({"registered_task": self.task.task} if self.task.task else {})

    def config_hash(self) -> str:
        return config_hash(self.config())


def _fields(config: Any, **defaults: Any) -> dict[str, Any]:
    """``config`` as a dict without the fields at the given defaults (options added later
    leave the configuration, and so the hash, of every job that does not use them as is)."""
    out = dataclasses.asdict(config)
    return {k: v for k, v in out.items() if k not in defaults or v != defaults[k]}


@dataclass(frozen=True)
class JobResult:
    run_id: str
    status: str  # FINISHED | FAILED | KILLED
    metric: float  # the task metric at the last cycle (NaN if the job did not get there)
    seconds: float
    error: str = ""


def check_budget(task: str, al: ALConfig, pool_size: int) -> None:
    """Refuse a schedule that needs more labels than ``task``'s pool holds."""
    if al.labels_needed > pool_size:
        raise BudgetTooLargeError(
            f"task {task!r}: al.initial + al.budget x (al.cycles - 1) = "
            f"{al.initial} + {al.budget} x {al.cycles - 1} = {al.labels_needed} labels, but the "
            f"pool has {pool_size}; lower al.budget or al.cycles (e.g. --set al.cycles=N)"
        )


def prepare(job: Job) -> tuple[Task, Strategy, TaskData]:
    """Build the task and strategy and load the data; raise on any bad input, before MLflow."""
    where = f"tasks.{job.task.name}.params"
    task = TASKS.create(job.task.registered, dict(job.task.params), where)
    strategy = STRATEGIES.create(
        job.strategy, dict(job.strategy_params), f"strategies.{job.strategy}"
    )
    check_pair(job.task.registered, task.provides, job.strategy, type(strategy).requires)
    data = task.datasets(job.data_root, job.download)
    al = job.task.al
    check_budget(job.task.name, al, data.pool_size)
    check_facts(job.task.name, data)
    if al.balanced_initial:
        if "class" not in data.facts:
            raise ConfigError(
                f"task {job.task.name!r}: al.balanced_initial needs the pool's true classes, "
                "which this task does not give (TaskData.facts); drop balanced_initial"
            )
        counts = np.unique(data.facts["class"], return_counts=True)[1]
        need = -(-al.initial // len(counts))  # some classes get initial // C + 1
        if counts.min() < need:
            raise ConfigError(
                f"task {job.task.name!r}: al.balanced_initial = true draws up to {need} items "
                f"of each class for al.initial = {al.initial}, but the smallest class has "
                f"{counts.min()}; lower al.initial or drop balanced_initial"
            )
    return task, strategy, data


FACT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")  # a fact is logged as picks/mean/<name>


def check_facts(task: str, data: TaskData) -> None:
    """A task's facts (``TaskData.facts``) must be logged without fail after the first
    cycle's training: each named as a metric can be, one value per pool item."""
    for name, values in data.facts.items():
        if not isinstance(name, str) or not FACT_NAME.fullmatch(name):
            raise AlbenchError(
                f"task {task!r} gives a pool fact named {name!r}; name facts with letters, "
                "numerals, '_', '-' and '.' (TaskData.facts)"
            )
        if np.shape(values) != (data.pool_size,):
            raise AlbenchError(
                f"task {task!r} gives the pool fact {name!r} with shape {np.shape(values)}; "
                f"give one value per pool item, shape ({data.pool_size},) (TaskData.facts)"
            )


def balanced_draw(classes: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` pool indices (sorted), spread over the values of ``classes``: ``size // C``
    of each of the C classes and one more of ``size % C`` classes drawn at random; the items
    of a class drawn at random."""
    classes = np.asarray(classes)
    values = np.unique(classes)
    counts = np.full(len(values), size // len(values))
    counts[rng.choice(len(values), size=size % len(values), replace=False)] += 1
    drawn = [
        rng.choice(np.flatnonzero(classes == c), size=n, replace=False)
        for c, n in zip(values, counts, strict=True)
    ]
    return np.sort(np.concatenate(drawn))


@dataclass(frozen=True)
class Progress:
    """Where a running job is: sent to the runner's progress board."""

    name: str  # task/strategy/trial-N
    cycle: int
    cycles: int
    epoch: int
    epochs: int
    metric: float | None = None  # set once the cycle's evaluation is done


Reporter = Callable[[Progress], None]


def checkpoint_path(state_dir: str | Path, job: Job) -> Path:
    """Where ``job`` keeps its state: one file per (experiment, config hash)."""
    return Path(state_dir) / experiment_file_name(job.experiment) / f"{job.config_hash()}.pt"


def run_job(
    job: Job, report: Reporter | None = None, state_dir: str | Path | None = None
) -> JobResult:
    """Run every cycle of ``job`` and log it to MLflow as one run; see the module docstring.

    Bad input raises :class:`~albench.errors.AlbenchError` before any run is created. A
    failure after that marks the run FAILED (KILLED on Ctrl-C) with the reason, then re-raises.
    With ``state_dir`` the job saves its :class:`JobState` after every cycle and, if one is
    there, resumes at the next cycle in the same MLflow run (results equal an uninterrupted
    run).
    """
    from albench.tracking import Tracker

    if job.task.train.reproducible_cpu:
        cpu.require_pins(job.run_name)
        cpu.settle()
    job_run = _JobRun(job, Tracker(job.tracking_uri), report)
    path = checkpoint_path(state_dir, job) if state_dir is not None else None
    try:
        state = JobState.load(path, job.config_hash()) if path is not None else None
    except (CorruptStateError, ForeignStateError) as exc:  # its run must not stay RUNNING
        run_id = job_run.tracker.unfinished_run(job.experiment, job.config_hash())
        if run_id is not None:
            job_run.end_as(run_id, "FAILED", f"{type(exc).__name__}: {exc}")
        raise
    state = job_run.resume(state) if state is not None else job_run.start(path)
    started = time.perf_counter()
    try:
        for cycle in range(state.cycle + 1, job.task.al.cycles):
            state = job_run.run_cycle(cycle, state)
            if path is not None:  # save first, then log: a crash in between is finished on resume
                state.save(path)
            job_run.log_cycle(state)
    except KeyboardInterrupt:
        how = "SIGTERM" if signals.terminated() else "Ctrl-C, or the driver's cancel"
        job_run.end_as(state.run_id, "KILLED", f"interrupted ({how})")
        raise
    except BaseException as exc:
        job_run.end_as(state.run_id, "FAILED", f"{type(exc).__name__}: {exc}")
        raise
    job_run.tracker.end_run(state.run_id, "FINISHED")
    if path is not None:
        JobState.remove(path)  # MLflow's FINISHED status is the record from now on
    return JobResult(state.run_id, "FINISHED", state.metric, time.perf_counter() - started)


@dataclass
class _Ahead:
    """A look-ahead probe's next cycle: the labeled set it trained on, the test metric it
    reached, its training rows and its weights (``Learner.state()``)."""

    labeled: np.ndarray
    metric: float
    rows: list[tuple[str, float, int]]
    weights: tuple[Any, Any]


class _JobRun:
    """The steps of one job's cycles; holds what they share (no state between cycles but
    the :class:`JobState` passed in and out)."""

    def __init__(self, job: Job, tracker: Any, report: Reporter | None):
        self.job, self.tracker, self.report = job, tracker, report
        self.task, self.strategy, self.data = prepare(job)
        self.al, self.cfg = job.task.al, job.task.train
        seed = job.trial_seed
        self.learner = Learner.build(
            self.task,
            self.strategy,
            self.cfg,
            torch.device(job.device),
            seeds=(derive_seed(seed, Stream.MODEL), derive_seed(seed, Stream.AUX)),
        )
        self.initial = self.learner.state() if self.al.reinit_model else None
        self.learner.batches = Batches(self.task, self.data, self.cfg, self.learner.device)
        self.worker_tags = {
            Tag.HOST: socket.gethostname(),
            Tag.PID: os.getpid(),
        } | where_am_i()
        self.dedupe = False  # True for an adopted run: it may hold some of the rows already
        self.ahead: _Ahead | None = None  # a look-ahead probe's training, kept for the next cycle

    # -- the run
    def start(self, path: Path | None) -> JobState:
        """A new MLflow run with tags, params, config and the initial labeled set."""
        job, task, strategy = self.job, self.task, self.strategy
        tags = {
            Tag.TASK: job.task.name,
            Tag.TASK_REGISTERED: job.task.registered,
            Tag.STRATEGY: job.strategy,
            Tag.TRIAL: job.trial,
            Tag.SEED: job.trial_seed,
            Tag.BENCHMARK: job.benchmark,
            Tag.CONFIG_HASH: job.config_hash(),
            Tag.GIT_SHA: git_sha(),
            Tag.METRIC: task.metric,
            Tag.METRIC_LABEL: task.metric_label or task.metric,
            Tag.METRIC_LOW: task.metric_range[0],
            Tag.METRIC_HIGH: task.metric_range[1],
            Tag.STRATEGY_LABEL: strategy.display_name or job.strategy,
            Tag.STRATEGY_BASELINE: str(strategy.baseline).lower(),
            Tag.STRATEGY_ORACLE: str(strategy.oracle).lower(),
            Tag.STRATEGY_LOOKAHEAD: str(strategy.lookahead).lower(),
            Tag.EQUIVALENCE_MARGIN: (
                job.equivalence_margin
                if job.equivalence_margin is not None
                else task.equivalence_margin
            ),
        } | self.worker_tags
        tags |= self._mlflow_fields(tags[Tag.GIT_SHA])
        if job.max_trials is not None:
            tags[Tag.MAX_TRIALS] = job.max_trials
        params = flatten(job.config()) | {
            "device": job.device,
            "data_root": job.data_root,
            "data_path": self.learner.batches.path,
            "compile": self.learner.compile_note,
        }
        params |= {f"task_info.{k}": str(v) for k, v in task.run_info().items()}
        if self.cfg.reproducible_cpu:
            kernels = cpu.describe()
            params |= {f"cpu.{k}": v for k, v in kernels.items()}
            tags[Tag.CPU_PINNED] = str(cpu.pinned(kernels)).lower()
        tracker = self.tracker
        run_id = tracker.unfinished_run(job.experiment, job.config_hash())
        if run_id is not None:  # a run of this job whose process died before saving a state
            tracker.reopen_run(run_id)
            tracker.delete_tag(run_id, Tag.ERROR)
            tracker.set_tags(run_id, tags | {Tag.ADOPTED: "true"})
            self.dedupe = True
        else:
            experiment_id = tracker.experiment_id(job.experiment)
            run_id = tracker.start_run(experiment_id, job.run_name, tags, params)
            tracker.log_datasets(run_id, self._datasets())
        rng = np.random.default_rng(derive_seed(job.trial_seed, Stream.INITIAL))
        if self.al.balanced_initial:
            labeled = balanced_draw(self.data.facts["class"], self.al.initial, rng)
        else:
            labeled = np.sort(rng.choice(self.data.pool_size, size=self.al.initial, replace=False))
        if len(np.unique(labeled)) != self.al.initial:  # the oracle reveals each label once
            raise AlbenchError(
                f"the initial labeled set has {self.al.initial - len(np.unique(labeled))} "
                "repeated indices; it must be drawn without replacement"
            )
        state = JobState(run_id=run_id, config_hash=job.config_hash(), labeled=labeled)
        try:
            tracker.log_json(run_id, job.config(), CONFIG_JSON)
            known = [dataclasses.asdict(e) for e in self.task.expectations(self.al)]
            if known:  # a scenario's known answers, for the report's scenario check
                tracker.log_json(run_id, known, EXPECTATIONS_JSON)
            tracker.log_npy(run_id, labeled, INITIAL_PICKS)
            if path is not None:  # from now on a rerun resumes this run, even in cycle 0
                state.save(path)
        except BaseException as exc:
            self.end_as(run_id, "FAILED", f"{type(exc).__name__}: {exc}")
            raise
        return state

    def resume(self, state: JobState) -> JobState:
        """Reopen the run of ``state``, restore the weights, finish logging its last cycle."""
        if state.model is not None:
            self.learner.load(state.model, state.aux)
        self.tracker.reopen_run(state.run_id)
        self.tracker.delete_tag(state.run_id, Tag.ERROR)  # from the interrupted attempt
        tags = dict(self.worker_tags)
        if state.cycle + 1 < self.al.cycles:  # else every cycle is done: only logging is left
            tags[Tag.RESUMED_AT_CYCLE] = state.cycle + 1
        self.tracker.set_tags(state.run_id, tags)
        self.dedupe = True
        self.log_cycle(state)
        return state

    def _mlflow_fields(self, commit: str) -> dict[str, str]:
        """The tags MLflow's own UI reads: the run's kind (a job, beside the report's run), its
        description, its source and ``commit``."""
        job = self.job
        return {
            Tag.KIND: JOB,
            "mlflow.note.content": (
                f"Task `{job.task.name}`, strategy `{job.strategy}`, trial {job.trial} (seed "
                f"{job.trial_seed}) of benchmark `{job.benchmark}`: "
                f"{self.al.cycles} cycles from {self.al.initial} labels, +{self.al.budget} each; "
                f"`{curve_key(self.task.metric)}` is the {self.task.metric} against "
                "the labeled count."
            ),
            "mlflow.source.name": "albench",
            "mlflow.source.type": "LOCAL",
            "mlflow.source.git.commit": commit,
        }

    def _datasets(self) -> list[tuple[str, str, str]]:
        """(context, name, digest) of the pool and test split this job ran on: the digest
        names the split by its definition (task, parameters, data path, size)."""
        import hashlib

        job, path = self.job, self.learner.batches.path
        out = []
        for context, size in (("pool", self.data.pool_size), ("test", len(self.data.test))):
            name = f"{job.task.name}/{context}"
            definition = json.dumps(
                [job.task.registered, dict(job.task.params), path, context, size],
                sort_keys=True, default=str,
            )  # fmt: skip
            out.append((context, name, hashlib.sha256(definition.encode()).hexdigest()[:16]))
        return out

    def end_as(self, run_id: str, status: str, reason: str) -> None:
        """End the run as KILLED or FAILED if the store lets us (it may be why we stopped:
        then the run stays RUNNING and a rerun resumes it from its saved state)."""
        try:
            self.tracker.end_run(run_id, status, reason)
        except Exception as exc:
            print(
                f"albench: could not mark {self.job.run_name} {status} in the tracking store "
                f"({type(exc).__name__}); rerun the command to resume it",
                file=sys.stderr,
            )

    def log_cycle(self, state: JobState) -> None:
        """Log a cycle's metric rows and artifacts; a resumed or adopted run skips the
        (key, step) pairs it holds already, so no step is ever logged twice."""
        tracker, run_id, rows = self.tracker, state.run_id, state.rows
        if self.dedupe:
            keys = {k for k, _, _ in rows}
            logged = {(k, s) for k in keys for s, _ in tracker.metric_history(run_id, k)}
            rows = [r for r in rows if (r[0], r[2]) not in logged]
        tracker.log_metrics(run_id, rows)
        for name, value in state.artifacts.items():
            if name.endswith(".npy"):
                tracker.log_npy(run_id, np.asarray(value), name)
            else:
                tracker.log_frame(run_id, pd.DataFrame(value), name)

    # -- one cycle
    def run_cycle(self, cycle: int, state: JobState) -> JobState:
        """Train, evaluate and (except after the last cycle) select; the new state."""
        self._progress(cycle, 0)
        if self.initial is not None and cycle > 0:
            self.learner.load(*self.initial)
        ahead, self.ahead = self.ahead, None
        if ahead is not None and np.array_equal(ahead.labeled, state.labeled):
            self.learner.load(*ahead.weights)  # the probe trained exactly this cycle already
            rows = ahead.rows
        else:
            rows = self._train(cycle, state.labeled)
        result = self.learner.evaluate(
            self.learner.batches.eval("test", np.arange(len(self.data.test)))
        )
        rows += [(eval_key(self.task.metric), result.metric, cycle)]
        rows += [(LABELED, len(state.labeled), cycle)]
        # the same metric with the labeled count as its step: MLflow charts it as the curve
        rows += [(curve_key(self.task.metric), result.metric, len(state.labeled))]
        for name, score in result.scores.items():
            for stat, value in score_quality(score, result.loss).items():
                rows.append((quality_key(stat, name), value, cycle))
        columns = {"index": np.arange(len(result.loss)), "loss": result.loss}
        columns |= result.outcome | result.scores
        artifacts: dict[str, Any] = {artifact("test_scores", cycle): columns}
        labeled = state.labeled
        if cycle < self.al.cycles - 1:
            picked, scores = self._select(cycle, labeled, rows)
            facts = pick_facts(picked, labeled, self.data.facts) | self._crowding(picked, labeled)
            rows += [(k, v, cycle) for k, v in facts.items()]
            labeled = np.concatenate([labeled, picked])
            artifacts[artifact("selected", cycle, "npy")] = picked
            table = self._picks_table(cycle, picked) | scores
            artifacts[artifact("selected", cycle)] = table
        self._progress(cycle, self.cfg.epochs, result.metric)
        model, aux = self.learner.state()
        return dataclasses.replace(
            state, labeled=labeled, cycle=cycle, metric=result.metric, model=model, aux=aux,
            rows=rows, artifacts=artifacts,
        )  # fmt: skip

    def _picks_table(self, cycle: int, picked: np.ndarray) -> dict[str, Any]:
        """The picks as MLflow can show them: cycle, pool index, and every fact the task
        states per pool item (its true class, for one), in pick order."""
        table: dict[str, Any] = {"cycle": np.full(len(picked), cycle), "index": picked}
        for name, values in self.data.facts.items():
            table[name] = np.asarray(values)[picked]
        return table

    def _crowding(self, picked: np.ndarray, labeled: np.ndarray) -> dict[str, float]:
        """``picks/near_share`` (:func:`near_share`) in the embedding of the model that picked,
        for a task that provides one (one inference pass over the labeled set and the picks)."""
        if EMBEDDING not in self.task.provides or self.al.initial < 2:
            return {}  # no embedding, or no two initial items to set the threshold
        both = np.concatenate([labeled, picked])
        embed = self.learner.infer(self.learner.batches.eval("pool", both), _embedding)["embedding"]
        vectors = embed.cpu().double().numpy()
        n = len(labeled)
        return {pick_key("near_share"): near_share(vectors[n:], vectors[:n], self.al.initial)}

    def _train(
        self, cycle: int, labeled: np.ndarray, quiet: bool = False
    ) -> list[tuple[str, float, int]]:
        """Train on the labeled set (Eq. 3); the per-epoch loss rows and the time (with no
        progress shown when ``quiet``: a look-ahead probe)."""
        seed, cfg = self.job.trial_seed, self.cfg
        torch.manual_seed(derive_seed(seed, Stream.AUGMENT, cycle))
        batches = self.learner.batches.train(
            labeled,
            seed=derive_seed(seed, Stream.SHUFFLE, cycle),
            drop_last=len(labeled) % cfg.batch_size == 1,  # never a batch of one (BatchNorm)
        )
        t0 = time.perf_counter()
        shown = None if quiet else (lambda e, _: self._progress(cycle, e + 1))
        history = self.learner.train(batches, cfg, shown)
        rows = [
            (train_loss_key(term), value, cycle * cfg.epochs + epoch)
            for epoch, means in enumerate(history)
            for term, value in means.items()
        ]
        fall = plateau([m["target"] for m in history])
        if not math.isnan(fall):  # fewer than 3 epochs: no figure, rather than a NaN row
            rows.append((PLATEAU, fall, cycle))
        return rows + [(TIME_TRAIN, time.perf_counter() - t0, cycle)]

    def _select(
        self, cycle: int, labeled: np.ndarray, rows: list
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """K new items from the random subset S_M of the unlabeled pool (times into rows),
        and the strategy's scores of them (``score/<name>`` -> (K,), pick order)."""
        seed, al = self.job.trial_seed, self.al
        unlabeled = np.setdiff1d(np.arange(self.data.pool_size), labeled)
        sub_rng = np.random.default_rng(derive_seed(seed, Stream.SUBSET, cycle))
        m = al.subset if 0 < al.subset < len(unlabeled) else len(unlabeled)
        candidates = sub_rng.choice(unlabeled, size=m, replace=False)  # random order
        if al.budget > len(candidates):
            raise PoolExhaustedError(
                f"cycle {cycle}: {al.budget} picks asked from {len(candidates)} candidates"
            )
        t0 = time.perf_counter()
        scan = self.learner.scan(candidates, labeled)
        if type(self.strategy).lookahead:
            scan.probe = self._probe(cycle, labeled)
        rows.append((TIME_SCAN, time.perf_counter() - t0, cycle))
        t0 = time.perf_counter()
        select_rng = np.random.default_rng(derive_seed(seed, Stream.SELECT, cycle))
        picked = np.asarray(self.strategy.select(scan, al.budget, select_rng), dtype=np.int64)
        rows.append((TIME_SELECT, time.perf_counter() - t0, cycle))
        check_picks(picked, candidates, labeled, al.budget)
        return picked, pick_scores(scan, picked, type(self.strategy).scores)

    def _probe(self, cycle: int, labeled: np.ndarray) -> Callable[[np.ndarray], float]:
        """A look-ahead oracle's probe (``Scan.probe``): ``probe(group)`` is the test metric
        that the next cycle would reach with ``group`` labeled. It runs that cycle's training
        exactly (the same start, schedule and seeds, over the labeled set then the group, in
        the order the loop appends them), evaluates the test split and restores the model:
        a group the oracle picks scores in the next cycle what its probe said. The best
        probe of the largest groups is kept (``self.ahead``), so the next cycle loads its
        weights instead of training them again (a probe costs one cycle's training)."""
        self.ahead = None
        saved = self.learner.state()
        test = np.arange(len(self.data.test))

        def probe(group: np.ndarray) -> float:
            after = np.concatenate([labeled, np.asarray(group, np.int64)])
            try:
                if self.initial is not None:
                    self.learner.load(*self.initial)
                rows = self._train(cycle + 1, after, quiet=True)
                metric = self.learner.evaluate(self.learner.batches.eval("test", test)).metric
                best = self.ahead
                if best is None or (len(after), metric) > (len(best.labeled), best.metric):
                    self.ahead = _Ahead(after, metric, rows, self.learner.state())
                return metric
            finally:
                self.learner.load(*saved)

        return probe

    def _progress(self, cycle: int, epoch: int, metric: float | None = None) -> None:
        if self.report is not None:
            p = Progress(self.job.run_name, cycle, self.al.cycles, epoch, self.cfg.epochs, metric)
            self.report(p)


def plateau(losses: list[float]) -> float:
    """How much the training loss still moved at the end of a cycle: the relative change of
    the per-epoch mean loss over the last 20 % of the epochs (at least 3), read off a
    least-squares line through them (so one noisy epoch does not decide it): the line's
    change across those epochs divided by their mean. Negative while the loss still falls;
    NaN with fewer than 3 epochs.

    Logged per cycle as ``train/plateau`` (not at all with fewer than 3 epochs);
    docs/protocol.md gives the rule that reads it.
    """
    n = max(3, round(0.2 * len(losses)))
    if len(losses) < n:
        return math.nan
    tail = np.asarray(losses[-n:], dtype=np.float64)
    mean = tail.mean()
    if mean == 0:
        return 0.0
    slope = np.polyfit(np.arange(n, dtype=np.float64), tail, 1)[0]
    return float(slope * (n - 1) / mean)


def pick_facts(
    picked: np.ndarray, labeled: np.ndarray, facts: dict[str, np.ndarray]
) -> dict[str, float]:
    """What a cycle's picks are, from the pool's facts (``TaskData.facts``), logged per cycle:
    ``picks/class/<c>``, how many picks are of true class c (every class of the pool, zeros
    included); ``picks/copy_share``, the share of picks that are a copy of another pick or of
    a labeled item; ``picks/honeypot_share``, the share with a wrong label; for any other
    fact (a number per item, e.g. objects per image), ``picks/mean/<name>``, its mean over the
    picks. Only the facts a task gives are measured."""
    out: dict[str, float] = {}
    if "class" in facts:
        classes = np.asarray(facts["class"])
        for c in np.unique(classes):
            out[pick_key("class", c)] = float((classes[picked] == c).sum())
    if "copy_of" in facts:
        source = np.asarray(facts["copy_of"])
        mine, counts = np.unique(source[picked], return_counts=True)
        twice = mine[counts > 1]
        copies = np.isin(source[picked], twice) | np.isin(source[picked], source[labeled])
        out[pick_key("copy_share")] = float(copies.mean())
    if "honeypot" in facts:
        out[pick_key("honeypot_share")] = float(np.asarray(facts["honeypot"])[picked].mean())
    for name, values in facts.items():
        if name not in ("class", "copy_of", "honeypot"):
            out[pick_key("mean", name)] = float(np.asarray(values, dtype=np.float64)[picked].mean())
    return out


def pick_scores(scan: Scan, picked: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``score/<name>`` -> (K,) the scan's value of each pick, in pick order, for the
    per-sample scores a strategy declares (``Strategy.scores``) that its scan holds."""
    where = {int(c): i for i, c in enumerate(scan.candidates)}
    rows = np.array([where[int(p)] for p in picked], dtype=np.int64)
    out = {}
    for name in names:
        if name in scan.stats:
            values = scan.stats[name].detach().double().cpu().numpy().reshape(-1)
            out[f"{PICK_SCORE_PREFIX}{name}"] = values[rows]
    return out


def near_share(picks: np.ndarray, labeled: np.ndarray, initial: int) -> float:
    """The share of picks that are near-duplicates: closer (Euclidean, rows are embeddings)
    to another pick or a labeled item than the 10th percentile of the nearest-neighbour
    distances within the first ``initial`` labeled rows (the random initial set, the same for
    every strategy of a trial). The threshold does not depend on what a strategy picked, so
    strategies compare at the same cycle; uniformly drawn picks score about 0.1 in the first
    cycle and more later (a larger labeled set has nearer neighbours)."""
    from scipy.spatial.distance import cdist

    start = labeled[:initial]
    within = cdist(start, start)
    np.fill_diagonal(within, np.inf)
    threshold = np.quantile(within.min(axis=1), 0.1)
    gaps = cdist(picks, np.concatenate([picks, labeled]))  # (K, K + L)
    gaps[np.arange(len(picks)), np.arange(len(picks))] = np.inf  # a pick is not its own copy
    return float((gaps.min(axis=1) < threshold).mean())


def _embedding(out: Any, batch: Any) -> dict[str, torch.Tensor]:
    return {"embedding": out.embedding.float()}


def check_picks(
    picked: np.ndarray, candidates: np.ndarray, labeled: np.ndarray, budget: int
) -> None:
    """A strategy must return ``budget`` distinct, unlabeled candidates; else it has a bug."""
    distinct = len(np.unique(picked))
    if len(picked) != budget or distinct != budget:
        raise AlbenchError(
            f"the strategy returned {len(picked)} picks ({distinct} distinct), expected "
            f"{budget} distinct"
        )
    if not np.isin(picked, candidates).all():
        raise AlbenchError("the strategy picked items outside the scanned subset")
    if np.isin(picked, labeled).any():
        raise AlbenchError("the strategy picked items that are already labeled")
