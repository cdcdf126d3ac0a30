"""MLflow -> one tidy pandas frame: the only layer of the report that reads the store.

Everything comes through :class:`albench.tracking.Tracker` (DESIGN.md "MLflow layout"): the
experiment's runs with their ``albench.*`` tags, the per-cycle metric histories and, for the
scatter plots, the ``test_scores/cycle_NN.csv`` artifacts. Nothing is read from a private
side channel, so a report can be made on any machine that reaches the tracking store.

The tidy frame has one row per (run, metric, cycle) logged with step = cycle: every
``eval/*`` and ``time/*`` metric (``train/loss/*`` is logged per epoch, not per cycle, and
``labeled`` becomes the ``labeled`` column of every row of its cycle). Columns::

    task, strategy, trial, cycle, labeled, metric, value, run_id

Which runs go in: FINISHED runs with an ``albench.task`` tag. A FAILED, KILLED or unfinished
run is left out with its reason (the ``albench.error`` tag), as is an older run of the same
(task, strategy, trial) superseded by a later finished one (a re-run with changed settings
gets a new config hash, so both stay in the experiment). Runs named ``report`` and tagged
``albench.kind = report`` are the report's own record and are never read as job runs; they
carry no ``albench.config_hash`` either, so ``albench run`` never takes one for a finished job.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from albench.errors import AlbenchError, did_you_mean, unknown

__all__ = [
    "FRAME_COLUMNS",
    "REPORT_KIND_TAG",
    "REPORT_RUN_NAME",
    "ExperimentData",
    "ExperimentNotFoundError",
    "RunRecord",
    "load_experiment",
    "load_test_scores",
    "select_runs",
    "tidy_frame",
]

FRAME_COLUMNS = ["task", "strategy", "trial", "cycle", "labeled", "metric", "value", "run_id"]
REPORT_RUN_NAME = "report"
REPORT_KIND_TAG = "albench.kind"  # = "report" on the report's own run; job runs lack it
PER_EPOCH_PREFIX = "train/"  # logged with step = global epoch, not cycle


class ExperimentNotFoundError(AlbenchError):
    """The experiment does not exist in the tracking store, or holds no albench job run."""


@dataclass(frozen=True)
class RunRecord:
    """What the report needs to know about one MLflow run (from its info and tags)."""

    run_id: str
    name: str
    status: str  # FINISHED | FAILED | KILLED | RUNNING | SCHEDULED
    start_time: int  # ms since the epoch; orders re-runs
    tags: dict[str, str]
    params: dict[str, str]
    metric_keys: tuple[str, ...]

    @property
    def task(self) -> str | None:
        return self.tags.get("albench.task")

    @property
    def strategy(self) -> str | None:
        return self.tags.get("albench.strategy")

    @property
    def trial(self) -> int | None:
        trial = self.tags.get("albench.trial")
        return int(trial) if trial is not None and trial.lstrip("-").isdigit() else None

    @property
    def is_report(self) -> bool:
        return self.tags.get(REPORT_KIND_TAG) == "report"


@dataclass(frozen=True)
class ExperimentData:
    """One experiment, read: the tidy frame plus which runs are in it and which are not."""

    experiment: str
    tracking_uri: str
    frame: pd.DataFrame  # FRAME_COLUMNS
    runs: pd.DataFrame  # one row per run in the frame: run_id, name, task, strategy, trial, ...
    left_out: pd.DataFrame  # run_id, name, status, reason
    task_metrics: dict[str, str]  # task -> its metric name ("accuracy", "map", "pckh")


def select_runs(records: Sequence[RunRecord]) -> tuple[list[RunRecord], list[dict[str, str]]]:
    """Split runs into those the report uses and those it leaves out (with the reason).

    Report runs are dropped silently (they are the report's own record, not results).
    """
    kept: dict[tuple[str, str, int], RunRecord] = {}
    left: list[dict[str, str]] = []

    def leave(r: RunRecord, reason: str) -> None:
        left.append({"run_id": r.run_id, "name": r.name, "status": r.status, "reason": reason})

    for r in sorted(records, key=lambda r: (r.start_time, r.run_id)):
        if r.is_report:
            continue
        if r.task is None or r.strategy is None or r.trial is None:
            leave(r, "not an albench job run (no albench.task/strategy/trial tags)")
        elif r.status != "FINISHED":
            error = r.tags.get("albench.error")
            if error:
                reason = f"{r.status}: {error}"
            elif r.status in ("RUNNING", "SCHEDULED"):
                reason = (
                    f"{r.status}: unfinished (still running, or its process died; rerun the "
                    "same `albench run` command to resume it)"
                )
            else:
                reason = f"{r.status} (no albench.error tag)"
            leave(r, reason)
        else:
            key = (r.task, r.strategy, r.trial)
            if key in kept:  # records are oldest first: the later run supersedes
                old = kept[key]
                leave(old, f"superseded by the later run {r.run_id} of the same job")
            kept[key] = r
    runs = sorted(kept.values(), key=lambda r: (r.task, r.strategy, r.trial))
    left.sort(key=lambda d: d["name"])
    return runs, left


def tidy_frame(
    histories: Iterable[tuple[RunRecord, str, Sequence[tuple[int, float]]]],
) -> pd.DataFrame:
    """``(run, metric key, [(step, value), ...])`` -> the tidy frame (module docstring).

    ``labeled`` histories become the ``labeled`` column; per-epoch ``train/`` keys are
    skipped. Sorted by task, strategy, trial, metric, cycle so a report is reproducible.
    """
    rows: list[tuple[Any, ...]] = []
    labeled: dict[tuple[str, int], float] = {}
    for run, key, hist in histories:
        if key == "labeled":
            labeled.update({(run.run_id, int(s)): float(v) for s, v in hist})
        elif not key.startswith(PER_EPOCH_PREFIX):
            rows += [
                (run.task, run.strategy, run.trial, int(s), key, float(v), run.run_id)
                for s, v in hist
            ]
    frame = pd.DataFrame(
        rows, columns=["task", "strategy", "trial", "cycle", "metric", "value", "run_id"]
    )
    frame["labeled"] = [
        labeled.get((r, c), float("nan")) for r, c in zip(frame.run_id, frame.cycle, strict=True)
    ]
    frame = frame[FRAME_COLUMNS].astype({"trial": "int64", "cycle": "int64", "labeled": "float64"})
    keys = ["task", "strategy", "trial", "metric", "cycle"]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def _record(run: Any) -> RunRecord:
    return RunRecord(
        run_id=run.info.run_id,
        name=run.info.run_name or run.info.run_id,
        status=run.info.status,
        start_time=int(run.info.start_time or 0),
        tags=dict(run.data.tags),
        params=dict(run.data.params),
        metric_keys=tuple(sorted(run.data.metrics)),
    )


def _pick(value: Sequence[str] | None, present: Sequence[str], kind: str) -> set[str] | None:
    """Check requested names against those in the experiment; None keeps them all."""
    if value is None:
        return None
    for name in value:
        if name not in present:
            raise unknown(kind, name, present, fix=f"these are the {kind}s of the experiment")
    return set(value)


def _missing(tracker: Any, experiment: str, why: str) -> ExperimentNotFoundError:
    names = [n for n in tracker.experiment_names() if n != experiment]
    listed = ", ".join(repr(n) for n in names) or "none"
    return ExperimentNotFoundError(
        f"experiment {experiment!r} {why}{did_you_mean(experiment, names)}; experiments in "
        f"{tracker.uri}: {listed}; pass one with --experiment (or set MLFLOW_TRACKING_URI)"
    )


def load_experiment(
    tracker: Any,
    experiment: str,
    tasks: Sequence[str] | None = None,
    strategies: Sequence[str] | None = None,
) -> ExperimentData:
    """Read one experiment into :class:`ExperimentData`; ``tasks``/``strategies`` filter it.

    Raises :class:`ExperimentNotFoundError` when the experiment is missing or has no albench
    job run, and :class:`~albench.errors.UnknownNameError` for a task or strategy it lacks.
    """
    if tracker.experiment_id(experiment, create=False) is None:
        raise _missing(tracker, experiment, "does not exist")
    records = [_record(r) for r in tracker.runs(experiment)]
    jobs = [r for r in records if not r.is_report]
    if not jobs:
        raise _missing(tracker, experiment, "has no runs")
    runs, left = select_runs(records)
    if not runs:
        reasons = "; ".join(f"{d['name']}: {d['reason']}" for d in left[:5])
        raise ExperimentNotFoundError(
            f"experiment {experiment!r} has no FINISHED albench run to report on ({reasons})"
        )
    want_tasks = _pick(tasks, sorted({r.task for r in runs}), "task")
    want_strats = _pick(strategies, sorted({r.strategy for r in runs}), "strategy")
    runs = [
        r
        for r in runs
        if (want_tasks is None or r.task in want_tasks)
        and (want_strats is None or r.strategy in want_strats)
    ]
    if not runs:
        raise AlbenchError(
            f"experiment {experiment!r} has no finished run of --tasks {sorted(want_tasks or [])}"
            f" with --strategies {sorted(want_strats or [])}; choose a pair that ran"
        )
    histories = [
        (r, key, tracker.metric_history(r.run_id, key))
        for r in runs
        for key in r.metric_keys
        if not key.startswith(PER_EPOCH_PREFIX)
    ]
    frame = tidy_frame(histories)
    run_table = pd.DataFrame(
        [
            {
                "run_id": r.run_id,
                "name": r.name,
                "task": r.task,
                "strategy": r.strategy,
                "trial": r.trial,
                "seed": r.tags.get("albench.seed", ""),
                "git_sha": r.tags.get("albench.git_sha", ""),
                "config_hash": r.tags.get("albench.config_hash", ""),
                "device": r.params.get("device", ""),
            }
            for r in runs
        ]
    )
    left_table = pd.DataFrame(left, columns=["run_id", "name", "status", "reason"])
    return ExperimentData(
        experiment=experiment,
        tracking_uri=tracker.uri,
        frame=frame,
        runs=run_table,
        left_out=left_table,
        task_metrics=_task_metrics(runs),
    )


def _task_metrics(runs: Sequence[RunRecord]) -> dict[str, str]:
    """Each task's metric: its runs' ``albench.metric`` tag, else its one ``eval/<m>`` key."""
    out: dict[str, str] = {}
    for task in sorted({r.task for r in runs}):
        mine = [r for r in runs if r.task == task]
        tagged = Counter(r.tags["albench.metric"] for r in mine if "albench.metric" in r.tags)
        if tagged:
            out[task] = tagged.most_common(1)[0][0]
            continue
        keys = Counter(
            k.split("/", 1)[1]
            for r in mine
            for k in r.metric_keys
            if k.startswith("eval/") and k.count("/") == 1
        )
        if not keys:
            raise AlbenchError(
                f"task {task!r}: its runs log no eval/<metric> and no albench.metric tag; "
                "they were not made by `albench run`"
            )
        out[task] = keys.most_common(1)[0][0]
    return out


def load_test_scores(tracker: Any, run_id: str, cycle: int) -> pd.DataFrame | None:
    """The run's per-test-sample ``test_scores/cycle_NN.csv`` (index, loss, scorers...), or
    None when the run did not log it."""
    name = f"test_scores/cycle_{cycle:02d}.csv"
    if name not in tracker.artifact_files(run_id, "test_scores"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return pd.read_csv(tracker.download_artifact(run_id, name, tmp))
