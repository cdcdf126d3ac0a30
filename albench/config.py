"""Benchmark configuration: frozen dataclasses, strict TOML loading and ``--set`` overrides.

A benchmark file (``benchmarks/*.toml``) has four kinds of tables::

    [benchmark]                 name, trials (N or "auto"), max_trials, seed, strategies
    [strategies.NAME]           hyper-parameters of a strategy for every task
    [tasks.NAME]                task = "REGISTERED": the registered task this table runs
                                (optional; default NAME): one task under several
                                settings in one benchmark, e.g. [tasks.NAME_copies]
                                task = "NAME" with its own params;
                                trials = N or "auto": this task's own trials (optional);
                                only_strategies = [...]: the benchmark's strategies this
                                task runs (optional; default all of them);
                                equivalence_margin = x: the margin of its comparisons
                                (optional; default the task's equivalence_margin)
    [tasks.NAME.al]             the active-learning schedule of one task   (ALConfig)
    [tasks.NAME.train]          how the target model is trained            (TrainConfig)
    [tasks.NAME.params]         keyword arguments of the task's constructor
    [tasks.NAME.strategies.S]   per-task overrides of a strategy's hyper-parameters

Loading is strict: an unknown key, a wrong type or an impossible value fails with a
:class:`~albench.errors.ConfigError` that names the key, the valid keys and the fix.
The dataclass defaults are the paper's CIFAR-10 settings (Yoo & Kweon 2019, §4 and §4.1);
the resolved config, not the file, is what a run logs.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from albench.errors import ConfigError, did_you_mean, unknown

__all__ = [
    "ALConfig",
    "BenchmarkConfig",
    "TaskConfig",
    "TrainConfig",
    "apply_overrides",
    "builtin_benchmarks",
    "check_experiment_name",
    "config_hash",
    "experiment_file_name",
    "load_benchmark",
]

OPTIMIZERS = ("sgd", "rmsprop", "adam")
TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # a task table that names a task
AUTO = "auto"  # trials = "auto": rounds of trials until every comparison is decided
DATA_PATHS = ("auto", "resident", "loader")
PRECISIONS = ("fp32", "bf16")
CLASSES = "class_logits"  # the capability of a task with classes (albench.contracts)


@dataclass(frozen=True)
class ALConfig:
    """The active-learning schedule (paper §4: K = 1,000 initial and per cycle)."""

    initial: int = 1000  # K labels drawn at random before the first cycle, §4
    budget: int = 1000  # K labels added per cycle, §4
    cycles: int = 10  # training cycles; labeled size goes initial, +budget, ... (1k..10k)
    subset: int = 10000  # M, the random subset S_M scored per cycle (§4.1); 0 = whole pool
    reinit_model: bool = False  # False: warm start, "we continue to train the current model" §4
    # True: the initial set spreads over the pool's true classes, initial // C items of each
    # and one more of initial % C classes drawn at random (the low-budget regime of Hacohen
    # et al., ICML 2022, starts from one label per class); tasks with classes only.
    balanced_initial: bool = False

    def __post_init__(self) -> None:
        _check(self.initial >= 1, "al.initial", self.initial, "at least 1")
        _check(self.budget >= 1, "al.budget", self.budget, "at least 1")
        _check(self.cycles >= 1, "al.cycles", self.cycles, "at least 1")
        _check(self.subset >= 0, "al.subset", self.subset, "0 (whole pool) or more")

    @property
    def labels_needed(self) -> int:
        """Labels the whole schedule reveals: initial + budget per selection."""
        return self.initial + self.budget * (self.cycles - 1)


@dataclass(frozen=True)
class TrainConfig:
    """Training of the target model and loss module in each cycle (paper §4.1 for CIFAR-10)."""

    epochs: int = 200  # per cycle, §4.1
    batch_size: int = 128  # B, even so that the B/2 pairs of Eq. 2 cover the batch
    optimizer: str = "sgd"  # "sgd" | "rmsprop" | "adam"; restarted every cycle
    lr: float = 0.1  # initial learning rate, §4.1
    momentum: float = 0.9  # §4.1 (sgd only)
    weight_decay: float = 5e-4  # §4.1
    lr_milestones: tuple[int, ...] = (160,)  # epochs after which lr is multiplied by lr_gamma
    lr_gamma: float = 0.1  # 0.1 -> 0.01 after epoch 160, §4.1
    stop_grad_epoch: int = 120  # from this epoch on the loss module's gradient stops at the taps
    eval_batch_size: int = 512  # test evaluation and pool scans; no autograd
    num_workers: int = 0  # DataLoader worker processes
    threads: int = 1  # intra-op CPU threads of the job: fixed, so --jobs never changes results
    # The same numbers on any x86-64 CPU with AVX2, Intel or AMD: pin every CPU library's
    # kernel choice (albench/cpu.py). None: on for embedded tasks, off for the others.
    reproducible_cpu: bool | None = None
    # Speed only (not paper settings); the results stay comparable within one setting:
    data_path: str = "auto"  # "auto" | "resident" (data on the device) | "loader" (DataLoader)
    precision: str = "fp32"  # "fp32" | "bf16": bf16 autocast on CUDA (fp32 master weights)
    channels_last: bool = False  # NHWC memory format for the model on CUDA
    compile: bool = False  # torch.compile the model; falls back (and logs why) if it fails

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "train.epochs", self.epochs, "at least 1")
        _check(
            self.batch_size >= 2, "train.batch_size", self.batch_size, "at least 2 (Eq. 2 pairs)"
        )
        _check(
            self.optimizer in OPTIMIZERS, "train.optimizer", self.optimizer, " | ".join(OPTIMIZERS)
        )
        _check(0 < self.lr < math.inf, "train.lr", self.lr, "a finite number > 0")
        _check(0 <= self.momentum < 1, "train.momentum", self.momentum, "in [0, 1)")
        _check(0 < self.lr_gamma <= 1, "train.lr_gamma", self.lr_gamma, "in (0, 1]")
        _check(
            0 <= self.weight_decay < math.inf, "train.weight_decay", self.weight_decay,
            "a finite number >= 0",
        )  # fmt: skip
        _check(self.stop_grad_epoch >= 0, "train.stop_grad_epoch", self.stop_grad_epoch, ">= 0")
        _check(self.eval_batch_size >= 1, "train.eval_batch_size", self.eval_batch_size, ">= 1")
        _check(self.num_workers >= 0, "train.num_workers", self.num_workers, ">= 0")
        _check(self.threads >= 1, "train.threads", self.threads, "1 or more")
        _check(
            self.data_path in DATA_PATHS, "train.data_path", self.data_path, " | ".join(DATA_PATHS)
        )
        _check(
            self.precision in PRECISIONS, "train.precision", self.precision, " | ".join(PRECISIONS)
        )
        for m in self.lr_milestones:
            _check(m >= 1, "train.lr_milestones", list(self.lr_milestones), "epochs >= 1")


@dataclass(frozen=True)
class TaskConfig:
    """One task of a benchmark: its schedule, its training and its own parameters."""

    name: str
    al: ALConfig = field(default_factory=ALConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    params: dict[str, Any] = field(default_factory=dict)  # task constructor kwargs
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-task overrides
    # this task's trials, or "auto" (rounds until decided); None: benchmark.trials
    trials: int | str | None = None
    # The benchmark's strategies this task runs (None: all); e.g. only the supported pairs.
    # An explicit --strategies selection overrides it (BenchmarkConfig.select).
    only_strategies: tuple[str, ...] | None = None
    # equivalence margin of this task's comparisons in metric units (albench.verdicts);
    # None: the task's declared equivalence_margin. Not part of a job's configuration.
    equivalence_margin: float | None = None
    # the registered task this table runs (None: the one called ``name``); lets a benchmark
    # run one task under several settings, each table a name of its own
    task: str | None = None

    @property
    def registered(self) -> str:
        """The registry name of the task this table runs (its ``task`` key, else its name)."""
        return self.task or self.name

    def __post_init__(self) -> None:
        if self.trials is not None:
            _check_trials(self.trials, f"tasks.{self.name}.trials")
        if self.equivalence_margin is not None:
            _check(
                math.isfinite(self.equivalence_margin) and self.equivalence_margin > 0,
                f"tasks.{self.name}.equivalence_margin",
                self.equivalence_margin,
                "a finite number greater than 0",
            )


@dataclass(frozen=True)
class BenchmarkConfig:
    """A whole benchmark: tasks x strategies x trials."""

    name: str
    trials: int | str = 5  # §4.1: 5 trials for CIFAR-10 (3 for VOC and MPII); or "auto"
    max_trials: int = 20  # trials = "auto": the most trials a task runs (rounds 5, 10, 20)
    seed: int = 0  # trial t uses seed + t for every strategy (§4: shared seeds)
    strategies: tuple[str, ...] = ()  # empty: every registered strategy, in registry order
    strategy_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: tuple[TaskConfig, ...] = ()
    defaulted: tuple[str, ...] = ()  # tasks without a table here: their declared schedule

    def __post_init__(self) -> None:
        _check_trials(self.trials, "--trials / benchmark.trials")
        _check(
            1 <= self.max_trials <= MAX_TRIALS, "--max-trials / benchmark.max_trials",
            self.max_trials, f"1 to {MAX_TRIALS}",
        )  # fmt: skip
        _check(self.seed >= 0, "--seed / benchmark.seed", self.seed, "0 or more")

    def task(self, name: str) -> TaskConfig:
        for t in self.tasks:
            if t.name == name:
                return t
        raise unknown("task in this benchmark", name, [t.name for t in self.tasks])

    def auto_trials(self, task: str) -> bool:
        """Whether ``task`` runs its trials in rounds until decided (``trials = "auto"``)."""
        own = self.task(task).trials
        return (own if own is not None else self.trials) == AUTO

    def trials_for(self, task: str) -> int:
        """The most trials one task runs: its own ``trials`` key, else the benchmark's;
        ``max_trials`` when that is "auto"."""
        own = self.task(task).trials
        trials = own if own is not None else self.trials
        return self.max_trials if trials == AUTO else int(trials)

    def rounds_for(self, task: str) -> tuple[int, ...]:
        """Trial counts after which ``task``'s comparisons are tested: the rounds up to
        ``max_trials`` (albench.verdicts.rounds) when auto, else its one trial count."""
        if not self.auto_trials(task):
            return (self.trials_for(task),)
        from albench.verdicts import rounds

        return rounds(self.max_trials)

    def strategy_hparams(self, task: str, strategy: str) -> dict[str, Any]:
        """The strategy's hyper-parameters for one task: global table, then task overrides."""
        merged = dict(self.strategy_params.get(strategy, {}))
        merged.update(self.task(task).strategies.get(strategy, {}))
        return merged

    def strategies_for(self, task: str) -> tuple[str, ...]:
        """The strategies ``task`` runs: the benchmark's, restricted to the task's
        ``only_strategies`` when it has that key."""
        only = self.task(task).only_strategies
        return tuple(s for s in self.strategies if only is None or s in only)

    def select(self, tasks: list[str] | None, strategies: list[str] | None) -> BenchmarkConfig:
        """A copy restricted to the given task and strategy names (None keeps all). Named
        strategies run on every kept task (its ``only_strategies`` no longer applies)."""
        names = [t.name for t in self.tasks]
        for t in tasks or []:
            if t not in names:
                raise unknown(
                    f"task for benchmark {self.name!r}", t, names, "pick from the benchmark's tasks"
                )
        kept = tuple(t for t in self.tasks if tasks is None or t.name in tasks)
        if strategies:
            kept = tuple(dataclasses.replace(t, only_strategies=None) for t in kept)
        return dataclasses.replace(
            self, tasks=kept, strategies=tuple(strategies) if strategies else self.strategies
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


MAX_BENCHMARK_BYTES = 1_000_000  # a benchmark file is a few kB; more is the wrong file
MAX_TRIALS = 1000  # trials per (task, strategy): more is a typo, not an experiment


def _check_trials(trials: Any, key: str) -> None:
    ok = trials == AUTO or (
        isinstance(trials, int) and not isinstance(trials, bool) and 1 <= trials <= MAX_TRIALS
    )
    _check(ok, key, trials, f'1 to {MAX_TRIALS}, or "auto" (rounds of trials until decided)')


def _table(value: Any, key: str) -> dict[str, Any]:
    """``value`` if it is a TOML table, else a one-line ConfigError naming ``key``."""
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table, got {value!r:.60}; write {key} = {{...}}")
    return value


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {value!r} is invalid: expected {expected}")


# --------------------------------------------------------------------------- strict loading


def type_ok(value: Any, tp: Any) -> tuple[bool, Any]:
    """Whether ``value`` (from TOML) fits the annotation ``tp``; returns the converted value."""
    origin = typing.get_origin(tp)
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    if origin is tuple:
        (item, _) = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            return False, value
        pairs = [type_ok(v, item) for v in value]
        return all(ok for ok, _ in pairs), tuple(v for _, v in pairs)
    if origin is dict:
        return isinstance(value, dict), value
    if origin is typing.Literal:
        return any(type(value) is type(c) and value == c for c in typing.get_args(tp)), value
    if origin in (types.UnionType, typing.Union):
        for arg in typing.get_args(tp):
            ok, v = type_ok(value, arg) if arg is not type(None) else (value is None, None)
            if ok:
                return True, v
        return False, value
    raise TypeError(f"unsupported config annotation {tp!r}")


def type_name(tp: Any, words: Mapping[Any, str] | None = None) -> str:
    """What the annotation ``tp`` asks for, in a message; ``words`` names some types (e.g.
    ``int``: "a whole number") instead of their Python names."""
    if words and tp in words:
        return words[tp]
    if typing.get_origin(tp) is typing.Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(tp))
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        return " or ".join(type_name(a, words) for a in typing.get_args(tp))
    if tp is type(None):
        return "nothing (None)"
    if typing.get_origin(tp) is tuple:
        return f"a list of {typing.get_args(tp)[0].__name__}"
    if typing.get_origin(tp) is dict:
        return "a table"
    return getattr(tp, "__name__", str(tp))


def build_dataclass(cls: type, data: dict[str, Any], where: str, **extra: Any) -> Any:
    """Build ``cls`` from a TOML table, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"[{where}] must be a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)} - set(extra)
    kwargs: dict[str, Any] = dict(extra)
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(
                f"unknown key {where}.{key}{did_you_mean(key, fields)}; "
                f"valid keys in [{where}]: {', '.join(sorted(fields))}"
            )
        ok, converted = type_ok(value, hints[key])
        if not ok:
            raise ConfigError(
                f"{where}.{key} = {value!r} has the wrong type: expected {type_name(hints[key])}"
            )
        kwargs[key] = converted
    return cls(**kwargs)


def _parse_tasks(raw: dict[str, Any]) -> tuple[TaskConfig, ...]:
    from albench.registry import TASKS

    tasks = []
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"[tasks.{name}] must be a table, got {table!r}")
        table = dict(table)
        registered = table.pop("task", None)
        if registered is not None and not isinstance(registered, str):
            raise ConfigError(
                f"tasks.{name}.task = {registered!r} has the wrong type: expected a task name"
            )
        if registered is not None and not TASK_NAME.fullmatch(name):
            raise ConfigError(
                f"[tasks.{name}] is not a valid name for a task table: use letters, numerals, "
                "'_' and '-' (it names the runs)"
            )
        if registered is not None and registered != name and name in TASKS:
            raise ConfigError(
                f"[tasks.{name}] names the registered task {name!r} but runs {registered!r}: "
                f"give the table another name, e.g. [tasks.{registered}_{name}]"
            )
        TASKS.check(registered or name)  # unknown tasks fail here, with a did-you-mean
        al = build_dataclass(ALConfig, table.pop("al", {}), f"tasks.{name}.al")
        if al.balanced_initial and CLASSES not in TASKS.capabilities(registered or name):
            raise ConfigError(
                f"tasks.{name}.al.balanced_initial = true needs a task with classes, and task "
                f"{registered or name!r} has none; drop it or run a classification task"
            )
        train = build_dataclass(TrainConfig, table.pop("train", {}), f"tasks.{name}.train")
        params = _table(table.pop("params", {}), f"tasks.{name}.params")
        strategies = _table(table.pop("strategies", {}), f"tasks.{name}.strategies")
        for strategy, hparams in strategies.items():
            _table(hparams, f"tasks.{name}.strategies.{strategy}")
        trials = table.pop("trials", None)
        if trials is not None and (not isinstance(trials, int | str) or isinstance(trials, bool)):
            raise ConfigError(
                f'tasks.{name}.trials = {trials!r} has the wrong type: expected int or "auto"'
            )
        equivalence_margin = table.pop("equivalence_margin", None)
        if equivalence_margin is not None and (
            not isinstance(equivalence_margin, int | float) or isinstance(equivalence_margin, bool)
        ):
            raise ConfigError(
                f"tasks.{name}.equivalence_margin = {equivalence_margin!r} has the wrong type: "
                "expected a number"
            )
        only = table.pop("only_strategies", None)
        if only is not None and not (
            isinstance(only, list) and only and all(isinstance(s, str) for s in only)
        ):
            raise ConfigError(
                f"tasks.{name}.only_strategies = {only!r} is invalid: expected a non-empty list "
                "of strategy names"
            )
        if table:
            valid = [
                "al",
                "train",
                "params",
                "strategies",
                "trials",
                "only_strategies",
                "equivalence_margin",
                "task",
            ]
            key = next(iter(table))
            raise ConfigError(
                f"unknown key tasks.{name}.{key}{did_you_mean(key, valid)}; "
                f"valid keys in [tasks.{name}]: {', '.join(valid)}"
            )
        only = tuple(only) if only is not None else None
        config = TaskConfig(
            name,
            al,
            train,
            dict(params),
            dict(strategies),
            trials,
            only,
            float(equivalence_margin) if equivalence_margin is not None else None,
            registered if registered != name else None,
        )
        tasks.append(config)
    return tuple(tasks)


def parse_benchmark(raw: dict[str, Any], where: str = "benchmark file") -> BenchmarkConfig:
    """Validate a parsed TOML document into a :class:`BenchmarkConfig`."""
    from albench.registry import STRATEGIES

    raw = copy.deepcopy(raw)
    valid_top = ["benchmark", "strategies", "tasks"]
    for key in raw:
        if key not in valid_top:
            raise ConfigError(
                f"unknown table [{key}] in {where}{did_you_mean(key, valid_top)}; "
                f"valid tables: {', '.join(valid_top)}"
            )
    if "benchmark" not in raw or "name" not in raw["benchmark"]:
        raise ConfigError(f"{where} needs a [benchmark] table with a name")
    if not raw.get("tasks"):
        raise ConfigError(f"{where} has no [tasks.NAME] table; add at least one task")
    strategy_params = _table(raw.get("strategies", {}), "[strategies]")
    for strategy, hparams in strategy_params.items():
        _table(hparams, f"strategies.{strategy}")
    tasks = _parse_tasks(_table(raw["tasks"], "[tasks]"))
    bench = build_dataclass(
        BenchmarkConfig,
        raw["benchmark"],
        "benchmark",
        strategy_params=strategy_params,
        tasks=tasks,
    )
    check_experiment_name(bench.name, "benchmark.name")
    if not bench.strategies:
        bench = dataclasses.replace(bench, strategies=tuple(STRATEGIES.names()))
    for name in list(bench.strategies) + list(strategy_params):
        STRATEGIES.check(name)
    for name in [s for t in tasks for s in t.strategies]:
        STRATEGIES.check(name)
    for name in [s for t in tasks for s in t.only_strategies or ()]:
        STRATEGIES.check(name)
    return bench


_SET_TABLES = ("al", "train", "params", "benchmark", "strategies", "tasks")


def _check_override_path(item: str, path: list[str], raw: dict[str, Any]) -> None:
    """Blame ``--set`` (not the benchmark file) for a table or key that does not exist."""
    head = path[0]
    if head not in _SET_TABLES:
        raise ConfigError(
            f"--set {item!r}: unknown table {head!r}{did_you_mean(head, _SET_TABLES)}; "
            f"valid: {', '.join(_SET_TABLES)}"
        )
    if head in ("al", "train") and len(path) == 2:
        fields = [f.name for f in dataclasses.fields(ALConfig if head == "al" else TrainConfig)]
        if path[1] not in fields:
            raise ConfigError(
                f"--set {item!r}: unknown key {head}.{path[1]}{did_you_mean(path[1], fields)}; "
                f"valid keys: {', '.join(fields)}"
            )
    if head == "tasks" and len(path) > 2 and path[1] not in raw.get("tasks", {}):
        names = list(raw.get("tasks", {}))
        raise ConfigError(
            f"--set {item!r}: the benchmark has no task {path[1]!r}"
            f"{did_you_mean(path[1], names)}; its tasks: {', '.join(names)}"
        )


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set section.key=value`` overrides to a raw TOML document.

    ``al.*`` and ``train.*`` apply to every task of the benchmark; ``tasks.NAME.train.epochs``
    to one. Values are parsed as TOML (``3``, ``0.5``, ``true``, ``[10, 20]``), else taken
    as strings. Unknown keys are caught by the strict loader afterwards.
    """
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not of the form section.key=value")
        path = key.strip().split(".")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        _check_override_path(item, path, raw)
        if path[0] in ("al", "train", "params"):
            if len(path) != 2:
                raise ConfigError(f"--set {item!r}: use {path[0]}.KEY=VALUE")
            targets = [t.setdefault(path[0], {}) for t in raw.get("tasks", {}).values()]
            for table in targets:
                table[path[1]] = value
            continue
        if len(path) < 2:
            raise ConfigError(
                f"--set {item!r}: use section.key=value, e.g. train.epochs=5 or benchmark.trials=2"
            )
        table = raw
        for part in path[:-1]:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is not a table")
        table[path[-1]] = value
    return raw


# --------------------------------------------------------------------------- files


def builtin_benchmarks() -> dict[str, Path]:
    """The benchmarks shipped in ``benchmarks/`` (installed as ``albench.benchmarks``)."""
    root = resources.files("albench.benchmarks")
    return {p.name[:-5]: Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml")}


def resolve_benchmark(spec: str) -> Path:
    builtins = builtin_benchmarks()
    if spec in builtins:
        return builtins[spec]
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(
                f"benchmark file {spec!r} does not exist; give an existing .toml path"
            )
        return path
    raise unknown("benchmark", spec, builtins, "or give a path to a .toml file")


def load_benchmark(
    spec: str, overrides: list[str] | None = None, tasks: list[str] | None = None
) -> BenchmarkConfig:
    """Load a built-in benchmark by name or a TOML file by path, with ``--set`` overrides.

    ``tasks`` names tasks to run even if the file has no ``[tasks.NAME]`` table for them:
    such a task runs on the schedule it declares (``Task.default_schedule``), and is listed in
    the result's ``defaulted``; ``--set`` overrides apply to it like to any other task.
    """
    path = resolve_benchmark(spec)
    try:
        if path.stat().st_size > MAX_BENCHMARK_BYTES:
            raise ConfigError(
                f"{path}: {path.stat().st_size:,} bytes is too large for a benchmark file "
                f"(at most {MAX_BENCHMARK_BYTES:,}); give the right file"
            )
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (not UTF-8); give a .toml file") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a benchmark file") from None
    defaulted = _add_default_schedules(raw, tasks or [], str(raw.get("benchmark", {}).get("name")))
    if tasks and isinstance(raw.get("tasks"), dict):  # overrides and checks for these alone
        raw["tasks"] = {name: t for name, t in raw["tasks"].items() if name in tasks}
    bench = parse_benchmark(apply_overrides(raw, overrides or []), str(path))
    return dataclasses.replace(bench, defaulted=tuple(defaulted))


def _add_default_schedules(raw: dict[str, Any], names: list[str], benchmark: str) -> list[str]:
    """Put each task of ``names`` that ``raw`` has no table for in it, with the schedule the
    task declares; returns those names. A task that declares none is an error."""
    from albench.registry import TASKS

    added = []
    tables = raw.setdefault("tasks", {})
    for name in names:
        if name in tables:
            continue  # a table of the benchmark, named after its task or not
        if name not in TASKS and ":" not in name:
            raise unknown(
                "task", name, {*TASKS.names(), *tables},
                f"give a registered task or a table of benchmark {benchmark!r}",
            )  # fmt: skip
        schedule = TASKS.get(name).default_schedule
        if schedule is None:
            raise ConfigError(
                f"task {name!r} has no [tasks.{name}] table in benchmark {benchmark!r} and "
                "declares no default_schedule; add the table to a benchmark file (see "
                "benchmarks/quick.toml) and pass it with --benchmark PATH"
            )
        tables[name] = copy.deepcopy(dict(schedule))
        added.append(name)
    return added


MAX_EXPERIMENT = 200  # characters of an experiment name (MLflow's own limit is larger)
SAFE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # a name that is a file name as is


def check_experiment_name(name: Any, key: str) -> str:
    """``name`` if it can name an MLflow experiment: text of 1 to 200 characters, not only
    blanks, without control characters; else a ConfigError naming ``key``."""
    ok = (
        isinstance(name, str)
        and 0 < len(name) <= MAX_EXPERIMENT
        and name.strip() != ""
        and not any(ord(c) < 32 or ord(c) == 127 for c in name)
    )
    if not ok:
        shown = repr(name) if len(repr(name)) <= 60 else f"{repr(name)[:50]}... ({len(name)} chars)"
        raise ConfigError(
            f"{key} = {shown} cannot name an experiment: give 1 to {MAX_EXPERIMENT} "
            "printable characters, e.g. quick-s1"
        )
    return name


def experiment_file_name(name: str) -> str:
    """A file name for experiment ``name`` that stays in its folder: the name itself when it
    is one already (letters, numerals, '_', '.', '-', at most 64, no leading dot), else its
    safe characters (at most 40) and a hash of the whole name, so that two names never share
    one file and nothing albench writes lands outside its folder."""
    if SAFE_FILE.fullmatch(name) and ".." not in name:
        return name
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:40] or "experiment"
    return f"{stem}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def config_hash(obj: Any) -> str:
    """A short stable hash of a JSON-able config (same config -> same job)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
