"""albench from Python: what the command line does, as functions (the ``albench`` command is
argument parsing and printing over these).

    import albench

    albench.run("quick", albench.RunOptions(tasks=["digits"], trials=1))
    results = albench.load_results("quick")  # one row per run, metric and cycle
    curves = results[results.metric == "eval/accuracy"].pivot_table("value", "labeled", "strategy")
    curves.plot(xlabel="labeled samples", ylabel="test accuracy")

Every check the command line makes is made here, before any run is created; bad input
raises an :class:`~albench.errors.AlbenchError` (its message is the command line's one-line
error, its ``exit_code`` the command's). Like the command line, these functions import
nothing heavy until the input is known to be good.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from albench import signals
from albench.errors import AlbenchError, ConfigError, masked
from albench.schema import Tag

if TYPE_CHECKING:
    import pandas as pd

    from albench.loop import Job
    from albench.report import ReportOptions, ReportResult
    from albench.runner import PlannedJob

__all__ = [
    "Plan",
    "RunOptions",
    "RunResult",
    "jobs",
    "list_benchmarks",
    "list_strategies",
    "list_tasks",
    "names",
    "open_store",
    "load_results",
    "plan",
    "report",
    "run",
    "support",
]


@dataclass(frozen=True)
class RunOptions:
    """The choices of one run (or plan), each with the command line's default.

    ``tasks``/``strategies``: names (or ``module:Class`` paths), None for the benchmark's;
    ``trials``: a count or ``"auto"`` (rounds until every comparison is decided), None for
    each task's own; ``overrides``: ``--set`` strings (``"train.epochs=5"``);
    ``tracking_uri``: None for ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the
    working directory.
    """

    tasks: Sequence[str] | None = None
    strategies: Sequence[str] | None = None
    trials: int | str | None = None
    max_trials: int | None = None
    seed: int | None = None
    overrides: Sequence[str] = ()
    experiment: str | None = None  # None: the benchmark's name
    data_root: str = "data"
    download: bool = False
    device: str = "auto"  # auto, cpu or cuda
    gpus: str = "auto"  # auto (all visible), none, or ids "0,1"
    jobs: int | None = None  # CPU jobs in parallel; None: the usable cores
    jobs_per_gpu: int = 1
    backend: str = "local"  # local or ray
    address: str | None = None  # the Ray cluster's
    state_dir: str | None = None  # None: beside a sqlite store, else ./albench-state
    wait: bool = False  # wait for another run that holds the experiment instead of refusing
    progress: bool = True  # the live progress view (on a terminal)
    tracking_uri: str | None = None


@dataclass(frozen=True)
class RunResult:
    """What a run did: its experiment, the jobs it ran and how each ended."""

    experiment: str
    jobs: int  # in the benchmark's selection
    skipped: int  # finished already before this run
    finished: list[str] = field(default_factory=list)  # run names FINISHED by this run
    failed: list[str] = field(default_factory=list)  # "<run name> <STATUS>: <reason>"
    interrupted: str = ""  # "Ctrl-C" or "SIGTERM" when the run was stopped

    @property
    def exit_code(self) -> int:
        """The command line's: 0, 1 when a job failed, 130 (Ctrl-C) or 143 (SIGTERM)."""
        if self.interrupted:
            return signals.EXIT_TERMINATED if self.interrupted == "SIGTERM" else (
                signals.EXIT_INTERRUPTED
            )  # fmt: skip
        return 1 if self.failed else 0


@dataclass(frozen=True)
class Plan:
    """The jobs of a run against what the store has finished, and how many run at once."""

    jobs: list[PlannedJob]
    slots: int
    gpu: bool

    def __str__(self) -> str:
        from albench.runner import format_plan

        return format_plan(self.jobs, gpu=self.gpu, slots=self.slots)


# ------------------------------------------------------------------------------- listing
def list_tasks() -> dict[str, str]:
    """Registered task -> its one-line summary (built-ins, then plug-ins)."""
    from albench.registry import TASKS

    return TASKS.describe()


def list_strategies() -> dict[str, str]:
    """Registered strategy -> its one-line summary."""
    from albench.registry import STRATEGIES

    return STRATEGIES.describe()


def list_benchmarks() -> dict[str, str]:
    """Built-in benchmark -> its file."""
    from albench.config import builtin_benchmarks

    return {name: str(path) for name, path in sorted(builtin_benchmarks().items())}


def support() -> dict[str, dict[str, list[str]]]:
    """task -> strategy -> the capabilities the task lacks for it ([]: the pair runs)."""
    from albench.registry import STRATEGIES, TASKS, missing_capabilities

    return {
        task: {
            s: missing_capabilities(TASKS.capabilities(task), STRATEGIES.capabilities(s))
            for s in STRATEGIES.names()
        }
        for task in TASKS.names()
    }


# --------------------------------------------------------------------------- run and plan
def run(benchmark: str = "quick", options: RunOptions | None = None) -> RunResult:
    """Run a benchmark (``"quick"``, ``"paper"`` or a ``.toml`` path): every job not
    finished in the tracking store, resuming interrupted ones."""
    options = options or RunOptions()
    if options.backend == "ray":
        from albench.cluster import check_address

        check_address(options.address)  # in seconds, before anything is created
    return _Run(benchmark, options, dry=False).execute()


def plan(benchmark: str = "quick", options: RunOptions | None = None) -> Plan:
    """The jobs a run would run, with their estimated time; reads no data, writes nothing."""
    return _Run(benchmark, options or RunOptions(), dry=True).execute()


def jobs(benchmark: str = "quick", options: RunOptions | None = None, read_data=False) -> list[Job]:
    """The jobs of a run, every input checked (``read_data``: each task's data loaded and
    its budget checked against it, as a run does; else the declared sizes, as a plan)."""
    return _Run(benchmark, options or RunOptions(), dry=not read_data).jobs


class _Run:
    """One ``run`` or ``plan``: the input checked, the jobs expanded, then planned or run."""

    def __init__(self, benchmark: str, options: RunOptions, dry: bool):
        self.options, self.dry = options, dry
        self.bench = _benchmark(benchmark, options)
        from albench.preflight import check_folder, check_tracking_store, tracking_uri

        self.uri = options.tracking_uri or tracking_uri()
        self.state_dir = state_dir(options, self.uri)
        if not dry:  # where the results go, before any task or strategy is imported
            check_tracking_store(self.uri)
            check_folder(self.state_dir, "--state-dir", create=False)
        self.device, self.gpus = self._where()
        from albench.registry import STRATEGIES, TASKS

        bench = self.bench  # every parameter checked before the job code is imported
        self.params = {
            t.name: TASKS.resolve_params(t.registered, dict(t.params), f"tasks.{t.name}.params")
            for t in bench.tasks
        }
        self.hparams = {
            (t.name, s): STRATEGIES.resolve_params(
                s, bench.strategy_hparams(t.name, s), f"strategies.{s}"
            )
            for t in bench.tasks
            for s in bench.strategies_for(t.name)
        }
        self.jobs = [
            self._job(task, strategy, trial)
            for task in bench.tasks
            for trial in range(bench.trials_for(task.name))
            for strategy in bench.strategies_for(task.name)
        ]
        self.sizes = _sizes(self.jobs, need_data=not dry)

    def _where(self) -> tuple[str, list[int] | None]:
        """(device, GPU ids) of the jobs: the cluster's GPUs on Ray, else this machine's."""
        from albench.registry import TASKS

        options, planning = self.options, self.dry  # a plan needs no GPU to list the jobs
        classes = [TASKS.get(t.registered) for t in self.bench.tasks]
        if options.backend == "ray":
            return _cluster_device(options, classes, planning)
        explicit_cpu = options.device == "cpu" or planning
        device = _resolve_device(options.device, classes, explicit_cpu)
        return device, _resolve_gpus(options.gpus, device)

    def _job(self, task: Any, strategy: str, trial: int) -> Job:
        """A job with its task parameters and strategy hyper-parameters resolved: the values
        given, then every code default (so the configuration hash covers the defaults)."""
        from albench.loop import Job

        bench, options = self.bench, self.options
        return Job(
            benchmark=bench.name,
            experiment=options.experiment or bench.name,
            task=dataclasses.replace(task, params=self.params[task.name]),
            strategy=strategy,
            strategy_params=self.hparams[task.name, strategy],
            trial=trial,
            seed=bench.seed,
            data_root=str(Path(options.data_root).resolve()),
            download=options.download,
            equivalence_margin=task.equivalence_margin,
            max_trials=bench.max_trials if bench.auto_trials(task.name) else None,
            device=self.device,
            tracking_uri=self.uri,
        )

    def execute(self) -> Any:
        """Check the store and lock the experiment (a run), then plan, and run."""
        from albench.preflight import ExperimentLock, check_folder, check_tracking_store

        folder, uri = self.state_dir, self.uri
        if folder.exists() and not folder.is_dir():
            raise AlbenchError(f"--state-dir {folder} is a file, not a folder; give a folder path")
        lock = ExperimentLock(uri, self.jobs[0].experiment)
        if not self.dry:  # the input is good: make the folder and the store, lock
            made = not folder.exists()
            check_folder(folder, "--state-dir", create=True)
            try:
                check_tracking_store(uri, create=True)
            except AlbenchError:
                if made and not any(folder.iterdir()):
                    folder.rmdir()  # made for this run alone, and still empty
                raise
            lock.acquire(wait=self.options.wait)  # before reading what is finished
        elif uri.startswith(("http://", "https://")):
            check_tracking_store(uri)  # a health request: read-only
        with lock:
            return self._plan_and_run()

    def _plan_and_run(self) -> Plan | RunResult:
        from albench.runner import plan_jobs
        from albench.tracking import Tracker, store_exists

        uri, experiment = self.uri, self.jobs[0].experiment
        # a plan is read-only: a missing local store is not created to be read
        tracker = Tracker(uri) if not self.dry or store_exists(uri) else None
        finished = set()
        if tracker is not None and tracker.experiment_id(experiment, create=False) is not None:
            finished = {
                r.data.tags.get(Tag.CONFIG_HASH)
                for r in tracker.runs(experiment)
                if r.info.status == "FINISHED"
            }
        planned = plan_jobs(self.jobs, self.sizes, self.state_dir, finished)
        if not self.dry:
            return self._run(tracker, planned)
        if self.options.backend == "ray":
            slots = _cluster_slots(self.options, self.jobs, bool(self.gpus))
        else:
            todo = sum(p.state != "finished" for p in planned)
            slots = _local_slots(self.options, self.device, self.gpus, todo)
        return Plan(planned, slots, bool(self.gpus))

    def _run(self, tracker: Any, planned: list[PlannedJob]) -> RunResult:
        """Run the planned jobs that are not finished."""
        from albench.checkpoint import JobState
        from albench.loop import checkpoint_path
        from albench.runner import ProgressBoard, Schedule, run_jobs

        options, gpus = self.options, self.gpus
        jobs = [p.job for p in planned]
        experiment, folder = jobs[0].experiment, self.state_dir
        # a tracking server that goes away mid-run: bounded retries (about a minute), then
        # the job stops with its state saved and a rerun resumes it
        for key, value in (("MAX_RETRIES", "4"), ("BACKOFF_FACTOR", "2"), ("TIMEOUT", "30")):
            os.environ.setdefault(f"MLFLOW_HTTP_REQUEST_{key}", value)
        experiment_id = tracker.experiment_id(experiment)  # made before any worker starts
        todo = [p.job for p in planned if p.state != "finished"]
        for p in planned:  # a kill after a job's run FINISHED can leave its state behind
            if p.state == "finished":
                JobState.remove(checkpoint_path(folder, p.job))
        n_jobs = _local_slots(options, self.device, None, len(todo))
        schedule = Schedule(options.backend, n_jobs, gpus, options.jobs_per_gpu, options.address)
        at = f" at {options.address}" if options.address else ""
        where = (
            f"Ray{at}" if options.backend == "ray"
            else f"GPUs {gpus} x {options.jobs_per_gpu}" if gpus
            else f"{n_jobs} CPU process(es)"
        )  # fmt: skip
        rounds = " (at most: trials 'auto' runs rounds until decided)" if _auto(jobs) else ""
        _say(
            f"{len(todo)} of {len(jobs)} jobs to run{rounds} ({len(jobs) - len(todo)} "
            f"finished already) on {self.device}, {where}; MLflow {masked(tracker.uri)}, "
            f"experiment {experiment!r}"
        )
        board = ProgressBoard(tty=None if options.progress else False)
        started = time.perf_counter()
        done = dict(experiment=experiment, jobs=len(jobs), skipped=len(jobs) - len(todo))
        try:
            with signals.on_terminate():
                results = _in_rounds(
                    tracker, jobs, todo, lambda b: run_jobs(b, str(folder), schedule, board)
                )
        except KeyboardInterrupt:
            how = "SIGTERM" if signals.terminated() else "Ctrl-C"
            _mark_killed(tracker, experiment, todo, f"interrupted ({how})")
            _say(
                f"interrupted ({how}); unfinished runs are KILLED and resume on the next run "
                "of the same command"
            )
            return RunResult(**done, interrupted=how)
        failed = []
        for job, res in results:
            if res.status != "FINISHED":
                reason = res.error.strip().splitlines()[0] if res.error.strip() else ""
                failed.append(f"{job.run_name} {res.status}: {reason}")
                _say(failed[-1])
        finished = [j.run_name for j, r in results if r.status == "FINISHED"]
        _say(
            f"{len(finished)}/{len(results)} jobs FINISHED in "
            f"{time.perf_counter() - started:.0f}s ({len(jobs) - len(todo)} skipped as finished)"
        )
        _say(f"the runs: {runs_page(tracker.uri, experiment_id)}")
        return RunResult(**done, finished=finished, failed=failed)


def _say(line: str) -> None:
    print(f"albench: {line}", file=sys.stderr)


def _benchmark(benchmark: str, options: RunOptions) -> Any:
    """The benchmark with the options applied and every name, value and pair checked; the
    CPU pinned when it runs reproducibly (before torch is imported)."""
    from albench.config import check_experiment_name, load_benchmark
    from albench.registry import STRATEGIES

    for flag in ("jobs", "jobs_per_gpu"):
        value = getattr(options, flag)
        if value is not None and value < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} {value}: give 1 or more")
    overrides = [*options.overrides, *_trial_overrides(options)]
    root = Path(options.data_root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--data-root {root} is a file, not a folder; give a folder path")
    tasks = names(options.tasks, "tasks")
    strategies = names(options.strategies, "strategies")
    for name in strategies or []:
        STRATEGIES.check(name)
    bench = load_benchmark(benchmark, overrides, tasks)
    if options.experiment is not None:
        check_experiment_name(options.experiment, "--experiment")
    bench = bench.select(tasks, strategies)
    if options.trials is not None:  # the trials given apply to every task, over its own
        bench = dataclasses.replace(
            bench, tasks=tuple(dataclasses.replace(t, trials=None) for t in bench.tasks)
        )
    if options.max_trials is not None and not any(bench.auto_trials(t.name) for t in bench.tasks):
        raise ConfigError(
            f"--max-trials {options.max_trials} applies to trials 'auto' only, and no task "
            "runs them; add --trials auto or drop --max-trials"
        )
    for task in bench.tasks:  # each task's own strategies (its only_strategies, if any)
        check_pairs([task.registered], bench.strategies_for(task.name))
    bench = _reproducible_cpu(bench)
    for name in bench.defaulted:
        _say(
            f"task {name!r} has no table in benchmark {bench.name!r}: it runs on its "
            "declared default schedule (Task.default_schedule)"
        )
    return bench


def _trial_overrides(options: RunOptions) -> list[str]:
    """The ``--set`` strings of ``trials``, ``max_trials`` and ``seed``, checked."""
    out = []
    if options.trials is not None:
        trials = str(options.trials).strip().lower()
        if trials != "auto" and not (trials.isdigit() and 1 <= int(trials) <= 1000):
            raise ConfigError(
                f"--trials {str(options.trials)[:20]} is invalid: give 1 to 1000 trials, or "
                "'auto' (rounds until every comparison is decided)"
            )
        out.append(
            f'benchmark.trials="{trials}"' if trials == "auto" else f"benchmark.trials={trials}"
        )
    if options.max_trials is not None:
        if options.max_trials < 1:
            raise ConfigError(f"--max-trials {options.max_trials} is invalid: give 1 or more")
        out.append(f"benchmark.max_trials={options.max_trials}")
    if options.seed is not None:
        out.append(f"benchmark.seed={options.seed}")
    return out


def names(value: Sequence[str] | str | None, kind: str) -> list[str] | None:
    """None or 'all' -> None (keep the benchmark's); else the names (a list, or a string of
    comma-separated names)."""
    if value is None or value == "all":
        return None
    given = value.split(",") if isinstance(value, str) else list(value)
    names = [str(v).strip() for v in given if str(v).strip()]
    if not names:
        raise ConfigError(f"--{kind} {value!r} names nothing; give 'all' or a,b,...")
    return names


def check_pairs(tasks: Sequence[str], strategies: Sequence[str]) -> None:
    """Refuse a (task, strategy) pair whose requirements the task does not meet (no import
    for built-ins: their capabilities are in the registry's index)."""
    from albench.registry import STRATEGIES, TASKS, check_pair

    for task in tasks:
        provides = TASKS.capabilities(task)
        for strategy in strategies:
            check_pair(task, provides, strategy, STRATEGIES.capabilities(strategy))


def _reproducible_cpu(bench: Any) -> Any:
    """Resolve ``train.reproducible_cpu`` per task (default: on for embedded tasks) and, if on,
    pin the CPU kernels' instruction set in this process's environment (albench/cpu.py). The
    pins are process-wide, so the tasks of one run must agree."""
    from albench.cpu import pin
    from albench.registry import TASKS

    def resolved(task: Any) -> bool:
        own = task.train.reproducible_cpu
        return own if own is not None else TASKS.embedded(task.registered)

    modes = {t.name: resolved(t) for t in bench.tasks}
    if len(set(modes.values())) > 1:
        on = ", ".join(n for n, m in modes.items() if m)
        off = ", ".join(n for n, m in modes.items() if not m)
        raise ConfigError(
            f"train.reproducible_cpu is on for {on} and off for {off}; the CPU pins apply to "
            "the whole run: run them separately or set --set train.reproducible_cpu=true|false"
        )
    if any(modes.values()):
        pin()
    tasks = tuple(
        dataclasses.replace(t, train=dataclasses.replace(t.train, reproducible_cpu=modes[t.name]))
        for t in bench.tasks
    )
    return dataclasses.replace(bench, tasks=tasks)


def _resolve_device(requested: str, tasks: list, explicit_cpu: bool) -> str:
    """``auto`` -> cuda when visible, else cpu; a full-size task on the CPU only when asked
    for explicitly (``explicit_cpu``)."""
    import torch

    has_cuda = torch.cuda.is_available()
    if requested == "cuda" and not has_cuda:
        raise AlbenchError("--device cuda: no CUDA device is visible; use --device cpu or auto")
    device = "cuda" if requested == "cuda" or (requested == "auto" and has_cuda) else "cpu"
    real = [t.name for t in tasks if not t.embedded]
    if device == "cpu" and real and not explicit_cpu:
        raise AlbenchError(
            f"no CUDA device for the full-size task(s) {', '.join(real)}; try "
            "'albench run --benchmark quick' (embedded tasks, minutes on a CPU) or pass "
            "--device cpu to run them on the CPU anyway"
        )
    return device


def _resolve_gpus(spec: str, device: str) -> list[int] | None:
    """GPU ids for the slot pool, or None for CPU jobs. GPU ids asked for on a machine
    that runs on the CPU are an error (never a silent CPU run)."""
    if spec == "none" or (device == "cpu" and spec == "auto"):
        return None
    if device == "cpu":
        raise ConfigError(
            f"--gpus {spec}: the jobs run on the CPU here (no CUDA device is visible, or "
            "--device cpu); drop --gpus or run where the GPUs are"
        )
    import torch

    count = torch.cuda.device_count()
    if spec == "auto":
        return list(range(count))
    try:
        ids = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--gpus {spec!r}: give 'auto', 'none' or ids like 0,1") from None
    bad = [i for i in ids if not 0 <= i < count]
    if bad or not ids:
        raise ConfigError(f"--gpus {spec!r}: visible GPU ids are 0..{count - 1}")
    return ids


def _cluster_device(options: RunOptions, tasks: list, planning: bool) -> tuple[str, Any]:
    """(device, GPU slots) of jobs on a Ray cluster: CUDA when its nodes declare GPUs (the
    driver may have none), each job asking Ray for 1/jobs_per_gpu of one."""
    if options.device == "cpu" or options.gpus == "none":
        return "cpu", None
    if options.gpus != "auto":
        raise ConfigError(
            f"--gpus {options.gpus}: GPU ids choose this machine's GPUs; on Ray give --gpus "
            "auto (Ray assigns each job its GPU) or none"
        )
    from albench import cluster

    gpus = int(sum(node.gpus for node in cluster.nodes(cluster.connect(options.address))))
    if gpus:
        return "cuda", list(range(gpus))
    if options.device == "cuda":
        raise AlbenchError("--device cuda: the Ray cluster's nodes declare no GPU")
    return _resolve_device("cpu", tasks, planning), None


def _sizes(jobs: list, need_data: bool) -> dict[str, tuple[int, int]]:
    """Preflight: every task's data and budget, every strategy's parameters, before any run;
    the (pool, test) sizes per task (declared sizes when planning without the data)."""
    from albench.errors import DatasetMissingError
    from albench.loop import check_budget, prepare
    from albench.registry import STRATEGIES, TASKS, check_pair

    sizes: dict[str, tuple[int, int]] = {}
    for job in jobs:
        # the task's parameters may change what it provides (checked per job, before any run)
        where = f"tasks.{job.task.name}.params"
        task = TASKS.create(job.task.registered, dict(job.task.params), where)
        if job.task.name not in sizes and not need_data and task.sizes is not None:
            check_budget(job.task.name, job.task.al, task.sizes[0])  # a plan reads no data:
            sizes[job.task.name] = task.sizes  # it generates none either
        elif job.task.name not in sizes:
            try:
                _, _, data = prepare(job)
                sizes[job.task.name] = (data.pool_size, len(data.test))
            except DatasetMissingError:
                if need_data or task.sizes is None:
                    raise
                check_budget(job.task.name, job.task.al, task.sizes[0])  # the declared pool
                sizes[job.task.name] = task.sizes
        strategy = STRATEGIES.create(
            job.strategy, dict(job.strategy_params), f"strategies.{job.strategy}"
        )
        check_pair(job.task.registered, task.provides, job.strategy, type(strategy).requires)
        batch = job.task.train.batch_size
        if type(strategy).pairs_in_batch and batch % 2:
            raise ConfigError(
                f"tasks.{job.task.name}.train.batch_size = {batch} is odd: strategy "
                f"{job.strategy!r} pairs the samples of each batch, so one sample per batch "
                "would never enter its loss; use an even batch size"
            )
    return sizes


def _local_slots(options: RunOptions, device: str, gpus: list | None, todo: int) -> int:
    """How many jobs run at once on this machine: GPUs x jobs_per_gpu, else jobs, else one
    per usable core (capped by the jobs)."""
    if gpus:
        return len(gpus) * options.jobs_per_gpu
    return options.jobs or (1 if device != "cpu" else max(1, min(_usable_cores(), todo)))


def _cluster_slots(options: RunOptions, jobs: list, gpu: bool) -> int:
    """Connect to the Ray cluster (read-only), print its nodes, and return how many jobs it
    runs at once: per node, its CPUs / train.threads, or its GPUs x jobs_per_gpu."""
    from albench import cluster

    ray = cluster.connect(options.address)
    try:
        alive = cluster.nodes(ray)
    finally:
        ray.shutdown()
    threads = max(j.task.train.threads for j in jobs)
    per_node = [
        int(n.gpus * options.jobs_per_gpu) if gpu else int(n.cpus // threads) for n in alive
    ]
    at = f" at {options.address}" if options.address else ""
    print(f"Ray cluster{at}: {len(alive)} node(s)")
    for node, slots in zip(alive, per_node, strict=True):
        print(f"  {node.label:32s} {node.cpus:5g} CPUs {node.gpus:3g} GPUs  {slots} slot(s)")
    return max(1, sum(per_node))


def runs_page(uri: str, experiment_id: str) -> str:
    """Where MLflow's UI shows the experiment's runs table (MLflow 3 opens its GenAI pages
    unless the URL asks for the model-training view). Asks the store nothing: it may be
    the reason the run stopped."""
    page = f"#/experiments/{experiment_id}?workflowType=machine_learning"
    if uri.startswith(("http://", "https://")):
        return f"{masked(uri.rstrip('/'))}/{page}"
    return (
        f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1, then open "
        f"http://127.0.0.1:5000/{page}"
    )


def _auto(jobs: list) -> bool:
    return any(j.max_trials is not None for j in jobs)


def _in_rounds(tracker: Any, jobs: list, todo: list, run_batch: Callable[[list], list]) -> list:
    """Run ``todo`` (``run_batch(batch)`` runs a batch): all at once, or for tasks with
    trials "auto" round by round, deciding each such task after its rounds
    (albench/rounds.py) until it is decided or at max_trials. Stops after a round in which a
    job failed."""
    from albench.rounds import boundaries, decide_task, round_jobs
    from albench.verdicts import rounds

    auto = {j.task.name: j.max_trials for j in jobs if j.max_trials is not None}
    open_tasks, results = set(auto), []
    for i, upto in enumerate(boundaries(jobs)):
        batch = round_jobs(todo, open_tasks, upto, first=i == 0) if auto else list(todo)
        ran = {id(j) for j in batch}
        todo = [j for j in todo if id(j) not in ran]
        results += run_batch(batch) if batch else []
        if any(r.status != "FINISHED" for _, r in results):
            break
        for task in sorted(t for t in open_tasks if upto in rounds(auto[t])):
            decision = decide_task(tracker, jobs[0].experiment, task, auto[task])
            _say(decision.line())
            if decision.done:
                open_tasks.discard(task)
        if not open_tasks:
            break
    return results


def state_dir(options: RunOptions, uri: str) -> Path:
    """The state folder: ``state_dir``, else beside a sqlite database, else ./albench-state."""
    from albench.preflight import state_dir_for

    return Path(options.state_dir).resolve() if options.state_dir else state_dir_for(uri)


def _usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _mark_killed(tracker: Any, experiment: str, jobs: list, reason: str) -> None:
    """Runs of these jobs still RUNNING after Ctrl-C or SIGTERM (a worker died mid-way, or had
    no time to mark its own) become KILLED."""
    hashes = {j.config_hash() for j in jobs}
    for r in tracker.runs(experiment):
        if r.info.status == "RUNNING" and r.data.tags.get(Tag.CONFIG_HASH) in hashes:
            tracker.end_run(r.info.run_id, "KILLED", reason)


# ---------------------------------------------------------------------------- reading back
def report(options: ReportOptions | None = None, tracking_uri: str | None = None) -> ReportResult:
    """Write the report of an experiment (``options.experiment``; None: the only one with
    runs) and log it to MLflow as the run ``report``; several experiments: a comparison."""
    from albench.report import make_report

    return make_report(options, open_store(tracking_uri))


def load_results(experiment: str, tracking_uri: str | None = None) -> pd.DataFrame:
    """The experiment's results as the report reads them: one row per (run, metric, cycle)
    with columns task, strategy, trial, cycle, labeled, metric (``eval/accuracy``, ...),
    value and run_id, FINISHED runs only (the latest of each job)."""
    from albench.report import load_experiment

    return load_experiment(open_store(tracking_uri), experiment).frame


def open_store(uri: str | None = None) -> Any:
    """A Tracker of an existing store (reading never creates an empty one)."""
    from albench.tracking import Tracker, store_exists, tracking_uri

    uri = uri or tracking_uri()
    if not store_exists(uri):
        raise AlbenchError(
            f"no tracking store at {uri}; run a benchmark first (albench run) or set "
            "MLFLOW_TRACKING_URI to the store that holds your runs"
        )
    return Tracker(uri)
