"""The tables a job logs for MLflow's artifact view: each test sample's truth and prediction
beside its loss and scores, each pick's score beside its facts (``albench.schema``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import copy_store

TINY = """
[benchmark]
name = "tables"
trials = 1
strategies = ["entropy", "random"]

[tasks.digits]
params = {test_size = 60}
al = {initial = 20, budget = 10, cycles = 2, subset = 0}
train = {epochs = 1, batch_size = 10, lr_milestones = []}

[tasks.shapes]
params = {pool_size = 40, test_size = 12}
al = {initial = 8, budget = 6, cycles = 2, subset = 0}
train = {epochs = 1, batch_size = 8, lr = 2e-3, lr_milestones = [], stop_grad_epoch = 0}

[tasks.stickmen]
params = {pool_size = 40, test_size = 12}
al = {initial = 8, budget = 6, cycles = 2, subset = 0}
train = {epochs = 1, batch_size = 8, lr_milestones = [], stop_grad_epoch = 0}
"""


@pytest.fixture(scope="module")
def logged(tmp_path_factory, empty_store) -> dict[tuple[str, str], dict[str, pd.DataFrame]]:
    """(task, strategy) -> the run's last test_scores CSV and first selected CSV."""
    from albench.cli import main
    from albench.tracking import Tracker

    tmp = tmp_path_factory.mktemp("tables")
    path = tmp / "tables.toml"
    path.write_text(TINY)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", copy_store(empty_store, tmp))
        mp.chdir(tmp)
        args = ["run", "--benchmark", str(path), "--no-progress", "--data-root", "data"]
        assert main(args) == 0
        return _tables(Tracker(), tmp)


def _tables(tracker, tmp) -> dict[tuple[str, str], dict[str, pd.DataFrame]]:
    out = {}
    for run in tracker.runs("tables"):
        tags = run.data.tags
        if tags.get("albench.kind") != "job":
            continue
        read = {}
        for name in ("test_scores/cycle_01.csv", "selected/cycle_00.csv"):
            local = tracker.download_artifact(run.info.run_id, name, tmp / run.info.run_id)
            read[name.partition("/")[0]] = pd.read_csv(local)
        out[(tags["albench.task"], tags["albench.strategy"])] = read
    return out


@pytest.mark.parametrize(
    ("task", "columns"),
    [
        ("digits", ["label", "prediction"]),
        ("shapes", ["label_objects", "prediction_detections"]),
        ("stickmen", ["label_visible_joints", "prediction_pckh"]),
    ],
)
def test_the_test_scores_csv_holds_each_sample_s_truth_and_prediction(
    logged, task, columns, tmp_path
):
    scores = logged[(task, "entropy")]["test_scores"]
    assert list(scores.columns[:4]) == ["index", "loss", *columns]
    assert "entropy" in scores.columns  # the scores follow the outcome
    truth, prediction = scores[columns[0]], scores[columns[1]]
    assert (truth >= 0).all() and truth.notna().all()
    if task == "digits":
        assert set(truth) <= set(range(10)) and set(prediction) <= set(range(10))
        # a wrong prediction costs more cross-entropy on average than a right one
        right = truth == prediction
        if right.any() and (~right).any():
            assert scores.loss[~right].mean() > scores.loss[right].mean()
    elif task == "shapes":
        from albench.tasks.detection.shapes import ShapesTask

        # the scenes are generated from the task's seed: any data folder gives the same ones
        facts = ShapesTask(pool_size=40, test_size=12).datasets(str(tmp_path), False).test_facts
        assert truth.tolist() == facts["objects"][scores["index"]].tolist()
        assert (prediction >= 0).all()
    else:
        assert truth.between(0, 14).all()  # the 14 joints PCKh averages over
        assert prediction.dropna().between(0, 1).all()


def test_each_pick_carries_the_score_it_was_picked_by(logged):
    for task in ("digits", "shapes", "stickmen"):
        picks = logged[(task, "entropy")]["selected"]
        scores = picks["score/entropy"].to_numpy()
        assert len(scores) == len(picks) and np.isfinite(scores).all()
        # entropy picks the highest scores, in descending order (top_k)
        assert (np.diff(scores) <= 0).all(), task
        assert "score/entropy" not in logged[(task, "random")]["selected"].columns


def test_outcome_columns_are_not_scores():
    from albench.report.stats import score_columns

    frame = pd.DataFrame(
        {"index": [0, 1], "loss": [1.0, 2.0], "label": [3, 4], "prediction": [3, 1],
         "prediction_pckh": [0.5, 1.0], "entropy": [0.2, 0.3]}
    )  # fmt: skip
    assert score_columns(frame) == ["entropy"]


def test_a_plugin_strategy_may_not_name_a_score_after_a_reserved_column(tmp_path, monkeypatch):
    from albench.errors import UnknownNameError
    from albench.registry import STRATEGIES

    (tmp_path / "bad_scores.py").write_text(
        "from albench.contracts import Strategy, top_k\n"
        "class Labelled(Strategy):\n"
        "    '''Scores named like an outcome column.'''\n"
        "    scores = ('label_noise',)\n"
        "    def select(self, scan, budget, rng):\n"
        "        return scan.candidates[:budget]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UnknownNameError, match="'label_noise'.*rename the score"):
        STRATEGIES.get("bad_scores:Labelled")
