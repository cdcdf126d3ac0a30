"""The run schema: what albench writes to the tracking store, defined once here and read
back through these names by the loop, the runner, the report and :mod:`albench.api`.

This module is the contract for anyone who reads albench's runs from MLflow. It imports
nothing but the standard library.

**Runs.** One MLflow run per job (task x strategy x trial), named ``<task>/<strategy>/trial-
<n>`` and tagged ``albench.kind = job``; the report logs a run of its own tagged
``albench.kind = report``. A job run's tags are the names in :class:`Tag`; its params are its
flattened configuration (``train.lr``, ``al.budget``, ...) plus ``device``, ``data_root``,
``data_path`` and ``compile``.

**Metrics** (the ``*_key`` functions and the constants below), ``step`` = the cycle unless said:

- ``eval/<metric>``: the task's metric on the test split after the cycle (``accuracy``,
  ``map``, ``pckh``; the run's ``albench.metric`` tag names it);
- ``eval/<quality>/<scorer>``: how a score of the model ranks the true test loss, for each
  quality in :data:`QUALITIES` (ranking accuracy, Pearson, Spearman);
- ``labeled``: the labeled count the cycle trained on;
- ``curve/<metric>``: the metric again with step = the labeled count (MLflow's charts);
- ``train/loss/<term>`` per epoch (step = cycle x epochs + epoch), ``train/plateau``;
- ``time/train_s``, ``time/scan_s``, ``time/select_s``: seconds;
- ``picks/...``: what the cycle's picks are (``picks/class/<c>``, ``picks/mean/<fact>``,
  ``picks/copy_share``, ``picks/honeypot_share``, ``picks/near_share``).

**Artifacts**: ``config.json``, ``expectations.json`` (a scenario's known answers),
``selected/initial.npy`` and per cycle ``selected/cycle_NN.npy`` and ``.csv``, and
``test_scores/cycle_NN.csv`` (:func:`artifact`).

``test_scores/cycle_NN.csv`` (one row per test sample, test order): ``index``, ``loss`` (the
true per-sample target loss), the task's outcome columns (named ``label...`` for the truth and
``prediction...`` for the model's output, e.g. ``label`` and ``prediction`` of a classifier)
and one column per score (``entropy``, ``predicted_loss``, ...).

``selected/cycle_NN.csv`` (one row per pick, pick order): ``cycle``, ``index`` (the pool
index), every fact the task states per pool item (``class``, ...) and, for a strategy that
selects by a score it declares, ``score/<name>`` of the pick.
"""

from __future__ import annotations

__all__ = [
    "CONFIG_JSON",
    "EVAL_PREFIX",
    "EXPECTATIONS_JSON",
    "INITIAL_PICKS",
    "JOB",
    "LABELED",
    "PICKS",
    "PICK_CLASS",
    "PICK_MEANS",
    "PICK_SCORE_PREFIX",
    "PICK_SHARES",
    "PLATEAU",
    "PREDICTION_PREFIX",
    "QUALITIES",
    "REPORT",
    "REPORT_RUN_NAME",
    "TEST_SCORE_FIXED",
    "TIMES",
    "TIME_PREFIX",
    "TRAIN_LOSS_PREFIX",
    "TIME_SCAN",
    "TIME_SELECT",
    "TIME_TRAIN",
    "TRUTH_PREFIX",
    "Tag",
    "artifact",
    "is_per_epoch",
    "is_score_column",
    "metric_of",
    "curve_key",
    "eval_key",
    "pick_key",
    "quality_key",
    "quality_prefix",
    "train_loss_key",
    "parse_quality",
]


class Tag:
    """The ``albench.*`` tags of a job run (``KIND`` also on the report's run)."""

    KIND = "albench.kind"  # JOB or REPORT
    TASK = "albench.task"  # the task's table name in the benchmark
    TASK_REGISTERED = "albench.task_registered"  # the registered task it runs
    STRATEGY = "albench.strategy"
    TRIAL = "albench.trial"
    SEED = "albench.seed"  # the trial's seed
    BENCHMARK = "albench.benchmark"
    CONFIG_HASH = "albench.config_hash"  # identifies the job: a rerun resumes this run
    GIT_SHA = "albench.git_sha"
    METRIC = "albench.metric"  # the key of eval/<metric>
    METRIC_LABEL = "albench.metric_label"
    METRIC_LOW = "albench.metric_low"
    METRIC_HIGH = "albench.metric_high"
    STRATEGY_LABEL = "albench.strategy_label"  # a strategy's display name
    STRATEGY_BASELINE = "albench.strategy_baseline"  # "true": the others are compared with it
    STRATEGY_ORACLE = "albench.strategy_oracle"  # "true": knows what a real run cannot
    STRATEGY_LOOKAHEAD = "albench.strategy_lookahead"  # "true": picks by the test metric
    EQUIVALENCE_MARGIN = "albench.equivalence_margin"  # the task's (albench.verdicts)
    MAX_TRIALS = "albench.max_trials"  # trials = "auto": the most trials its rounds run
    CPU_PINNED = "albench.cpu_pinned"  # "true": reproducible CPU kernels were pinned
    HOST = "albench.host"
    PID = "albench.pid"
    NODE = "albench.node"  # a Ray cluster's node
    CUDA_VISIBLE_DEVICES = "albench.cuda_visible_devices"
    ERROR = "albench.error"  # why the run failed or was stopped
    ADOPTED = "albench.adopted"  # "true": a rerun adopted a run whose process had died
    RESUMED_AT_CYCLE = "albench.resumed_at_cycle"


JOB, REPORT = "job", "report"  # the values of Tag.KIND
REPORT_RUN_NAME = "report"  # the name of the report's own run

LABELED = "labeled"
PLATEAU = "train/plateau"  # the relative fall of the loss over the last epochs of a cycle
TIME_TRAIN, TIME_SCAN, TIME_SELECT = "time/train_s", "time/scan_s", "time/select_s"
TIMES = (TIME_TRAIN, TIME_SCAN, TIME_SELECT)
QUALITIES = {  # eval/<quality>/<scorer> -> what it measures (albench.scoring computes them)
    "rank_acc": "ranking accuracy",
    "pearson": "Pearson r with the loss",
    "spearman": "Spearman ρ with the loss",
}


def eval_key(metric: str) -> str:
    """``eval/<metric>``: the task's metric on the test split, per cycle."""
    return f"eval/{metric}"


def quality_key(quality: str, scorer: str) -> str:
    """``eval/<quality>/<scorer>``: how a score ranks the true test loss (:data:`QUALITIES`)."""
    return f"eval/{quality}/{scorer}"


def curve_key(metric: str) -> str:
    """``curve/<metric>``: the metric with step = the labeled count, for MLflow's charts."""
    return f"curve/{metric}"


def train_loss_key(term: str) -> str:
    """``train/loss/<term>``: a training loss term's epoch mean, step = global epoch."""
    return f"train/loss/{term}"


def pick_key(*parts: object) -> str:
    """``picks/<part>/...``: a fact about a cycle's picks (``pick_key("class", 3)``)."""
    return "/".join(["picks", *map(str, parts)])


def quality_prefix(quality: str) -> str:
    """``eval/<quality>/``: what every scorer's key of one quality starts with."""
    return f"eval/{quality}/"


def metric_of(key: str) -> str | None:
    """The task metric of an ``eval/<metric>`` key (one level: not a quality), else None."""
    head, _, metric = key.partition("/")
    return metric if head == "eval" and metric and "/" not in metric else None


PICKS = "picks/"  # every fact about the picks
PICK_MEANS = "picks/mean/"  # a per-item fact averaged over a cycle's picks
PICK_CLASS = "picks/class/"  # the picks' count of one true class
PICK_SHARES = ("picks/copy_share", "picks/honeypot_share", "picks/near_share")  # in [0, 1]
TIME_PREFIX = "time/"
EVAL_PREFIX = "eval/"  # the task's metric and the scores' qualities
TRAIN_LOSS_PREFIX = "train/loss/"  # per-epoch training loss terms


def parse_quality(key: str) -> tuple[str, str] | None:
    """``(quality, scorer)`` of an ``eval/<quality>/<scorer>`` key, else None."""
    head, _, rest = key.partition("/")
    quality, _, scorer = rest.partition("/")
    return (quality, scorer) if head == "eval" and quality in QUALITIES and scorer else None


def is_per_epoch(key: str) -> bool:
    """Whether a metric is logged per epoch (step = global epoch) or against the labeled
    count, not per cycle: the report's per-cycle frame leaves these out."""
    return key.startswith(("train/loss/", "curve/"))


CONFIG_JSON = "config.json"
EXPECTATIONS_JSON = "expectations.json"
INITIAL_PICKS = "selected/initial.npy"


def artifact(kind: str, cycle: int, suffix: str = "csv") -> str:
    """A per-cycle artifact's path: ``artifact("test_scores", 3)`` is
    ``test_scores/cycle_03.csv``; kinds ``test_scores`` and ``selected`` (``npy`` or ``csv``)."""
    if kind not in ("test_scores", "selected"):
        raise ValueError(f"unknown artifact kind {kind!r}: expected test_scores or selected")
    return f"{kind}/cycle_{cycle:02d}.{suffix}"


TEST_SCORE_FIXED = ("index", "loss")  # the first columns of every test_scores CSV
TRUTH_PREFIX = "label"  # a Task.outcome column of the truth: label, label_objects, ...
PREDICTION_PREFIX = "prediction"  # a Task.outcome column of the model's output
PICK_SCORE_PREFIX = "score/"  # a selected CSV column holding the strategy's score of a pick


def is_score_column(name: str) -> bool:
    """Whether a test_scores CSV column holds a score (not the index, loss or outcome)."""
    return name not in TEST_SCORE_FIXED and not name.startswith((TRUTH_PREFIX, PREDICTION_PREFIX))
