"""The ``albench`` command line: ``run`` a benchmark, ``list`` what is registered.

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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="albench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a benchmark: tasks x strategies x trials")
    run.add_argument(
        "--benchmark", default="paper", help="'quick', 'paper' (default) or a .toml path"
    )
    run.add_argument("--tasks", default="all", help="'all' or a comma-separated list")
    run.add_argument("--strategies", default="all", help="'all', names or module:Class paths")
    run.add_argument("--trials", type=int, help="trials per (task, strategy); default: benchmark's")
    run.add_argument("--seed", type=int, help="base seed; trial t uses seed + t")
    run.add_argument("--experiment", help="MLflow experiment; default: the benchmark's name")
    run.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    run.add_argument("--data-root", default="data", help="where real data sets live")
    run.add_argument("--download", action="store_true", help="download missing data sets")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a benchmark setting, e.g. train.epochs=5 or tasks.digits.al.cycles=3",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    sub.add_parser("list", help="list the registered tasks, strategies and benchmarks")
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


def cmd_run(args: argparse.Namespace) -> int:
    from albench.config import load_benchmark
    from albench.loop import Job, prepare
    from albench.registry import STRATEGIES, TASKS

    overrides = list(args.overrides)
    if args.trials is not None:
        if args.trials < 1:
            raise ConfigError(f"--trials {args.trials} is invalid: give 1 or more trials")
        overrides.append(f"benchmark.trials={args.trials}")
    if args.seed is not None:
        overrides.append(f"benchmark.seed={args.seed}")
    bench = load_benchmark(args.benchmark, overrides)
    strategies = _names(args.strategies, bench.strategies, "strategies")
    for s in strategies or []:
        STRATEGIES.get(s)
    bench = bench.select(_names(args.tasks, [t.name for t in bench.tasks], "tasks"), strategies)
    task_classes = [TASKS.get(t.name) for t in bench.tasks]
    device = _resolve_device(args.device, task_classes, explicit_cpu=args.device == "cpu")
    experiment = args.experiment or bench.name

    jobs = [
        Job(
            benchmark=bench.name,
            experiment=experiment,
            task=task,
            strategy=strategy,
            strategy_params=bench.strategy_hparams(task.name, strategy),
            trial=trial,
            seed=bench.seed,
            device=device,
            data_root=args.data_root,
            download=args.download,
        )
        for task in bench.tasks
        for trial in range(bench.trials)
        for strategy in bench.strategies
    ]
    # Preflight: every task's data and budget, every strategy's parameters, before any run.
    checked: set[str] = set()
    for job in jobs:
        if job.task.name not in checked:
            prepare(job)
            checked.add(job.task.name)
        STRATEGIES.create(job.strategy, dict(job.strategy_params), f"strategies.{job.strategy}")

    from albench.tracking import Tracker

    tracker = Tracker()
    tracker.experiment_id(experiment)  # created by the driver, before any job
    print(
        f"albench: {len(jobs)} jobs ({len(bench.tasks)} task(s) x {len(bench.strategies)} "
        f"strategies x {bench.trials} trials) on {device}; MLflow {tracker.uri}, "
        f"experiment {experiment!r}",
        file=sys.stderr,
    )
    return _run_sequential(jobs, progress=not args.no_progress)


def _run_sequential(jobs: list, progress: bool) -> int:
    from tqdm import tqdm

    from albench.loop import run_job

    results = []
    for i, job in enumerate(jobs):
        total = job.task.al.cycles * job.task.train.epochs
        desc = f"[{i + 1}/{len(jobs)}] {job.run_name}"
        started = time.perf_counter()
        with tqdm(total=total, desc=desc, unit="ep", disable=not progress, leave=False) as bar:
            try:
                res = run_job(job, bar=bar)
                results.append((job.run_name, res.status, res.metric, res.seconds))
            except KeyboardInterrupt:
                print("albench: interrupted; the current run is marked KILLED", file=sys.stderr)
                return 130
            except AlbenchError:
                raise
            except Exception as exc:  # the job failed alone; its run is FAILED with the reason
                results.append(
                    (job.run_name, "FAILED", float("nan"), time.perf_counter() - started)
                )
                print(
                    f"albench: {job.run_name} FAILED: {type(exc).__name__}: {exc}", file=sys.stderr
                )
        name, status, metric, secs = results[-1]
        print(f"{name:40s} {status:9s} {metric:.4f} {secs:7.1f}s", file=sys.stderr)
    failed = [r for r in results if r[1] != "FINISHED"]
    print(f"albench: {len(results) - len(failed)}/{len(results)} jobs FINISHED", file=sys.stderr)
    return 1 if failed else 0


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": cmd_run, "list": cmd_list}[args.command](args)
    except AlbenchError as exc:
        print(f"albench {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
