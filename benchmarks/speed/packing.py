"""Aggregate training throughput with k jobs packed on one device (``--jobs-per-gpu k``).

An early active-learning cycle trains on 1,000 labels (paper §4): ResNet-18 on so few images
at batch 128 cannot fill a large GPU alone. This starts k worker processes on the same device
(as the runner's slots do), each training albench's path (device-resident data, bf16 and
channels_last on CUDA, ``Learner.train``) on its own ``--labeled`` CIFAR-shaped images for
``--epochs`` epochs after a warm-up, all released together by a barrier, and reports the
images/s of all workers together for each k. On the CPU the workers split the cores, so the
figure shows the mechanism, not a gain. Imports torch, torchvision and numpy (no MLflow).

    python benchmarks/speed/packing.py --k 1 2 4 --labeled 1000 --epochs 5 --out p.json
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import _record
import numpy as np
import torch
import torch.multiprocessing as mp
from train_throughput import albench_config, cifar_like, resident, sync

from albench.strategies.learn_loss import LearnLossStrategy
from albench.tasks.classification.cifar10 import Cifar10Task
from albench.training import Learner, accelerate


def _worker(rank, args, barrier, results) -> None:
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.current_k))
    task, strategy = Cifar10Task(), LearnLossStrategy()
    torch.manual_seed(rank)
    model = task.build_model().to(device)
    module = strategy.auxiliary(task).to(device)
    cfg = albench_config(device, args.batch_size, compile=False)
    forward, _ = accelerate(task, model, cfg, device)
    images, labels = cifar_like(args.labeled, seed=rank)
    batches = resident(images, labels, device).train_batches(
        np.arange(args.labeled), args.batch_size, seed=rank, drop_last=False
    )
    Learner(task, strategy, model, module, device, forward).train(batches, cfg)
    sync(device)  # warm-up epoch done (cudnn autotuning)
    barrier.wait()
    start = time.perf_counter()
    for _ in range(args.epochs):
        Learner(task, strategy, model, module, device, forward).train(batches, cfg)
    sync(device)
    results[rank] = (start, time.perf_counter(), args.epochs * args.labeled)


def measure(args, k: int) -> float:
    """Images/s of k concurrent workers: all images over first start to last end."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(k), ctx.Manager().dict()
    args.current_k = k
    procs = [ctx.Process(target=_worker, args=(r, args, barrier, results)) for r in range(k)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"worker exited with {p.exitcode}")
    starts, ends, images = zip(*results.values(), strict=True)
    return sum(images) / (max(ends) - min(starts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 2, 4], help="jobs per device")
    parser.add_argument("--labeled", type=int, default=1000, help="images per job (a cycle)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per job")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = [{"k": k, "img_s": measure(args, k)} for k in args.k]
    device = torch.device(args.device)
    print(
        f"device: {_record.device_name(device)}; torch {torch.__version__}; {args.labeled} "
        f"images per job, batch {args.batch_size}, {args.epochs} timed epochs per job"
    )
    print(f"{'k':>3s} {'aggregate img/s':>16s} {'vs k=1':>7s}")
    for r in rows:
        r["vs_first"] = r["img_s"] / rows[0]["img_s"]
        print(f"{r['k']:3d} {r['img_s']:16.0f} {r['vs_first']:6.2f}x")
    _record.write(args.out, device, labeled=args.labeled, epochs=args.epochs, rows=rows)


if __name__ == "__main__":
    main()
