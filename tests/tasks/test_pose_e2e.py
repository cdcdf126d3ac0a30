"""The stickmen twin end to end through the command line, on a reduced quick schedule."""

from __future__ import annotations

import os

import numpy as np
import pytest

from albench.tracking import Tracker

pytestmark = pytest.mark.e2e

REDUCED = [  # 3 cycles of 2 epochs on a small generated set: seconds, not minutes
    "tasks.stickmen.al.cycles=3",
    "tasks.stickmen.train.epochs=2",
    "tasks.stickmen.train.lr_milestones=[]",
    "tasks.stickmen.train.stop_grad_epoch=1",
    "tasks.stickmen.params.pool_size=300",
    "tasks.stickmen.params.test_size=60",
]


def test_stickmen_runs_through_the_cli_and_logs_pckh_every_cycle(tmp_path, albench_cli, store_in):
    env = os.environ | {"MLFLOW_TRACKING_URI": store_in(tmp_path)}
    args = ["run", "--benchmark", "quick", "--tasks", "stickmen", "--trials", "1"]
    args += ["--strategies", "random,learn_loss", "--no-progress"]
    args += ["--jobs", "1"]  # one process: the subject is the task, not the scheduling
    args += [item for s in REDUCED for item in ("--set", s)]
    proc = albench_cli(*args, cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "2/2 jobs FINISHED" in proc.stderr
    assert len(list((tmp_path / "data" / "stickmen").glob("*.npz"))) == 1  # cached once

    tracker = Tracker(env["MLFLOW_TRACKING_URI"])
    runs = tracker.runs("quick")
    assert {r.info.run_name for r in runs} == {
        "stickmen/random/trial-0",
        "stickmen/learn_loss/trial-0",
    }
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.tags["albench.metric"] == "pckh"
        history = tracker.metric_history(run.info.run_id, "eval/pckh")
        assert [step for step, _ in history] == [0, 1, 2]
        assert all(0.0 <= value <= 1.0 for _, value in history)
        labeled = [v for _, v in tracker.metric_history(run.info.run_id, "labeled")]
        assert labeled == [64, 128, 192]
        scorers = ["entropy"] + (["predicted_loss"] if "learn_loss" in run.info.run_name else [])
        for scorer in scorers:
            for stat in ("rank_acc", "pearson", "spearman"):
                values = tracker.metric_history(run.info.run_id, f"eval/{stat}/{scorer}")
                assert len(values) == 3 and np.isfinite([v for _, v in values]).all()
