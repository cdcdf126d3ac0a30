"""The ``albench`` command line: ``run`` a benchmark, ``report`` on it, ``list`` what is there.

Every :class:`~albench.errors.AlbenchError` (bad task, strategy, benchmark key, budget,
missing data) is printed as one line with exit code 2 and no traceback, and is raised before
any MLflow run is created, so bad input never leaves a run RUNNING.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from albench.errors import AlbenchError, ConfigError

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
        type=int,
        help="trials per (task, strategy) for every task; default: each task's own, else the "
        "benchmark's",
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
        help="override a benchmark setting, e.g. train.epochs=5 or tasks.digits.al.cycles=3",
    )
    p.add_argument("--gpus", default="auto", help="'auto' (all visible), 'none' or ids: 0,1")
    p.add_argument("--jobs-per-gpu", type=int, default=1, help="k jobs packed on each GPU")
    p.add_argument("--jobs", type=int, default=1, help="CPU-only: N jobs in parallel processes")
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
    plan = sub.add_parser("plan", help="print the jobs of a run with their estimated GPU time")
    _add_selection(plan)

    sub.add_parser("list", help="list the registered tasks, strategies and benchmarks")

    rep = sub.add_parser("report", help="figures, tables and index.html of one experiment")
    rep.add_argument("--experiment", help="MLflow experiment; default: the only one with runs")
    rep.add_argument("--out", help="output directory; default: reports/<experiment>")
    rep.add_argument("--tasks", default="all", help="'all' or a comma-separated list")
    rep.add_argument("--strategies", default="all", help="'all' or a comma-separated list")
    rep.add_argument("--trial", type=int, help="trial of the scatter plots; default: the first")
    rep.add_argument("--format", default="png,svg", help="figure formats: png,svg[,pdf]")
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
    """GPU ids for the slot pool, or None for CPU jobs."""
    if device == "cpu" or spec == "none":
        return None
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


def _jobs(args: argparse.Namespace, need_data: bool):
    """The selected jobs, their (pool, test) sizes, device and GPU ids; all input checked."""
    from pathlib import Path

    from albench.config import load_benchmark
    from albench.errors import DatasetMissingError
    from albench.loop import Job, prepare
    from albench.registry import STRATEGIES, TASKS
    from albench.tracking import tracking_uri

    for flag in ("jobs", "jobs_per_gpu"):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: give 1 or more")
    overrides = list(args.overrides)
    if args.trials is not None:
        if args.trials < 1:
            raise ConfigError(f"--trials {args.trials} is invalid: give 1 or more trials")
        overrides.append(f"benchmark.trials={args.trials}")  # and below, for every task
    if args.seed is not None:
        overrides.append(f"benchmark.seed={args.seed}")
    bench = load_benchmark(args.benchmark, overrides)
    strategies = _names(args.strategies, bench.strategies, "strategies")
    for s in strategies or []:
        STRATEGIES.get(s)
    bench = bench.select(_names(args.tasks, [t.name for t in bench.tasks], "tasks"), strategies)
    task_classes = [TASKS.get(t.name) for t in bench.tasks]
    planning = not need_data  # plan / --dry-run: no GPU needed to list the jobs
    device = _resolve_device(args.device, task_classes, args.device == "cpu" or planning)
    gpus = _resolve_gpus(args.gpus, device)
    jobs = [
        Job(
            benchmark=bench.name,
            experiment=args.experiment or bench.name,
            task=task,
            strategy=strategy,
            strategy_params=bench.strategy_hparams(task.name, strategy),
            trial=trial,
            seed=bench.seed,
            device=device,
            data_root=str(Path(args.data_root).resolve()),
            download=args.download,
            tracking_uri=tracking_uri(),
        )
        for task in bench.tasks
        for trial in range(args.trials or bench.trials_for(task.name))
        for strategy in bench.strategies
    ]
    # Preflight: every task's data and budget, every strategy's parameters, before any run.
    sizes: dict[str, tuple[int, int]] = {}
    for job in jobs:
        if job.task.name not in sizes:
            try:
                _, _, data = prepare(job)
                sizes[job.task.name] = (data.pool_size, len(data.test))
            except DatasetMissingError:
                hint = TASKS.get(job.task.name).sizes
                if need_data or hint is None:
                    raise
                sizes[job.task.name] = hint
        STRATEGIES.create(job.strategy, dict(job.strategy_params), f"strategies.{job.strategy}")
    return jobs, sizes, device, gpus


def cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from albench.checkpoint import state_dir_for
    from albench.runner import ProgressBoard, format_plan, plan_jobs, run_jobs
    from albench.tracking import Tracker

    dry = args.command == "plan" or args.dry_run
    if args.backend == "ray" and not dry:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise AlbenchError(
                "--backend ray needs Ray: pip install 'albench[ray]' (or pip install ray)"
            ) from None
    jobs, sizes, device, gpus = _jobs(args, need_data=not dry)
    tracker = Tracker()
    experiment = jobs[0].experiment
    state_dir = Path(args.state_dir).resolve() if args.state_dir else state_dir_for(tracker.uri)
    finished = set()
    if not dry or tracker.experiment_id(experiment, create=False) is not None:
        finished = {
            r.data.tags.get("albench.config_hash")
            for r in tracker.runs(experiment)
            if r.info.status == "FINISHED"
        }
    planned = plan_jobs(jobs, sizes, state_dir, finished)
    if dry:
        print(format_plan(planned))
        return 0
    tracker.experiment_id(experiment)  # created by the driver, before any worker starts
    todo = [p.job for p in planned if p.state != "finished"]
    where = (
        f"Ray{' at ' + args.address if args.address else ''}"
        if args.backend == "ray"
        else f"GPUs {gpus} x {args.jobs_per_gpu}"
        if gpus
        else f"{args.jobs} CPU process(es)"
    )
    print(
        f"albench: {len(todo)} of {len(jobs)} jobs to run ({len(jobs) - len(todo)} finished "
        f"already) on {device}, {where}; MLflow {tracker.uri}, experiment {experiment!r}",
        file=sys.stderr,
    )
    board = ProgressBoard(tty=None if not args.no_progress else False)
    started = time.perf_counter()
    try:
        results = run_jobs(
            todo,
            str(state_dir),
            backend=args.backend,
            n_jobs=args.jobs,
            gpus=gpus,
            jobs_per_gpu=args.jobs_per_gpu,
            address=args.address,
            board=board,
        )
    except KeyboardInterrupt:
        _mark_killed(tracker, experiment, todo)
        print(
            "albench: interrupted; unfinished runs are KILLED and resume on the next run "
            "of the same command",
            file=sys.stderr,
        )
        return 130
    failed = [(j, r) for j, r in results if r.status != "FINISHED"]
    for job, res in failed:
        print(f"albench: {job.run_name} {res.status}: {res.error}", file=sys.stderr)
    print(
        f"albench: {len(results) - len(failed)}/{len(results)} jobs FINISHED in "
        f"{time.perf_counter() - started:.0f}s ({len(jobs) - len(todo)} skipped as finished)",
        file=sys.stderr,
    )
    return 1 if failed else 0


def _mark_killed(tracker, experiment: str, jobs: list) -> None:
    """Runs of these jobs still RUNNING after Ctrl-C (a worker died mid-way) become KILLED."""
    hashes = {j.config_hash() for j in jobs}
    for run in tracker.runs(experiment):
        if run.info.status == "RUNNING" and run.data.tags.get("albench.config_hash") in hashes:
            tracker.end_run(run.info.run_id, "KILLED", "interrupted (Ctrl-C)")


def cmd_list(args: argparse.Namespace) -> int:
    from albench.config import builtin_benchmarks
    from albench.registry import STRATEGIES, TASKS

    for title, described in (("tasks", TASKS.describe()), ("strategies", STRATEGIES.describe())):
        print(f"{title}:")
        for name, line in described.items():
            print(f"  {name:16s} {line}")
    print("benchmarks:")
    for name, path in sorted(builtin_benchmarks().items()):
        print(f"  {name:16s} {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import shlex

    from albench.report import default_experiment, make_report
    from albench.tracking import Tracker

    tracker = Tracker()
    experiment = args.experiment or default_experiment(tracker)
    out = args.out or f"reports/{experiment}"
    command = ["albench", "report", "--experiment", experiment, "--out", out]
    for flag in ("tasks", "strategies", "trial", "format"):
        value = getattr(args, flag)
        if value not in (None, "all", "png,svg"):
            command += [f"--{flag}", str(value)]
    result = make_report(
        experiment,
        out,
        tasks=_names(args.tasks, [], "tasks"),
        strategies=_names(args.strategies, [], "strategies"),
        trial=args.trial,
        formats=[f.strip() for f in args.format.split(",") if f.strip()],
        command=shlex.join(command),
        tracker=tracker,
    )
    for row in result.left_out.itertuples():
        print(f"albench report: left out {row.name}: {row.reason}", file=sys.stderr)
    print(
        f"albench report: wrote {len(result.files)} files to {result.out_dir}/ (open "
        f"{result.out_dir / 'index.html'}); logged as MLflow run {result.run_id} 'report' "
        f"in experiment {experiment!r}",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {"run": cmd_run, "plan": cmd_run, "list": cmd_list, "report": cmd_report}
        return commands[args.command](args)
    except AlbenchError as exc:
        print(f"albench {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
