"""Which test images does a model find hard? Its true per-image loss against what they hold.

    python benchmarks/loss_facts.py EXPERIMENT [--cycles 0,3] [--data-root data]

For every finished run of EXPERIMENT (in the tracking store of ``MLFLOW_TRACKING_URI``, else
the default one) whose task records facts of its test images (``TaskData.test_facts``:
``shapes`` and ``stickmen``: objects per image and their sizes, visible joints, ...), reads
the per-image test loss the run logged at the given cycles (``test_scores/cycle_NN.csv``)
and prints the Spearman correlation of that loss with each fact, mean and std over the runs,
per task, fact and cycle. Every strategy's runs count: what is measured is the model, whose
loss is what ``oracle_loss`` picks by. A fact that the highest-loss images have more or less
of than the others is one that top-K by loss over- or under-represents in its picks (the
report's "What each strategy picked" shows by how much). docs/scenarios.md ("Why the loss
ceiling loses on shapes and stickmen") quotes its output.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from albench.registry import TASKS
from albench.schema import Tag, artifact
from albench.tracking import Tracker


def _test_facts(config: dict[str, Any], root: str, cache: dict) -> dict[str, np.ndarray]:
    """The test split's facts of the task a run's config.json names (cached per task)."""
    name = config.get("registered_task") or config["task"]
    params = dict(config.get("task_params", {}))
    key = (name, json.dumps(params, sort_keys=True))
    if key not in cache:
        task = TASKS.create(name, params, f"tasks.{config['task']}.params")
        cache[key] = task.datasets(root, False).test_facts
    return cache[key]


def correlations(tracker: Tracker, experiment: str, cycles: list[int], root: str) -> pd.DataFrame:
    """One row per (run, cycle, fact): the Spearman correlation of the test loss with it."""
    rows, cache = [], {}
    for run in tracker.runs(experiment):
        if run.info.status != "FINISHED" or run.info.run_name == "report":
            continue
        run_id = run.info.run_id
        with tempfile.TemporaryDirectory() as tmp:
            config_file = tracker.download_artifact(run_id, "config.json", tmp)
            config = json.loads(Path(config_file).read_text())
            facts = _test_facts(config, root, cache)
            if not facts:
                continue
            for cycle in cycles:
                name = artifact("test_scores", cycle)
                if name not in tracker.artifact_files(run_id, "test_scores"):
                    continue
                scores = pd.read_csv(tracker.download_artifact(run_id, name, tmp))
                for fact, values in facts.items():
                    rho = stats.spearmanr(scores["loss"], values[scores["index"]]).statistic
                    strategy = run.data.tags.get(Tag.STRATEGY)
                    rows.append((config["task"], strategy, cycle, fact, rho))
    return pd.DataFrame(rows, columns=["task", "strategy", "cycle", "fact", "rho"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment")
    parser.add_argument("--cycles", default="0,3", help="comma-separated cycles (default 0,3)")
    parser.add_argument("--data-root", default="data")
    args = parser.parse_args(argv)
    cycles = [int(c) for c in args.cycles.split(",")]
    table = correlations(Tracker(), args.experiment, cycles, args.data_root)
    if table.empty:
        print(f"no finished run of {args.experiment!r} has test facts and test scores")
        return
    summary = table.groupby(["task", "fact", "cycle"]).rho.agg(["mean", "std", "count"])
    with pd.option_context("display.width", 120, "display.max_rows", 500):
        names = {"mean": "rho mean", "std": "rho std", "count": "runs"}
        print(summary.round(3).rename(columns=names))


if __name__ == "__main__":
    main()
