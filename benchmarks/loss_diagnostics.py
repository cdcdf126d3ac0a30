"""How predictable is a task's per-sample test loss? The mini benchmark's diagnostics.

    python benchmarks/loss_diagnostics.py TASK [--benchmark mini] [--labels N] [--set KEY=VALUE]...

Trains the task's model with the ``learn_loss`` module for one cycle of the benchmark's
schedule (from scratch) on the first N pool items (the pools are random draws, so these are a
random labeled set), twice: with trial seeds 0 and 1. For each model it prints the task
metric, the mean loss of its own training items and of the test split (both in eval mode),
the plateau figure of its training loss (``train/plateau``), the ranking accuracy of the
predicted loss and of entropy against its own test losses and, where the task draws
difficulty levels (``params.difficulty`` > 0), the Spearman correlation of an image's level
with its training loss, its test loss and its predicted loss. Last, the ranking accuracy of
model 0's test losses as a predictor of model 1's: how far an image's loss is a property of
the image rather than of one model's training (0.5: not at all). It is not a ceiling for a
model's own predictor, which also sees that model's errors. For a pose task it also
prints the entropy scorer of the ground-truth heatmaps (a perfect model's): how much that
score can vary at all, against the report's degenerate-scorer rule (spread of the central
90 % of the test set at most 0.1 % of its magnitude).

docs/protocol.md ("The mini benchmark") quotes its output: e.g. ``shapes`` with
``--set tasks.shapes.params.shift=0`` against the mini setting (``shift = 8``). Runs on the CPU
with one thread, nothing logged, data cached under ``--data-root`` (default ``data``).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
from scipy import stats

from albench.config import load_benchmark
from albench.contracts import HEATMAPS, StepOutput
from albench.loop import Job, _JobRun, prepare
from albench.registry import TASKS
from albench.schema import PLATEAU
from albench.scoring import ranking_accuracy


class _NoTracker:
    """Stands in for the MLflow tracker: the diagnostics log nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _levels(dataset: Any) -> np.ndarray | None:
    """The images' difficulty levels where a twin keeps them: the shapes dataset itself, the
    stickmen dataset's image source; None for other tasks."""
    return getattr(getattr(dataset, "load_image", dataset), "levels", None)


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.spearmanr(a, b).statistic)


def train_once(job: Job, labels: int) -> dict[str, Any]:
    """One cycle on the first ``labels`` pool items; the model's numbers (see the docstring)."""
    cycles = _JobRun(job, _NoTracker(), None)
    labeled = np.arange(labels)
    started = time.perf_counter()
    rows = cycles._train(0, labeled)
    learner, batches, data = cycles.learner, cycles.learner.batches, cycles.data
    test = learner.evaluate(batches.eval("test", np.arange(len(data.test))))
    train = learner.evaluate(batches.eval("pool", labeled))
    out = {
        "metric": test.metric,
        "train_loss": float(train.loss.mean()),
        "test_loss": float(test.loss.mean()),
        "plateau": next(v for k, v, _ in rows if k == PLATEAU),
        "test_losses": test.loss,
        "seconds": time.perf_counter() - started,
    }
    out |= {f"rank_acc/{k}": ranking_accuracy(v, test.loss) for k, v in test.scores.items()}
    levels = _levels(data.test)
    if levels is not None and np.ptp(levels) > 0:
        out["rho(level, train loss)"] = _rho(_levels(data.pool_eval)[labeled], train.loss)
        out["rho(level, test loss)"] = _rho(levels, test.loss)
        if "predicted_loss" in test.scores:
            out["rho(level, predicted)"] = _rho(levels, test.scores["predicted_loss"])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task")
    parser.add_argument("--benchmark", default="mini")
    parser.add_argument("--labels", type=int, default=None, help="default: the last cycle's")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--data-root", default="data")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    bench = load_benchmark(args.benchmark, args.set, [args.task])
    cfg = bench.task(args.task)
    labels = args.labels or cfg.al.initial + cfg.al.budget * (cfg.al.cycles - 1)
    params = bench.strategy_hparams(args.task, "learn_loss")
    results = []
    for trial in (0, 1):
        job = Job(bench.name, "diagnostics", cfg, "learn_loss", params, trial, bench.seed,
                  data_root=args.data_root)  # fmt: skip
        r = train_once(job, labels)
        shown = {k: v for k, v in r.items() if k != "test_losses"}
        print(f"{args.task}, {labels} labels, seed {trial}: "
              + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()), flush=True)  # fmt: skip
        results.append(r["test_losses"])
    agree = ranking_accuracy(results[0], results[1])
    print(f"{args.task}: model 0's test losses rank model 1's with ranking accuracy {agree:.3f}")
    if HEATMAPS in TASKS.capabilities(args.task):
        print(f"{args.task}: {ground_truth_entropy(job)}")


def ground_truth_entropy(job: Job) -> str:
    """The entropy scorer of the test split's target heatmaps (a perfect model's output)."""
    task, _, data = prepare(job)
    targets = torch.stack([data.test[i]["target"] for i in range(len(data.test))])
    out = StepOutput(targets, torch.zeros(len(targets)), [], torch.zeros(len(targets), 1))
    entropy = task.uncertainty(out).numpy()
    low, high = np.quantile(entropy, [0.05, 0.95])
    relative = (high - low) / max(abs(low), abs(high))
    return (
        f"entropy of the ground-truth heatmaps, 5-95 % of the test set {low:.4f} to {high:.4f}, "
        f"spread {relative:.3%} of the magnitude"
    )


if __name__ == "__main__":
    main()
