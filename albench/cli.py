"""The ``albench`` command line: ``run`` a benchmark, ``report`` on it, ``list`` what is there.

Every :class:`~albench.errors.AlbenchError` (bad task, strategy, benchmark key, budget,
missing data, an unsupported task/strategy pair) is printed as one line with exit code 2 and
no traceback (``ALBENCH_DEBUG=1`` adds it), and is raised before any MLflow run is created, so
bad input never leaves a run RUNNING. Names are checked against the registry's tables before
torch, a task family or MLflow is imported, so such errors come back in well under a second.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from albench import signals
from albench.errors import AlbenchError, ConfigError, masked
from albench.schema import Tag

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the bad value and where to read the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _names(value: str, valid: Sequence[str], kind: str) -> list[str] | None:
    """'all' -> None (keep the benchmark's), else the comma-separated names."""
    if value == "all":
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise ConfigError(f"--{kind} {value!r} names nothing; give 'all' or a,b,...")
    return names


def _add_selection(p: argparse.ArgumentParser) -> None:
    """Flags shared by ``run`` and ``plan``: which jobs, and how they are scheduled."""
    p.add_argument(
        "--benchmark", default="paper", help="'quick', 'paper' (default) or a .toml path"
    )
    p.add_argument("--tasks", default="all", help="'all' or a comma-separated list")
    p.add_argument("--strategies", default="all", help="'all', names or module:Class paths")
    p.add_argument(
        "--trials",
        help="trials per (task, strategy) for every task, or 'auto': rounds of 5, 10, 20, ... "
        "trials until every comparison is decided; default: each task's own, else the "
        "benchmark's",
    )
    p.add_argument(
        "--max-trials",
        type=int,
        help="with trials 'auto': the most trials a task runs (default: the benchmark's "
        "max_trials, else 20)",
    )
    p.add_argument("--seed", type=int, help="base seed; trial t uses seed + t")
    p.add_argument("--experiment", help="MLflow experiment; default: the benchmark's name")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--data-root", default="data", help="where real data sets live")
    p.add_argument("--download", action="store_true", help="download missing data sets")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a benchmark setting, e.g. train.epochs=5 or tasks.NAME.al.cycles=3",
    )
    p.add_argument("--gpus", default="auto", help="'auto' (all visible), 'none' or ids: 0,1")
    p.add_argument("--jobs-per-gpu", type=int, default=1, help="k jobs packed on each GPU")
    p.add_argument(
        "--jobs",
        type=int,
        help="CPU-only: N jobs in parallel processes; default: the usable cores (capped by "
        "the number of jobs) without CUDA, else 1",
    )
    p.add_argument("--backend", default="local", choices=["local", "ray"])
    p.add_argument("--address", help="Ray cluster address (with --backend ray)")
    p.add_argument("--state-dir", help="checkpoints for resume; default: beside the database")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="albench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a benchmark: tasks x strategies x trials")
    _add_selection(run)
    run.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    run.add_argument("--no-progress", action="store_true", help="plain log lines, no live view")
    run.add_argument(
        "--wait",
        action="store_true",
        help="if another albench run holds this experiment, wait for it instead of refusing",
    )
    plan = sub.add_parser("plan", help="print the jobs of a run with their estimated GPU time")
    _add_selection(plan)

    sub.add_parser("list", help="list the registered tasks, strategies and benchmarks")

    rep = sub.add_parser(
        "report", help="figures, tables and index.html of one experiment, or a comparison"
    )
    rep.add_argument(
        "--experiment",
        action="append",
        help="MLflow experiment; default: the only one with runs; repeat it (--experiment A "
        "--experiment B) for a comparison report of the tasks they share, A the reference",
    )
    rep.add_argument(
        "--out", help="output directory; default: reports/<experiment> (reports/<A>-vs-<B>)"
    )
    rep.add_argument("--tasks", default="all", help="'all' or a comma-separated list")
    rep.add_argument("--strategies", default="all", help="'all' or a comma-separated list")
    rep.add_argument("--trial", type=int, help="trial of the scatter plots; default: the first")
    rep.add_argument("--format", default="png,svg", help="figure formats: png,svg[,pdf]")
    rep.add_argument(
        "--baselines",
        help="comma-separated strategies every other strategy is compared with, paired by "
        "trial (t-test, Wilcoxon, AUBC difference); the first is label efficiency's "
        "reference; each must have runs in the experiment; default: the experiment's "
        "strategies whose runs are tagged as baselines, in strategy order",
    )
    return parser


def _resolve_device(requested: str, tasks: list, explicit_cpu: bool) -> str:
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


def _cluster_device(args: argparse.Namespace, tasks: list, planning: bool):
    """(device, GPU slots) of jobs on a Ray cluster: CUDA when its nodes declare GPUs (the
    driver may have none), each job asking Ray for 1/--jobs-per-gpu of one."""
    if args.device == "cpu" or args.gpus == "none":
        return "cpu", None
    if args.gpus != "auto":
        raise ConfigError(
            f"--gpus {args.gpus}: GPU ids choose this machine's GPUs; on Ray give --gpus auto "
            "(Ray assigns each job its GPU) or none"
        )
    from albench import cluster

    gpus = int(sum(node.gpus for node in cluster.nodes(cluster.connect(args.address))))
    if gpus:
        return "cuda", list(range(gpus))
    if args.device == "cuda":
        raise AlbenchError("--device cuda: the Ray cluster's nodes declare no GPU")
    return _resolve_device("cpu", tasks, planning), None


def _check_pairs(tasks: Sequence[str], strategies: Sequence[str]) -> None:
    """Refuse a (task, strategy) pair whose requirements the task does not meet (no import
    for built-ins: their capabilities are in the registry's tables)."""
    from albench.registry import STRATEGIES, TASKS, check_pair

    for task in tasks:
        provides = TASKS.capabilities(task)
        for strategy in strategies:
            check_pair(task, provides, strategy, STRATEGIES.capabilities(strategy))


def _jobs(args: argparse.Namespace, need_data: bool):
    """The selected jobs, their (pool, test) sizes, device and GPU ids; all input checked."""
    import dataclasses
    from pathlib import Path

    from albench.config import check_experiment_name, load_benchmark
    from albench.registry import STRATEGIES, TASKS

    for flag in ("jobs", "jobs_per_gpu"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: give 1 or more")
    overrides = list(args.overrides)
    if args.trials is not None:
        trials = args.trials.strip().lower()
        if trials != "auto" and not (trials.isdigit() and 1 <= int(trials) <= 1000):
            raise ConfigError(
                f"--trials {args.trials[:20]} is invalid: give 1 to 1000 trials, or 'auto' "
                "(rounds until every comparison is decided)"
            )
        overrides.append(
            f'benchmark.trials="{trials}"' if trials == "auto" else f"benchmark.trials={trials}"
        )
    if args.max_trials is not None:
        if args.max_trials < 1:
            raise ConfigError(f"--max-trials {args.max_trials} is invalid: give 1 or more")
        overrides.append(f"benchmark.max_trials={args.max_trials}")
    if args.seed is not None:
        overrides.append(f"benchmark.seed={args.seed}")
    root = Path(args.data_root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--data-root {root} is a file, not a folder; give a folder path")
    tasks = _names(args.tasks, [], "tasks")
    strategies = _names(args.strategies, [], "strategies")
    for name in strategies or []:
        STRATEGIES.check(name)
    bench = load_benchmark(args.benchmark, overrides, tasks)
    if args.experiment is not None:
        check_experiment_name(args.experiment, "--experiment")
    bench = bench.select(tasks, strategies)
    if args.trials is not None:  # --trials applies to every task, over the tasks' own
        bench = dataclasses.replace(
            bench, tasks=tuple(dataclasses.replace(t, trials=None) for t in bench.tasks)
        )
    if args.max_trials is not None and not any(bench.auto_trials(t.name) for t in bench.tasks):
        raise ConfigError(
            f"--max-trials {args.max_trials} applies to trials 'auto' only, and no task runs "
            "them; add --trials auto or drop --max-trials"
        )
    for task in bench.tasks:  # each task's own strategies (its only_strategies, if any)
        _check_pairs([task.registered], bench.strategies_for(task.name))
    bench = _reproducible_cpu(bench)  # before torch is imported below
    for name in bench.defaulted:
        print(
            f"albench: task {name!r} has no table in benchmark {bench.name!r}: it runs on its "
            "declared default schedule (Task.default_schedule)",
            file=sys.stderr,
        )
    from albench.tracking import tracking_uri  # pandas: only once the input is known good

    task_classes = [TASKS.get(t.registered) for t in bench.tasks]
    planning = not need_data  # plan / --dry-run: no GPU needed to list the jobs
    if args.backend == "ray":  # the cluster's GPUs, not this machine's
        device, gpus = _cluster_device(args, task_classes, planning)
    else:
        device = _resolve_device(args.device, task_classes, args.device == "cpu" or planning)
        gpus = _resolve_gpus(args.gpus, device)
    base = {"device": device, "tracking_uri": tracking_uri()}
    jobs = [
        _job(args, bench, (task, strategy, trial), base)
        for task in bench.tasks
        for trial in range(bench.trials_for(task.name))
        for strategy in bench.strategies_for(task.name)
    ]
    return jobs, _sizes(jobs, need_data), device, gpus


def _reproducible_cpu(bench):
    """Resolve ``train.reproducible_cpu`` per task (default: on for embedded tasks) and, if on,
    pin the CPU kernels' instruction set in this process's environment (albench/cpu.py). The
    pins are process-wide, so the tasks of one run must agree."""
    import dataclasses

    from albench.cpu import pin
    from albench.registry import TASKS

    def resolved(task) -> bool:
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


def _job(args: argparse.Namespace, bench, spec: tuple, base: dict):
    """The job of ``spec`` = (task config, strategy, trial), with its task parameters and
    strategy hyper-parameters resolved: the values given, then every code default (so the
    configuration hash covers the defaults too)."""
    import dataclasses
    from pathlib import Path

    from albench.loop import Job
    from albench.registry import STRATEGIES, TASKS

    task, strategy, trial = spec
    where = f"tasks.{task.name}.params"
    params = TASKS.resolve_params(task.registered, dict(task.params), where)
    hparams = bench.strategy_hparams(task.name, strategy)
    return Job(
        benchmark=bench.name,
        experiment=args.experiment or bench.name,
        task=dataclasses.replace(task, params=params),
        strategy=strategy,
        strategy_params=STRATEGIES.resolve_params(strategy, hparams, f"strategies.{strategy}"),
        trial=trial,
        seed=bench.seed,
        data_root=str(Path(args.data_root).resolve()),
        download=args.download,
        equivalence_margin=task.equivalence_margin,
        max_trials=bench.max_trials if bench.auto_trials(task.name) else None,
        **base,
    )


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


def cmd_run(args: argparse.Namespace) -> int:
    dry = args.command == "plan" or args.dry_run
    if args.backend == "ray" and not dry:
        from albench.cluster import check_address

        check_address(args.address)  # in seconds, before anything is created
    jobs, sizes, device, gpus = _jobs(args, need_data=not dry)
    from albench.preflight import ExperimentLock, check_folder, check_tracking_store
    from albench.tracking import tracking_uri

    uri = tracking_uri()
    experiment = jobs[0].experiment
    state_dir = planned_state_dir(args, uri)
    if state_dir.exists() and not state_dir.is_dir():
        raise AlbenchError(f"--state-dir {state_dir} is a file, not a folder; give a folder path")
    lock = ExperimentLock(uri, experiment)
    if not dry:  # the input is good: check the store, make the folder and the store, lock
        check_tracking_store(uri)
        made = not state_dir.exists()
        check_folder(state_dir, "--state-dir", create=True)
        try:
            check_tracking_store(uri, create=True)
        except AlbenchError:
            if made and not any(state_dir.iterdir()):
                state_dir.rmdir()  # made for this run alone, and still empty
            raise
        lock.acquire(wait=args.wait)  # before reading what is finished: no job runs twice
    elif uri.startswith(("http://", "https://")):
        check_tracking_store(uri)  # a health request: read-only
    with lock:
        return _plan_and_run(args, jobs, (sizes, device, gpus), state_dir)


def _plan_and_run(args: argparse.Namespace, jobs: list, resolved: tuple, state_dir) -> int:
    """Plan the jobs against what the store has finished; print the plan or run it."""
    from albench.runner import format_plan, plan_jobs
    from albench.tracking import Tracker, store_exists

    sizes, device, gpus = resolved
    uri, experiment = jobs[0].tracking_uri, jobs[0].experiment
    dry = args.command == "plan" or args.dry_run
    # plan / --dry-run are read-only: a missing local store is not created to be read
    tracker = Tracker(uri) if not dry or store_exists(uri) else None
    finished = set()
    if tracker is not None and tracker.experiment_id(experiment, create=False) is not None:
        finished = {
            r.data.tags.get(Tag.CONFIG_HASH)
            for r in tracker.runs(experiment)
            if r.info.status == "FINISHED"
        }
    planned = plan_jobs(jobs, sizes, state_dir, finished)
    if dry:
        todo = [p for p in planned if p.state != "finished"]
        if args.backend == "ray":
            slots = _cluster_slots(args, jobs, bool(gpus))
        else:
            slots = _local_slots(args, device, gpus, len(todo))
        print(format_plan(planned, gpu=bool(gpus), slots=slots))
        return 0
    return _run(args, tracker, planned, (device, gpus))


def _local_slots(args: argparse.Namespace, device: str, gpus: list | None, todo: int) -> int:
    """How many jobs run at once on this machine: GPUs x --jobs-per-gpu, else --jobs, else
    one per usable core (capped by the jobs)."""
    if gpus:
        return len(gpus) * args.jobs_per_gpu
    return args.jobs or (1 if device != "cpu" else max(1, min(_usable_cores(), todo)))


def _cluster_slots(args: argparse.Namespace, jobs: list, gpu: bool) -> int:
    """Connect to the Ray cluster (read-only), print its nodes, and return how many jobs it
    runs at once: per node, its CPUs / train.threads, or its GPUs x --jobs-per-gpu."""
    from albench import cluster

    ray = cluster.connect(args.address)
    try:
        alive = cluster.nodes(ray)
    finally:
        ray.shutdown()
    threads = max(j.task.train.threads for j in jobs)
    per_node = [int(n.gpus * args.jobs_per_gpu) if gpu else int(n.cpus // threads) for n in alive]
    print(f"Ray cluster{' at ' + args.address if args.address else ''}: {len(alive)} node(s)")
    for node, slots in zip(alive, per_node, strict=True):
        print(f"  {node.label:32s} {node.cpus:5g} CPUs {node.gpus:3g} GPUs  {slots} slot(s)")
    return max(1, sum(per_node))


def _run(args: argparse.Namespace, tracker, planned: list, where_to: tuple) -> int:
    """Run the planned jobs that are not finished; the summary and the exit code."""
    from albench.runner import ProgressBoard, Schedule, run_jobs

    device, gpus = where_to
    jobs = [p.job for p in planned]
    experiment, state_dir = jobs[0].experiment, planned_state_dir(args, tracker.uri)
    # a tracking server that goes away mid-run: bounded retries (about a minute), then the
    # job stops with its state saved and a rerun resumes it
    for key, value in (("MAX_RETRIES", "4"), ("BACKOFF_FACTOR", "2"), ("TIMEOUT", "30")):
        os.environ.setdefault(f"MLFLOW_HTTP_REQUEST_{key}", value)
    experiment_id = tracker.experiment_id(experiment)  # made here, before any worker starts
    todo = [p.job for p in planned if p.state != "finished"]
    from albench.checkpoint import JobState
    from albench.loop import checkpoint_path

    for p in planned:  # a kill after a job's run FINISHED can leave its state behind
        if p.state == "finished":
            JobState.remove(checkpoint_path(state_dir, p.job))
    n_jobs = _local_slots(args, device, None, len(todo))
    schedule = Schedule(args.backend, n_jobs, gpus, args.jobs_per_gpu, args.address)
    where = (
        f"Ray{' at ' + args.address if args.address else ''}"
        if args.backend == "ray"
        else f"GPUs {gpus} x {args.jobs_per_gpu}"
        if gpus
        else f"{n_jobs} CPU process(es)"
    )
    rounds = " (at most: trials 'auto' runs rounds until decided)" if _auto(jobs) else ""
    print(
        f"albench: {len(todo)} of {len(jobs)} jobs to run{rounds} ({len(jobs) - len(todo)} "
        f"finished already) on {device}, {where}; MLflow {masked(tracker.uri)}, experiment "
        f"{experiment!r}",
        file=sys.stderr,
    )
    board = ProgressBoard(tty=None if not args.no_progress else False)
    started = time.perf_counter()
    try:
        with signals.on_terminate():
            results = _in_rounds(
                tracker, jobs, todo, lambda b: run_jobs(b, str(state_dir), schedule, board)
            )
    except KeyboardInterrupt:
        how = "SIGTERM" if signals.terminated() else "Ctrl-C"
        _mark_killed(tracker, experiment, todo, f"interrupted ({how})")
        print(
            f"albench: interrupted ({how}); unfinished runs are KILLED and resume on the next "
            "run of the same command",
            file=sys.stderr,
        )
        return signals.EXIT_TERMINATED if signals.terminated() else signals.EXIT_INTERRUPTED
    failed = [(j, r) for j, r in results if r.status != "FINISHED"]
    for job, res in failed:
        reason = res.error.strip().splitlines()[0] if res.error.strip() else ""
        print(f"albench: {job.run_name} {res.status}: {reason}", file=sys.stderr)
    print(
        f"albench: {len(results) - len(failed)}/{len(results)} jobs FINISHED in "
        f"{time.perf_counter() - started:.0f}s ({len(jobs) - len(todo)} skipped as finished)",
        file=sys.stderr,
    )
    print(f"albench: the runs: {_runs_page(tracker.uri, experiment_id)}", file=sys.stderr)
    return 1 if failed else 0


def _runs_page(uri: str, experiment_id: str) -> str:
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


def _in_rounds(tracker, jobs: list, todo: list, run) -> list:
    """Run ``todo`` (``run(batch)`` runs a batch): all at once, or for tasks with trials
    "auto" round by round, deciding each such task after its rounds (albench/rounds.py)
    until it is decided or at max_trials. Stops after a round in which a job failed."""
    from albench.rounds import boundaries, decide_task, round_jobs
    from albench.verdicts import rounds

    auto = {j.task.name: j.max_trials for j in jobs if j.max_trials is not None}
    open_tasks, results = set(auto), []
    for i, upto in enumerate(boundaries(jobs)):
        batch = round_jobs(todo, open_tasks, upto, first=i == 0) if auto else list(todo)
        ran = {id(j) for j in batch}
        todo = [j for j in todo if id(j) not in ran]
        results += run(batch) if batch else []
        if any(r.status != "FINISHED" for _, r in results):
            break
        for task in sorted(t for t in open_tasks if upto in rounds(auto[t])):
            decision = decide_task(tracker, jobs[0].experiment, task, auto[task])
            print(f"albench: {decision.line()}", file=sys.stderr)
            if decision.done:
                open_tasks.discard(task)
        if not open_tasks:
            break
    return results


def planned_state_dir(args: argparse.Namespace, uri: str):
    """The state folder: ``--state-dir``, else beside a sqlite database, else ./albench-state."""
    from pathlib import Path

    from albench.checkpoint import state_dir_for

    return Path(args.state_dir).resolve() if args.state_dir else state_dir_for(uri)


def _usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _mark_killed(tracker, experiment: str, jobs: list, reason: str) -> None:
    """Runs of these jobs still RUNNING after Ctrl-C or SIGTERM (a worker died mid-way, or had
    no time to mark its own) become KILLED."""
    hashes = {j.config_hash() for j in jobs}
    for run in tracker.runs(experiment):
        if run.info.status == "RUNNING" and run.data.tags.get(Tag.CONFIG_HASH) in hashes:
            tracker.end_run(run.info.run_id, "KILLED", reason)


def cmd_list(args: argparse.Namespace) -> int:
    """Tasks, strategies, benchmarks and the task x strategy support matrix (built-ins are
    described from the registry's tables: nothing heavy is imported)."""
    from albench.config import builtin_benchmarks
    from albench.registry import STRATEGIES, TASKS, missing_capabilities

    for title, described in (("tasks", TASKS.describe()), ("strategies", STRATEGIES.describe())):
        print(f"{title}:")
        for name, line in described.items():
            print(f"  {name:16s} {line}")
    print("benchmarks:")
    for name, path in sorted(builtin_benchmarks().items()):
        print(f"  {name:16s} {path}")
    strategies = STRATEGIES.names()
    rows = {}
    for task in TASKS.names():
        provides = TASKS.capabilities(task)
        missing = [missing_capabilities(provides, STRATEGIES.capabilities(s)) for s in strategies]
        rows[task] = ["no: " + ",".join(m) if m else "yes" for m in missing]
    # each column as wide as its name or its widest cell, so that no two cells touch
    widths = [
        max(len(s), *(len(r[i]) for r in rows.values())) + 2 for i, s in enumerate(strategies)
    ]
    print("support (yes: the strategy runs on the task; else the capability it lacks):")
    print(f"  {'':10s}" + "".join(f"{s:>{w}s}" for s, w in zip(strategies, widths, strict=True)))
    for task, cells in rows.items():
        print(f"  {task:10s}" + "".join(f"{c:>{w}s}" for c, w in zip(cells, widths, strict=True)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import shlex

    from albench.report import ReportOptions, default_experiment, make_report
    from albench.tracking import Tracker, store_exists, tracking_uri

    if not store_exists(tracking_uri()):  # reading must not create an empty store
        raise AlbenchError(
            f"no tracking store at {tracking_uri()}; run a benchmark first (albench run) or "
            "set MLFLOW_TRACKING_URI to the store that holds your runs"
        )
    tracker = Tracker()
    names = list(dict.fromkeys(args.experiment or [default_experiment(tracker)]))
    from albench.config import experiment_file_name

    out = args.out or f"reports/{'-vs-'.join(map(experiment_file_name, names))}"
    command = ["albench", "report"]
    for name in names:
        command += ["--experiment", name]
    command += ["--out", out]
    for flag in ("tasks", "strategies", "baselines", "trial", "format"):
        value = getattr(args, flag)
        if value not in (None, "all", "png,svg"):
            command += [f"--{flag}", str(value)]
    baselines = None
    if args.baselines is not None:
        baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
    options = ReportOptions(
        experiment=names[0] if len(names) == 1 else names,
        out=out,
        tasks=_names(args.tasks, [], "tasks"),
        strategies=_names(args.strategies, [], "strategies"),
        baselines=baselines,
        trial=args.trial,
        formats=[f.strip() for f in args.format.split(",") if f.strip()],
        command=shlex.join(command),
    )
    result = make_report(options, tracker)
    for row in result.left_out.itertuples():
        name = f"{row.experiment}:{row.name}" if len(names) > 1 else row.name
        print(f"albench report: left out {name}: {row.reason}", file=sys.stderr)
    print(
        f"albench report: wrote {len(result.files)} files to {result.out_dir}/ (open "
        f"{result.out_dir / 'index.html'}); logged as MLflow run {result.run_id} 'report' "
        f"in experiment {names[0]!r}",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {"run": cmd_run, "plan": cmd_run, "list": cmd_list, "report": cmd_report}
        return commands[args.command](args)
    except AlbenchError as exc:
        if os.environ.get("ALBENCH_DEBUG"):
            import traceback

            traceback.print_exc()
        for line in masked(str(exc)).splitlines() or [""]:  # one line per problem
            print(f"albench {args.command}: error: {line}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
