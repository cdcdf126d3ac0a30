"""How close ``albench plan``'s CPU estimate comes to the measured time of every job.

Runs a benchmark one job at a time (``--jobs 1``, so each job has the machine's cores as the
estimate assumes), reads each job's wall time from its MLflow run (end - start: data loading,
training, scans, selection and logging), and prints it beside the plan's 2-core CPU estimate
for the same job, with their ratio. The estimate prices image passes with each task's
``cpu_throughput`` and what each strategy's ``selection_cost`` declares (probes, a generative
model's training: ``runner.GENERATIVE_CPU_THROUGHPUT``). It also prints the generative
throughput the VAAL jobs imply, to check that constant.

    python benchmarks/plan_accuracy.py --benchmark zoo --set al.cycles=3   # about 25 min
    python benchmarks/plan_accuracy.py --store sqlite:///zoo_cycles3.db --benchmark zoo \\
        --set al.cycles=3    # the same jobs, already run into that store

Exit code 1 when a job's ratio lies outside [1/2, 2].
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default="zoo")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--tasks", default=None)
    parser.add_argument("--store", default=None, help="a store the jobs already ran into")
    args = parser.parse_args()

    common = ["--benchmark", args.benchmark, "--trials", "1"]
    common += [x for o in args.overrides for x in ("--set", o)]
    if args.tasks:
        common += ["--tasks", args.tasks]
    store = args.store
    if store is None:
        work = Path(tempfile.mkdtemp(prefix="plan_accuracy_"))
        store = f"sqlite:///{work / 'mlflow.db'}"
        subprocess.run(
            [sys.executable, "-m", "albench", "run", *common, "--jobs", "1", "--no-progress"],
            env=os.environ | {"MLFLOW_TRACKING_URI": store}, cwd=work, check=True,
        )  # fmt: skip
    os.environ["MLFLOW_TRACKING_URI"] = store

    from albench.cli import _jobs, build_parser
    from albench.registry import STRATEGIES, TASKS
    from albench.runner import GENERATIVE_CPU_THROUGHPUT as GENERATIVE
    from albench.runner import JOB_OVERHEAD_S, estimate, image_passes, plan_jobs
    from albench.tracking import Tracker

    parsed = build_parser().parse_args(["plan", *common])
    jobs, sizes, _, _ = _jobs(parsed, need_data=False)
    planned = {p.job.run_name: p for p in plan_jobs(jobs, sizes, None, set())}
    runs = {r.info.run_name: r for r in Tracker(store).runs(jobs[0].experiment)}
    print(f"{'job':36s} {'estimate':>9s} {'measured':>9s} {'ratio':>6s}")
    outside, implied, overheads = [], [], []
    for name, p in sorted(planned.items()):
        run = runs.get(name)
        if run is None or run.info.status != "FINISHED":
            print(f"{name:36s} {p.est_cpu_seconds:9.1f} {'-':>9s}")
            continue
        measured = (run.info.end_time - run.info.start_time) / 1000
        ratio = measured / p.est_cpu_seconds
        flag = "" if 0.5 <= ratio <= 2 else "  OUTSIDE [1/2, 2]"
        print(f"{name:36s} {p.est_cpu_seconds:9.1f} {measured:9.1f} {ratio:6.2f}{flag}")
        if flag:
            outside.append(name)
        job = p.job
        task = TASKS.get(job.task.registered)
        strategy = STRATEGIES.create(job.strategy, dict(job.strategy_params), job.strategy)
        pool, test = sizes[job.task.name]
        train, infer, generative = image_passes(job, pool, test, strategy, task.generative_size)
        passes_s = estimate(task, (train, infer, 0.0), {})[1] - JOB_OVERHEAD_S
        if generative:  # the seconds left for the generative model: its implied throughput
            rest = measured - passes_s - JOB_OVERHEAD_S
            implied.append((name, generative / rest if rest > 0 else float("inf")))
        else:
            overheads.append(measured - passes_s)
    for name, rate in implied:
        print(f"{name}: {rate:,.0f} generative images/s implied (albench: {GENERATIVE:,.0f})")
    if overheads:
        median = statistics.median(overheads)
        print(f"seconds beside the image passes, median of the other jobs: {median:.1f} "
              f"(albench: {JOB_OVERHEAD_S:.1f})")  # fmt: skip
    print(f"{len(planned) - len(outside)} of {len(planned)} jobs within a factor of 2")
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
