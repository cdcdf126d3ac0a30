"""Training images/s of one embedded-task job on the CPU: the ``cpu_throughput`` tasks declare.

``albench plan`` estimates a CPU job's time as (training passes + 1/3 x inference passes) /
``Task.cpu_throughput``. This measures that figure the way the quick benchmark runs a job on a
2-core machine with its default ``--jobs 2``: one process, one intra-op thread, the task's
default parameters and its declared default schedule's batch size, training through
``Learner.train`` (warm-up epoch excluded), and the evaluation pass over the test split. It
prints, per task, training images/s and the inference/training speed ratio.

    python benchmarks/speed/cpu_throughput.py --tasks digits shapes stickmen --epochs 3

``--kernels`` chooses the CPU kernels: ``machine`` (as the CPU has them, the default),
``albench`` (the reproducible CPU mode, albench/cpu.py) or ``previous`` (revision 1 of that
mode: ATen and oneDNN at AVX2, MKL's Intel-only AVX2 branch), to measure what the mode costs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import _record


def measure(name: str, epochs: int, labeled: int, data_root: str) -> dict[str, float]:
    import numpy as np
    import torch

    from albench.config import TrainConfig, build_dataclass
    from albench.registry import STRATEGIES, TASKS
    from albench.training import Batches, Learner

    task = TASKS.create(name, {}, f"tasks.{name}.params")
    schedule = dict(TASKS.get(name).default_schedule or {})
    train = dict(schedule.get("train", {}), epochs=1)
    cfg = build_dataclass(TrainConfig, train, f"tasks.{name}.train")
    data = task.datasets(data_root, download=False)
    strategy = STRATEGIES.create("random", {}, "strategies.random")
    learner = Learner.build(task, strategy, cfg, torch.device("cpu"), seeds=(0, 1))
    job_batches = Batches(task, data, cfg, torch.device("cpu"))
    indices = np.arange(min(labeled, data.pool_size))
    batches = job_batches.train(indices, seed=0, drop_last=False)
    learner.train(batches, cfg)  # warm-up
    start = time.perf_counter()
    for _ in range(epochs):
        learner.train(batches, cfg)
    train_rate = epochs * len(indices) / (time.perf_counter() - start)
    start = time.perf_counter()
    learner.evaluate(job_batches.eval("test", np.arange(len(data.test))))
    infer_rate = len(data.test) / (time.perf_counter() - start)
    return {"train_images_per_s": train_rate, "infer_over_train": infer_rate / train_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["digits", "shapes", "stickmen"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--labeled", type=int, default=320, help="training images per epoch")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (a job's)")
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--kernels", default="machine", choices=["machine", "albench", "previous"])
    args = parser.parse_args()
    from albench import cpu

    if {"torch", "numpy"} & set(sys.modules):  # their kernels are chosen when imported
        raise SystemExit("torch or numpy was imported before the kernels were chosen")
    if args.kernels == "albench":
        cpu.pin()
    elif args.kernels == "previous":
        os.environ.update(cpu.PREVIOUS_PINS)
    import torch

    if args.kernels == "albench":
        cpu.settle()
    torch.set_num_threads(args.threads)
    print(f"kernels {args.kernels}: {cpu.describe()}")
    results = {}
    for name in args.tasks:
        results[name] = measure(name, args.epochs, args.labeled, args.data_root)
        r = results[name]
        print(
            f"{name:10s} {r['train_images_per_s']:9.0f} training images/s, inference "
            f"{r['infer_over_train']:.1f}x faster ({args.threads} thread(s))"
        )
    _record.write(None, threads=args.threads, results=results)


if __name__ == "__main__":
    main()
