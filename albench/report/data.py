"""MLflow -> one tidy pandas frame: the only layer of the report that reads the store.

Everything comes through :class:`albench.tracking.Tracker` (docs/browsing-results.md): the
experiment's runs with their ``albench.*`` tags, the per-cycle metric histories and, for the
scatter plots, the ``test_scores/cycle_NN.csv`` artifacts. Nothing is read from a private
side channel, so a report can be made on any machine that reaches the tracking store.

The tidy frame has one row per (run, metric, cycle) logged with step = cycle: every
``eval/*`` and ``time/*`` metric (``train/loss/*`` is logged per epoch, not per cycle,
``curve/*`` against the labeled count, for MLflow's own charts; ``labeled`` becomes the
``labeled`` column of every row of its cycle). Columns::

    task, strategy, trial, cycle, labeled, metric, value, run_id

Besides the frame, everything else the report shows is read here too, before anything is
drawn (:func:`load_report_data`): each strategy's display name, baseline, oracle and look-ahead
status (run tags ``albench.strategy_label``, ``albench.strategy_baseline``,
``albench.strategy_oracle``, ``albench.strategy_lookahead``, else the strategy class's
attributes), each task's metric display name and range
(``albench.metric_label``, ``albench.metric_low``, ``albench.metric_high``), the paper's
published numbers (the task class's ``paper_results``), the strategy order (the registry's)
and every run's last-cycle ``test_scores`` CSV (scatter plots, degenerate scorers). A
comparison report reads several experiments the same way (:func:`load_compare_data`). The
renderer never reads the store.

Which runs go in: FINISHED runs with an ``albench.task`` tag. A FAILED, KILLED or unfinished
run is left out with its reason (the ``albench.error`` tag), as is an older run of the same
(task, strategy, trial) superseded by a later finished one (a re-run with changed settings
gets a new config hash, so both stay in the experiment). Runs named ``report`` and tagged
``albench.kind = report`` are the report's own record and are never read as job runs; they
carry no ``albench.config_hash`` either, so ``albench run`` never takes one for a finished job.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from albench.errors import AlbenchError, ConfigError, did_you_mean, unknown
from albench.schema import LABELED, REPORT, Tag, artifact, is_per_epoch, metric_of

if TYPE_CHECKING:
    from albench.report.options import ReportOptions

__all__ = [
    "FRAME_COLUMNS",
    "CompareData",
    "ExperimentData",
    "ExperimentNotFoundError",
    "MetricInfo",
    "PaperResults",
    "ReportData",
    "RunRecord",
    "StrategyInfo",
    "default_experiment",
    "load_compare_data",
    "load_experiment",
    "load_report_data",
    "load_test_scores",
    "paper_results",
    "pick_baselines",
    "registry_order",
    "scatter_trials",
    "select_runs",
    "tidy_frame",
]

FRAME_COLUMNS = ["task", "strategy", "trial", "cycle", "labeled", "metric", "value", "run_id"]
DEFAULT_MARGIN = 0.01  # when neither the runs nor the task class declare one

# quantity ("metric", "rank_acc/<scorer>", "pearson/<scorer>") -> strategy -> (value, source)
PaperResults = dict[str, dict[str, tuple[float, str]]]


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
        return self.tags.get(Tag.TASK)

    @property
    def strategy(self) -> str | None:
        return self.tags.get(Tag.STRATEGY)

    @property
    def trial(self) -> int | None:
        trial = self.tags.get(Tag.TRIAL)
        return int(trial) if trial is not None and trial.lstrip("-").isdigit() else None

    @property
    def is_report(self) -> bool:
        return self.tags.get(Tag.KIND) == REPORT


@dataclass(frozen=True)
class StrategyInfo:
    """How the report shows one strategy and what it compares it with."""

    name: str
    label: str  # display name (legends, tables)
    baseline: bool = False  # a default --baselines entry
    oracle: bool = False  # drawn dashed, never a baseline
    lookahead: bool = False  # an oracle that picks by the test metric: the positive control
    scores: tuple[str, ...] = ()  # the per-sample scores it selects by (its class's ``scores``)


@dataclass(frozen=True)
class MetricInfo:
    """A task's metric: its key (``eval/<key>``), display name and range."""

    key: str
    label: str
    low: float = 0.0
    high: float = 1.0
    equivalence_margin: float = (
        DEFAULT_MARGIN  # equivalence margin of its comparisons, metric units
    )
    max_trials: int | None = None  # trials = "auto": the rounds' max_trials; None: fixed


@dataclass(frozen=True)
class ExperimentData:
    """One experiment, read: the tidy frame plus which runs are in it and which are not."""

    experiment: str
    tracking_uri: str
    frame: pd.DataFrame  # FRAME_COLUMNS
    runs: pd.DataFrame  # one row per run in the frame: run_id, name, task, strategy, trial, ...
    left_out: pd.DataFrame  # run_id, name, status, reason
    task_metrics: dict[str, str]  # task -> its metric key (its runs' albench.metric tag)
    strategies: dict[str, StrategyInfo] = field(default_factory=dict)  # in strategy order
    metrics: dict[str, MetricInfo] = field(default_factory=dict)  # task -> its metric
    paper: dict[str, PaperResults] = field(default_factory=dict)  # task -> published numbers

    @property
    def order(self) -> list[str]:
        """The experiment's strategies in strategy order (registry, then alphabetical)."""
        return list(self.strategies)


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows, read from the store before anything is drawn."""

    exp: ExperimentData
    trials: dict[str, int]  # task -> the trial of its scatter plots
    baselines: tuple[str, ...]  # every strategy is compared with these; the first is the
    # reference of label efficiency
    test_scores: dict[str, pd.DataFrame | None]  # run_id -> its last cycle's test_scores CSV
    # (every run; None: the run logged none)
    expectations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # task ->
    # its scenario's known answers (a run's expectations.json; Expectation as dicts)
    picks: dict[str, Any] = field(default_factory=dict)  # run_id -> every item its strategy
    # picked (np.ndarray; selected/cycle_*.npy, the initial set left out)


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
            error = r.tags.get(Tag.ERROR)
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
        if key == LABELED:
            labeled.update({(run.run_id, int(s)): float(v) for s, v in hist})
        elif not is_per_epoch(key):
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
        if not is_per_epoch(key)
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
                "seed": r.tags.get(Tag.SEED, ""),
                "git_sha": r.tags.get(Tag.GIT_SHA, ""),
                "config_hash": r.tags.get(Tag.CONFIG_HASH, ""),
                "device": r.params.get("device", ""),
            }
            for r in runs
        ]
    )
    left_table = pd.DataFrame(left, columns=["run_id", "name", "status", "reason"])
    task_metrics = _task_metrics(runs)
    return ExperimentData(
        experiment=experiment,
        tracking_uri=tracker.uri,
        frame=frame,
        runs=run_table,
        left_out=left_table,
        task_metrics=task_metrics,
        strategies=_strategy_infos(runs),
        metrics={t: _metric_info(runs, t, m) for t, m in task_metrics.items()},
        paper={t: paper_results(t) for t in task_metrics},
    )


def _task_metrics(runs: Sequence[RunRecord]) -> dict[str, str]:
    """Each task's metric: its runs' ``albench.metric`` tag, else its one ``eval/<m>`` key."""
    out: dict[str, str] = {}
    for task in sorted({r.task for r in runs}):
        mine = [r for r in runs if r.task == task]
        tagged = Counter(r.tags[Tag.METRIC] for r in mine if Tag.METRIC in r.tags)
        if tagged:
            out[task] = tagged.most_common(1)[0][0]
            continue
        keys = Counter(m for r in mine for k in r.metric_keys if (m := metric_of(k)))
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
    name = artifact("test_scores", cycle)
    if name not in tracker.artifact_files(run_id, "test_scores"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return pd.read_csv(tracker.download_artifact(run_id, name, tmp))


# ------------------------------------------------------------- strategies, metrics, paper
def _tag(runs: Iterable[RunRecord], key: str) -> str | None:
    """The most common value of tag ``key`` among ``runs`` (None: none has it)."""
    values = Counter(r.tags[key] for r in runs if key in r.tags)
    return values.most_common(1)[0][0] if values else None


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() == "true"


def _strategy_class(name: str) -> Any:
    """The registered class of strategy ``name``, or None when it cannot be had."""
    try:
        from albench.registry import STRATEGIES

        return STRATEGIES.get(name)
    except Exception:
        return None


def registry_order() -> list[str]:
    """The registry's strategy order (built-ins as registered, then plug-ins); [] if unknown."""
    try:
        from albench.registry import STRATEGIES

        return [str(n) for n in STRATEGIES.names()]
    except Exception:
        return []


def _strategy_infos(runs: Sequence[RunRecord]) -> dict[str, StrategyInfo]:
    """Every strategy of ``runs`` in strategy order, with its display name and roles from
    its runs' tags, else from its class (``baseline``/``oracle``; label: the name)."""
    from albench.report.stats import strategy_order

    out = {}
    for name in strategy_order({r.strategy for r in runs}, registry_order()):
        mine = [r for r in runs if r.strategy == name]
        cls = _strategy_class(name)
        scores = getattr(cls, "scores", ())
        out[name] = StrategyInfo(
            name=name,
            label=_tag(mine, Tag.STRATEGY_LABEL) or name,
            baseline=_flag(
                _tag(mine, Tag.STRATEGY_BASELINE), bool(getattr(cls, "baseline", False))
            ),
            oracle=_flag(_tag(mine, Tag.STRATEGY_ORACLE), bool(getattr(cls, "oracle", False))),
            lookahead=_flag(
                _tag(mine, Tag.STRATEGY_LOOKAHEAD), bool(getattr(cls, "lookahead", False))
            ),
            scores=tuple(str(s) for s in scores) if isinstance(scores, tuple | list) else (),
        )
    return out


def _float(value: str | None, default: float) -> float:
    try:
        out = float(value) if value is not None else default
    except ValueError:
        return default
    return out if math.isfinite(out) else default


def _metric_info(runs: Sequence[RunRecord], task: str, key: str) -> MetricInfo:
    """A task's metric from its runs' tags; the margin, when no run has it (runs made
    before albench logged it), from the task's class."""
    mine = [r for r in runs if r.task == task]
    equivalence_margin = _float(_tag(mine, Tag.EQUIVALENCE_MARGIN), _declared_margin(task))
    max_trials = _tag(mine, Tag.MAX_TRIALS)
    return MetricInfo(
        key=key,
        label=_tag(mine, Tag.METRIC_LABEL) or key,
        low=_float(_tag(mine, Tag.METRIC_LOW), 0.0),
        high=_float(_tag(mine, Tag.METRIC_HIGH), 1.0),
        equivalence_margin=equivalence_margin if equivalence_margin > 0 else _declared_margin(task),
        # a tag that is no positive whole number (hand-edited, corrupt) counts as absent
        max_trials=int(max_trials)
        if max_trials and max_trials.isdigit() and int(max_trials)
        else None,
    )


def _declared_margin(task: str) -> float:
    """The task class's ``equivalence_margin`` (:data:`DEFAULT_MARGIN` when unknown)."""
    try:
        from albench.registry import TASKS

        return float(TASKS.get(task).equivalence_margin)
    except Exception:
        return DEFAULT_MARGIN


def paper_results(task: str) -> PaperResults:
    """The paper's numbers for ``task``: its class's ``paper_results`` ({} when the task
    declares none or its class cannot be had)."""
    try:
        from albench.registry import TASKS

        declared: Mapping[str, Mapping[str, Any]] = getattr(TASKS.get(task), "paper_results", {})
        return {
            str(q): {str(s): (float(v[0]), str(v[1])) for s, v in per.items()}
            for q, per in (declared or {}).items()
        }
    except Exception:
        return {}


# ------------------------------------------------------------------ what one report reads
def default_experiment(tracker: Any) -> str:
    """The experiment to report on when none is named: the only one that holds runs."""
    names = [n for n in tracker.experiment_names() if tracker.runs(n)]
    if len(names) == 1:
        return names[0]
    listed = ", ".join(repr(n) for n in names) or "none"
    why = "no experiment with runs" if not names else "several experiments"
    raise ExperimentNotFoundError(
        f"{why} in {tracker.uri} ({listed}); name one with --experiment NAME"
    )


def scatter_trials(data: ExperimentData, trial: int | None) -> dict[str, int]:
    """The scatter plots' trial per task: ``trial`` if every task has it, else the first."""
    out = {}
    for task, g in data.runs.groupby("task", sort=True):
        trials = sorted(g.trial.unique())
        if trial is None:
            out[task] = int(trials[0])
        elif trial in trials:
            out[task] = trial
        else:
            raise ConfigError(
                f"--trial {trial}: task {task!r} has trials {', '.join(map(str, trials))}; "
                "pick one of those"
            )
    return out


def pick_baselines(data: ExperimentData, names: Sequence[str] | None) -> tuple[str, ...]:
    """The strategies every other is compared with: ``names`` (each must have runs and be no
    oracle), else those the runs tag as baselines, in strategy order."""
    if names is None:
        return tuple(s.name for s in data.strategies.values() if s.baseline and not s.oracle)
    for name in names:
        if name not in data.strategies:
            present = data.order
            raise ConfigError(
                f"--baselines: strategy {name!r} has no runs in experiment "
                f"{data.experiment!r}{did_you_mean(name, present)}; its strategies: "
                f"{', '.join(present)}"
            )
        if data.strategies[name].oracle:
            raise ConfigError(f"--baselines: strategy {name!r} is an oracle, never a baseline")
    return tuple(dict.fromkeys(names))


def _last_scores(tracker: Any, data: ExperimentData) -> dict[str, pd.DataFrame | None]:
    """run_id -> the last cycle's ``test_scores`` CSV of every run (None: it logged none).

    Every run's, not only the scatter trial's: whether a scorer is degenerate is judged on
    every trial."""
    last = data.frame.groupby("run_id").cycle.max()
    return {
        run_id: load_test_scores(tracker, run_id, int(last[run_id]))
        for run_id in sorted(data.runs.run_id)
        if run_id in last.index
    }


def load_report_data(tracker: Any, experiment: str, options: ReportOptions) -> ReportData:
    """Everything the report of ``experiment`` shows, checked (tasks, strategies, trial,
    baselines) and read before a file is written."""
    data = load_experiment(tracker, experiment, options.tasks, options.strategies)
    trials = scatter_trials(data, options.trial)
    baselines = pick_baselines(data, options.baselines)
    expectations = load_expectations(tracker, data)
    scores, picks = _last_scores(tracker, data), load_picks(tracker, data)
    return ReportData(data, trials, baselines, scores, expectations, picks)


def load_picks(tracker: Any, data: ExperimentData) -> dict[str, Any]:
    """run_id -> every pool item the run's strategy picked, in cycle order (its
    ``selected/cycle_*.npy`` files; the initial set, the same for every strategy of a trial,
    is left out). A run with none, or with a file that is not an array of indices (corrupt,
    hand-edited), is absent."""
    import numpy as np

    out: dict[str, Any] = {}
    for run_id in sorted(data.runs.run_id):
        files = [
            f for f in tracker.artifact_files(run_id, "selected")
            if "/cycle_" in f and f.endswith(".npy")
        ]  # fmt: skip
        if not files:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            try:
                parts = [np.load(tracker.download_artifact(run_id, f, tmp)) for f in files]
            except (OSError, ValueError):
                continue
        if all(p.ndim == 1 and p.dtype.kind in "iu" for p in parts):
            out[run_id] = np.concatenate(parts)
    return out


EXPECTATIONS_FILE = "expectations.json"


def _is_expectation(e: Any) -> bool:
    """Whether ``e`` reads as an ``Expectation`` (strategy, baseline: names; verdicts: a
    list of names)."""
    return (
        isinstance(e, dict)
        and isinstance(e.get("strategy"), str)
        and isinstance(e.get("baseline"), str)
        and isinstance(e.get("verdicts"), list)
        and all(isinstance(v, str) for v in e["verdicts"])
    )


def load_expectations(tracker: Any, data: ExperimentData) -> dict[str, list[dict[str, Any]]]:
    """task -> the expectations its first run logged (``expectations.json``: what the
    task, as configured, states of its scenario); tasks with none are absent. A file that
    is not a list of expectations (hand-edited, corrupt) counts as absent."""
    out: dict[str, list[dict[str, Any]]] = {}
    for task, runs in data.runs.groupby("task", sort=True):
        run_id = sorted(runs.run_id)[0]
        if EXPECTATIONS_FILE not in tracker.artifact_files(run_id):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            try:
                known = json.loads(
                    tracker.download_artifact(run_id, EXPECTATIONS_FILE, tmp).read_text()
                )
            except (OSError, ValueError):
                continue
        if isinstance(known, list) and all(map(_is_expectation, known)):
            out[str(task)] = known
    return out


@dataclass(frozen=True)
class CompareData:
    """Several experiments read for a comparison report, in the order they were named."""

    exps: tuple[ExperimentData, ...]

    @property
    def names(self) -> list[str]:
        return [e.experiment for e in self.exps]

    @property
    def strategies(self) -> dict[str, StrategyInfo]:
        """Every experiment's strategies, each once, in strategy order (the first
        experiment's display name and roles win)."""
        from albench.report.stats import strategy_order

        infos: dict[str, StrategyInfo] = {}
        for e in self.exps:
            for name, info in e.strategies.items():
                infos.setdefault(name, info)
        return {s: infos[s] for s in strategy_order(infos, registry_order())}

    def tasks(self) -> list[str]:
        """Tasks present in at least two of the experiments, sorted."""
        count = Counter(t for e in self.exps for t in e.task_metrics)
        return sorted(t for t, n in count.items() if n >= 2)


def load_compare_data(tracker: Any, names: Sequence[str], options: ReportOptions) -> CompareData:
    """The experiments ``names`` (at least two, each once), filtered by ``options``' tasks
    and strategies, for a comparison report."""
    names = list(dict.fromkeys(names))
    if len(names) < 2:
        raise ConfigError(f"a comparison needs two different experiments; got {names}")
    exps = tuple(load_experiment(tracker, n, options.tasks, options.strategies) for n in names)
    data = CompareData(exps)
    if not data.tasks():
        per = "; ".join(f"{e.experiment}: {', '.join(sorted(e.task_metrics))}" for e in exps)
        raise ConfigError(f"the experiments share no task, so there is nothing to compare ({per})")
    return data
