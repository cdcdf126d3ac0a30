"""Is the reproducible CPU mode the same on Intel and AMD? One small job, three CPUs, bit for bit.

Runs one small albench job per task family (digits, shapes, stickmen; 2 cycles of 2 epochs;
``learn_loss`` and ``coreset``, so MKL's products, oneDNN's convolutions and a selection all
run) three times: natively, and under ``qemu-x86_64`` emulating an Intel and an AMD processor
(default ``-cpu Haswell`` and ``-cpu EPYC-Rome``, both AVX2 without AVX-512: qemu's TCG has no
AVX-512). Then it compares, run by run, every per-cycle ``eval/*`` value, every per-epoch
training loss and every pick, and prints how many differ. Exit code 0: all equal; 1: some
differ; 2: no ``qemu-x86_64`` (Debian: ``apt-get install qemu-user``).

qemu-user does not follow ``execve``: a process the job starts runs natively. So each run is
``albench run --jobs 1``, which executes its jobs in the driver's own process (no worker), and
the twins' data are generated once, natively, before the emulated runs only read them.
Emulation is slow (about 100x for vector code): the job is small on purpose, and the two
emulated runs go in parallel.

    python benchmarks/cpu_vendors.py                     # albench's reproducible mode
    python benchmarks/cpu_vendors.py --kernels previous  # revision 1's pins (MKL_CBWR=AVX2)
    python benchmarks/cpu_vendors.py --kernels native    # no pins at all

``--kernels previous`` and ``native`` run with ``train.reproducible_cpu=false`` and the given
variables, to show what the mode is for; they too run numpy at its baseline
(``NPY_DISABLE_CPU_FEATURES``), since qemu 7.2 crashes in numpy's AVX2 sort.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from albench.cpu import NUMPY_ABOVE_BASELINE, PINS, PREVIOUS_PINS
from albench.schema import EVAL_PREFIX, TRAIN_LOSS_PREFIX, artifact

__all__ = ["JOB", "KERNELS", "collect", "compare", "main", "run_albench"]

# One small job per family: every code path of the quick benchmark (the same kinds of oneDNN
# convolution kernels run: direct JIT, GEMM-based, brgemm, 1x1), as little compute as
# emulation affords: 32-pixel twins, 8 labels per cycle, 64 digits in the test split.
JOB = [
    "--benchmark", "quick", "--trials", "1", "--strategies", "learn_loss,coreset",
    "--jobs", "1", "--no-progress",
    "--set", "al.cycles=2", "--set", "train.epochs=2",
    "--set", "al.initial=8", "--set", "al.budget=8", "--set", "al.subset=16",
    "--set", "tasks.shapes.params.pool_size=40", "--set", "tasks.shapes.params.test_size=8",
    "--set", "tasks.stickmen.params.pool_size=40", "--set", "tasks.stickmen.params.test_size=8",
    "--set", "tasks.shapes.params.image_size=32", "--set", "tasks.shapes.params.width=8",
    "--set", "tasks.stickmen.params.image_size=32", "--set", "tasks.stickmen.params.depth=2",
    "--set", "tasks.stickmen.params.features=16", "--set", "tasks.digits.params.test_size=64",
]  # fmt: skip

KERNELS = {  # name -> (train.reproducible_cpu, environment)
    "albench": ("true", {}),
    # numpy at its baseline in every mode: qemu 7.2 crashes in numpy's AVX2 sort
    "previous": ("false", PREVIOUS_PINS | {"NPY_DISABLE_CPU_FEATURES": NUMPY_ABOVE_BASELINE}),
    "native": ("false", {"NPY_DISABLE_CPU_FEATURES": NUMPY_ABOVE_BASELINE}),
}
_KERNEL_VARS = tuple(PINS)


def run_albench(folder: Path, data_root: Path, kernels: str, cpu: str | None) -> subprocess.Popen:
    """Start ``albench run JOB`` in ``folder`` (its own sqlite store), natively or under
    ``qemu-x86_64 -cpu CPU``."""
    mode, env_pins = KERNELS[kernels]
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _KERNEL_VARS} | env_pins
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    env["PYTHONWARNINGS"] = "ignore"
    args = [*JOB, "--set", f"train.reproducible_cpu={mode}", "--data-root", str(data_root)]
    command = [sys.executable, "-m", "albench", "run", *args]
    if cpu is not None:
        command = ["qemu-x86_64", "-cpu", cpu, *command]
    log = open(folder / "albench.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)


def collect(folder: Path) -> dict[str, dict]:
    """Per run name: every ``eval/*`` and ``train/loss/*`` history and the picks of each cycle,
    plus the ``cpu.*`` params it logged."""
    import numpy as np

    from albench.tracking import Tracker

    tracker = Tracker(f"sqlite:///{folder / 'mlflow.db'}")
    out = {}
    for run in tracker.runs("quick"):
        rid, keys = run.info.run_id, sorted(run.data.metrics)
        values = {
            k: tracker.metric_history(rid, k)
            for k in keys
            if k.startswith((EVAL_PREFIX, TRAIN_LOSS_PREFIX))
        }
        evaluated = [k for k in keys if k.startswith(EVAL_PREFIX)]
        cycles = len(values[evaluated[0]]) if evaluated else 0
        for c in range(cycles - 1):  # picks after every cycle but the last
            name = artifact("selected", c, "npy")
            path = tracker.download_artifact(rid, name, folder / "dl")
            values[name.removesuffix(".npy")] = list(enumerate(np.load(path).tolist()))
        params = {k: v for k, v in run.data.params.items() if k.startswith("cpu.")}
        out[run.info.run_name] = {"status": run.info.status, "values": values, "cpu": params}
    return out


def _flat(values: dict) -> dict[tuple, float]:
    return {(k, step): v for k, history in values.items() for step, v in history}


def compare(results: dict[str, dict]) -> tuple[bool, list[str]]:
    """Whether every environment has the same runs with bit-equal values; a table of lines."""
    names = list(results)
    reference = results[names[0]]
    lines = [f"{'run':28s} {'values':>6s} " + " ".join(f"{n:>22s}" for n in names)]
    same = all(set(r) == set(reference) for r in results.values())
    for run in sorted(reference):
        ref = _flat(reference[run]["values"])
        cells = []
        for name in names:
            got = results[name].get(run)
            if got is None or got["status"] != "FINISHED":
                cells.append("missing" if got is None else got["status"])
                same = False
                continue
            flat = _flat(got["values"])
            differ = sum(flat.get(k) != v for k, v in ref.items()) + len(set(flat) - set(ref))
            same &= differ == 0
            cells.append("equal" if not differ else f"{differ} of {len(ref)} differ")
        lines.append(f"{run:28s} {len(ref):6d} " + " ".join(f"{c:>22s}" for c in cells))
    return same, lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpus", default="Haswell,EPYC-Rome", help="qemu -cpu models to emulate")
    p.add_argument("--kernels", default="albench", choices=sorted(KERNELS))
    p.add_argument("--out", help="folder for the three stores; default: a temporary one")
    args = p.parse_args(argv)
    if shutil.which("qemu-x86_64") is None:
        print("cpu_vendors: qemu-x86_64 not found; apt-get install qemu-user", file=sys.stderr)
        return 2
    out = Path(args.out or tempfile.mkdtemp(prefix="albench-cpu-vendors-"))
    cpus = [c for c in args.cpus.split(",") if c]
    started = time.perf_counter()
    native = run_albench(out / "native", out / "data", args.kernels, None)
    if native.wait() != 0:  # also generates the twins' data the emulated runs read
        print(f"cpu_vendors: the native run failed: {out / 'native/albench.log'}", file=sys.stderr)
        return 1
    native_s = time.perf_counter() - started
    emulated = {c: run_albench(out / c, out / "data", args.kernels, c) for c in cpus}
    codes = {c: proc.wait() for c, proc in emulated.items()}
    emulated_s = time.perf_counter() - started - native_s
    print(
        f"kernels {args.kernels!r}: native {native_s:.0f} s, emulated {emulated_s:.0f} s "
        f"({', '.join(cpus)} in parallel)"
    )
    for c, code in codes.items():
        if code != 0:
            print(f"cpu_vendors: the run under -cpu {c} failed: {out / c / 'albench.log'}")
    results = {"native": collect(out / "native")}
    results |= {f"qemu -cpu {c}": collect(out / c) for c in cpus if codes[c] == 0}
    same, lines = compare(results)
    print("\n".join(lines))
    first = next(iter(results["native"].values()))["cpu"]
    print("native kernels:", json.dumps(first, sort_keys=True))
    print("bit-equal in every environment" if same else "DIFFERENT results")
    return 0 if same and all(code == 0 for code in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
