"""One whole active-learning cycle per strategy: albench vs a reference-style implementation.

A cycle at the paper's CIFAR-10 scale (§4.1) is: train on the labeled set (here ``--epochs``
epochs on ``--labeled`` images, default 5,000), scan the random subset S_M (``--subset``,
default M = 10,000) with the trained model, select K = ``--budget`` items. Both paths train
the same ResNet-18 (and, for the learn-loss strategies, the same loss-prediction module) on
the same generated CIFAR-shaped images, on the same device, in the same process:

- albench: the code the loop runs: device-resident data with on-device augmentation,
  ``Learner.train`` (bf16 autocast and channels_last on CUDA), ``Learner.scan`` (statistics stay
  on the device), the strategy's ``select`` (core-set: chunked torch k-center greedy);
- reference, as public reimplementations write it: a DataLoader with CPU transforms, fp32,
  batch 128, a scan through a DataLoader that moves every batch's statistics to the host,
  selection in NumPy (``argsort`` of the scores; core-set: a row of distances per pick).

The table gives seconds per phase and the ratio of the totals. Imports torch, torchvision and
numpy (no MLflow).

    python benchmarks/speed/al_cycle.py --labeled 5000 --subset 10000 --epochs 2 --out c.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import _record
import numpy as np
import torch
from kcenter import numpy_k_center
from train_throughput import (
    EVAL_TRANSFORM,
    REFERENCE_TRANSFORM,
    PILImages,
    albench_config,
    cifar_like,
    reference_epoch,
    reference_loader,
    resident,
    sgd,
    sync,
)

from albench.registry import STRATEGIES
from albench.strategies.learn_loss import mse_loss_prediction_loss, ranking_loss
from albench.tasks.classification.cifar10 import Cifar10Task
from albench.tasks.classification.common import softmax_entropy
from albench.training import Learner, accelerate

STRATEGY_NAMES = ("random", "entropy", "coreset", "learn_loss", "learn_loss_mse")


def albench_cycle(name, task, images, labels, labeled, candidates, args, device) -> dict:
    strategy = STRATEGIES.create(name, {}, "--strategies")
    torch.manual_seed(0)
    model = task.build_model().to(device)
    aux = strategy.auxiliary(task)
    aux = aux.to(device) if aux is not None else None
    cfg = albench_config(device, args.batch_size, compile=False)
    cfg = dataclasses.replace(cfg, epochs=args.epochs, eval_batch_size=1000)
    forward, _ = accelerate(task, model, cfg, device)
    data = resident(images, labels, device)
    times = {}
    sync(device)
    t0 = time.perf_counter()
    batches = data.train_batches(labeled, cfg.batch_size, seed=0, drop_last=False)
    learner = Learner(task, strategy, model, aux, device, forward)
    learner.train(batches, cfg)
    sync(device)
    times["train_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    scan = learner.scan(
        candidates, labeled, lambda idx: data.eval_batches("pool", idx, cfg.eval_batch_size)
    )
    sync(device)
    times["scan_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    picks = strategy.select(scan, args.budget, np.random.default_rng(0))
    times["select_s"] = time.perf_counter() - t0
    assert len(picks) == args.budget
    return times


@torch.no_grad()
def reference_scan(name, model, module, images, labels, indices, args, device):
    """Per-sample statistics of ``indices`` as host arrays, a DataLoader batch at a time."""
    model.eval()
    if module is not None:
        module.eval()
    dataset = torch.utils.data.Subset(PILImages(images, labels, EVAL_TRANSFORM), indices)
    loader = reference_loader(dataset, args.batch_size, args.workers, device, shuffle=False)
    out = []
    for x, _ in loader:
        logits, taps, emb = model(x.to(device))
        if name == "coreset":
            out.append(emb.cpu().numpy())
        elif name == "entropy":
            out.append(softmax_entropy(logits).cpu().numpy())
        else:
            out.append(module(taps).cpu().numpy())
    return np.concatenate(out)


def reference_cycle(name, task, images, labels, labeled, candidates, args, device) -> dict:
    torch.manual_seed(0)
    model = task.build_model().to(device)
    module = STRATEGIES.create(name, {}, "--strategies").auxiliary(task)
    module = module.to(device) if module is not None else None
    opt = sgd(model, module)
    # the MSE variant's loss-prediction loss; every other strategy trains as reimplementations
    # do (ranking loss when a module is attached)
    loss_fn = mse_loss_prediction_loss if name == "learn_loss_mse" else ranking_loss
    dataset = torch.utils.data.Subset(PILImages(images, labels, REFERENCE_TRANSFORM), labeled)
    loader = reference_loader(dataset, args.batch_size, args.workers, device, shuffle=True)
    times = {}
    sync(device)
    t0 = time.perf_counter()
    for _ in range(args.epochs):
        reference_epoch(model, module, opt, loader, device, loss_fn)
    sync(device)
    times["train_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    stats = labeled_stats = None
    if name != "random":
        stats = reference_scan(name, model, module, images, labels, candidates, args, device)
        if name == "coreset":
            labeled_stats = reference_scan(
                name, model, module, images, labels, labeled, args, device
            )
    times["scan_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if name == "random":
        picks = np.random.default_rng(0).choice(candidates, args.budget, replace=False)
    elif name == "coreset":
        picks = candidates[numpy_k_center(stats, labeled_stats, args.budget)]
    else:
        picks = candidates[np.argsort(-stats)[: args.budget]]
    times["select_s"] = time.perf_counter() - t0
    assert len(picks) == args.budget
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labeled", type=int, default=5000)
    parser.add_argument("--subset", type=int, default=10_000, help="M, scanned candidates")
    parser.add_argument("--budget", type=int, default=1000, help="K, picks per cycle")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGY_NAMES))
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    device = torch.device(args.device)
    images, labels = cifar_like(args.labeled + args.subset)
    labeled = np.arange(args.labeled)
    candidates = np.random.default_rng(1).permutation(np.arange(args.labeled, len(images)))
    task = Cifar10Task()
    warm = argparse.Namespace(**{**vars(args), "epochs": 1, "budget": 16})  # cudnn autotuning
    albench_cycle("entropy", task, images, labels, labeled[:256], candidates[:256], warm, device)
    rows = []
    for name in args.strategies:  # interleaved: albench, then reference, per strategy
        ours = albench_cycle(name, task, images, labels, labeled, candidates, args, device)
        ref = reference_cycle(name, task, images, labels, labeled, candidates, args, device)
        rows.append({"strategy": name, "albench": ours, "reference": ref})
    print(
        f"device: {_record.device_name(device)}; torch {torch.__version__}; {args.labeled} "
        f"labeled, {args.epochs} epochs, scan {args.subset}, select {args.budget}"
    )
    print(f"{'strategy':>15s} {'path':>10s} {'train s':>8s} {'scan s':>7s} {'select s':>9s}")
    for r in rows:
        for path in ("reference", "albench"):
            t = r[path]
            print(
                f"{r['strategy']:>15s} {path:>10s} {t['train_s']:8.2f} {t['scan_s']:7.2f} "
                f"{t['select_s']:9.2f}"
            )
        r["ratio"] = sum(r["reference"].values()) / sum(r["albench"].values())
        print(f"{r['strategy']:>15s} {'ratio':>10s} {r['ratio']:7.2f}x (reference / albench)")
    _record.write(
        args.out,
        device,
        labeled=args.labeled,
        subset=args.subset,
        budget=args.budget,
        epochs=args.epochs,
        rows=rows,
    )


if __name__ == "__main__":
    main()
