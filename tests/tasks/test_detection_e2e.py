"""The ``shapes`` detection task through the command line, on a reduced schedule."""

from __future__ import annotations

import os

import pytest

from albench.tracking import Tracker

pytestmark = pytest.mark.e2e

REDUCED = [  # the quick benchmark's shapes task, smaller: 3 cycles of 3 epochs
    "tasks.shapes.params.pool_size=300",
    "tasks.shapes.params.test_size=60",
    "tasks.shapes.al.cycles=3",
    "tasks.shapes.train.epochs=3",
    "tasks.shapes.train.lr_milestones=[]",
    "tasks.shapes.train.stop_grad_epoch=2",
]


def test_shapes_through_the_cli_logs_map_every_cycle(tmp_path, albench_cli, store_in):
    uri = store_in(tmp_path)
    overrides = [arg for item in REDUCED for arg in ("--set", item)]
    proc = albench_cli(
        *["run", "--benchmark", "quick", "--tasks", "shapes"],
        *["--strategies", "random,entropy,learn_loss", "--trials", "1", "--no-progress"],
        *["--jobs", "1"],  # one process: the subject is the task, not the scheduling
        *["--data-root", str(tmp_path / "data"), *overrides],
        cwd=tmp_path,
        # one intra-op thread: the small SSD gains little from more, and a shared CI machine
        # with busy cores makes OpenMP threads spin (behaviour is checked here, not speed)
        env=os.environ | {"MLFLOW_TRACKING_URI": uri, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "3/3 jobs FINISHED" in proc.stderr
    assert list((tmp_path / "data" / "shapes").glob("*.npz"))  # generated data cached there

    tracker = Tracker(uri)
    runs = tracker.runs("quick")
    assert sorted(r.info.run_name for r in runs) == [
        "shapes/entropy/trial-0",
        "shapes/learn_loss/trial-0",
        "shapes/random/trial-0",
    ]
    for run in runs:
        assert run.info.status == "FINISHED"
        history = tracker.metric_history(run.info.run_id, "eval/map")
        assert [step for step, _ in history] == [0, 1, 2]
        assert all(0.0 <= value <= 1.0 for _, value in history)
        assert history[-1][1] > history[0][1], (run.info.run_name, history)  # it learns
        labeled = [v for _, v in tracker.metric_history(run.info.run_id, "labeled")]
        assert labeled == [64, 128, 192]
        assert len(tracker.metric_history(run.info.run_id, "eval/rank_acc/entropy")) == 3
        if run.data.tags["albench.strategy"] == "learn_loss":
            ranking = tracker.metric_history(run.info.run_id, "eval/rank_acc/predicted_loss")
            assert len(ranking) == 3
        assert run.data.params["task_params.pool_size"] == "300"
