"""The ``albench`` command line: ``run`` a benchmark, ``report`` on it, ``list`` what is there.

Every :class:`~albench.errors.AlbenchError` (bad task, strategy, benchmark key, budget,
missing data, an unsupported task/strategy pair) is printed as one line with exit code 2 and
no traceback (``ALBENCH_DEBUG=1`` adds it), and is raised before any MLflow run is created, so
bad input never leaves a run RUNNING. Names are checked against the registry's index before
torch, a task family or MLflow is imported, so such errors come back in well under a second.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from albench import api
from albench.api import RunOptions
from albench.errors import AlbenchError, masked

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the bad value and where to read the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


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


def options_of(args: argparse.Namespace) -> RunOptions:
    """The :class:`~albench.api.RunOptions` of ``run``/``plan``'s flags."""
    return RunOptions(
        tasks=args.tasks,
        strategies=args.strategies,
        trials=args.trials,
        max_trials=args.max_trials,
        seed=args.seed,
        overrides=tuple(args.overrides),
        experiment=args.experiment,
        data_root=args.data_root,
        download=args.download,
        device=args.device,
        gpus=args.gpus,
        jobs=args.jobs,
        jobs_per_gpu=args.jobs_per_gpu,
        backend=args.backend,
        address=args.address,
        state_dir=args.state_dir,
        wait=getattr(args, "wait", False),
        progress=not getattr(args, "no_progress", False),
    )


def cmd_run(args: argparse.Namespace) -> int:
    options = options_of(args)
    if args.command == "plan" or args.dry_run:
        print(api.plan(args.benchmark, options))
        return 0
    return api.run(args.benchmark, options).exit_code


def cmd_list(args: argparse.Namespace) -> int:
    """Tasks, strategies, benchmarks and the task x strategy support matrix (built-ins are
    described from the registry's index: nothing heavy is imported)."""
    for title, described in (("tasks", api.list_tasks()), ("strategies", api.list_strategies())):
        print(f"{title}:")
        for name, line in described.items():
            print(f"  {name:16s} {line}")
    print("benchmarks:")
    for name, path in api.list_benchmarks().items():
        print(f"  {name:16s} {path}")
    matrix = api.support()
    strategies = list(next(iter(matrix.values()), {}))
    rows = {
        task: ["no: " + ",".join(m) if m else "yes" for m in lacks.values()]
        for task, lacks in matrix.items()
    }
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

    from albench.config import experiment_file_name
    from albench.report import ReportOptions, default_experiment

    tracker = api.open_store()
    names = list(dict.fromkeys(args.experiment or [default_experiment(tracker)]))
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
        tasks=api.names(args.tasks, "tasks"),
        strategies=api.names(args.strategies, "strategies"),
        baselines=baselines,
        trial=args.trial,
        formats=[f.strip() for f in args.format.split(",") if f.strip()],
        command=shlex.join(command),
    )
    result = api.report(options, tracker.uri)
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
