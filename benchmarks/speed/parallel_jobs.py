"""Wall time of the quick benchmark with --jobs 1 vs --jobs N worker processes (CPU).

Runs ``albench run --benchmark quick`` once per setting in a fresh temporary folder (its own
MLflow database and state), interleaving the settings over ``--repeats`` rounds, and reports
the median wall time of each and the speed-up. Only the standard library is imported here;
the runs themselves go through the installed ``albench`` command.

    python benchmarks/speed/parallel_jobs.py --jobs 1 2 --repeats 1 --out results.json
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _record


def run_once(jobs: int, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        cmd = [
            sys.executable,
            "-m",
            "albench",
            "run",
            "--benchmark",
            "quick",
            "--no-progress",
            "--jobs",
            str(jobs),
            *extra,
        ]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("extra", nargs="*", help="more albench run arguments after --")
    args = parser.parse_args()
    times: dict[int, list[float]] = {j: [] for j in args.jobs}
    for _ in range(args.repeats):
        for j in args.jobs:
            times[j].append(run_once(j, args.extra))
    base = statistics.median(times[args.jobs[0]])
    print(f"{'--jobs':>6s} {'median wall s':>14s} {'speed-up':>9s}")
    for j, ts in times.items():
        print(f"{j:6d} {statistics.median(ts):14.1f} {base / statistics.median(ts):8.2f}x")
    _record.write(
        args.out, None, platform=platform.platform(), wall_s={str(j): ts for j, ts in times.items()}
    )


if __name__ == "__main__":
    main()
