"""The active-learning loop: shared seeds, selection bookkeeping, MLflow layout, failures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

import albench.loop as loop
from albench.errors import BudgetTooLargeError
from albench.loop import Stream, derive_seed, prepare, run_job
from albench.strategies.entropy import EntropyStrategy
from albench.tracking import Tracker
from albench.training import Batches, Learner
from tests.conftest import tiny_job


def _artifact(tracker, run_id, path, tmp_path):
    return tracker.download_artifact(run_id, path, tmp_path / run_id)


def test_strategies_of_a_trial_share_initial_set_and_weights(mlflow_uri, tmp_path):
    tracker = Tracker()
    tracker.experiment_id("test")
    results = {s: run_job(tiny_job(s)) for s in ("random", "entropy", "coreset", "learn_loss")}
    initial = {
        s: np.load(_artifact(tracker, r.run_id, "selected/initial.npy", tmp_path))
        for s, r in results.items()
    }
    first = initial["random"]
    assert all(np.array_equal(first, v) for v in initial.values())
    # strategies that do not change training see the same model at cycle 0
    acc0 = {s: tracker.metric_history(r.run_id, "eval/accuracy")[0][1] for s, r in results.items()}
    assert acc0["random"] == acc0["entropy"] == acc0["coreset"]
    other = run_job(tiny_job("random", trial=1))
    assert not np.array_equal(
        first, np.load(_artifact(tracker, other.run_id, "selected/initial.npy", tmp_path))
    )


def test_run_layout_in_mlflow(mlflow_uri, tmp_path):
    tracker = Tracker()
    tracker.experiment_id("test")
    res = run_job(tiny_job("learn_loss"))
    run = tracker.client.get_run(res.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "digits/learn_loss/trial-0"
    tags = run.data.tags
    for key in ("task", "strategy", "trial", "seed", "benchmark", "config_hash", "git_sha"):
        assert f"albench.{key}" in tags
    assert tags["albench.metric_label"] == "accuracy" and tags["albench.metric_high"] == "1.0"
    assert tags["albench.strategy_label"] == "learning loss"
    assert (
        tags["albench.strategy_baseline"] == "true" and tags["albench.strategy_oracle"] == "false"
    )
    assert run.data.params["al.cycles"] == "3" and run.data.params["strategy"] == "learn_loss"
    assert [v for _, v in tracker.metric_history(res.run_id, "labeled")] == [20, 40, 60]
    assert [s for s, _ in tracker.metric_history(res.run_id, "eval/accuracy")] == [0, 1, 2]
    for key in (
        "eval/rank_acc/predicted_loss",
        "eval/pearson/predicted_loss",
        "eval/spearman/entropy",
        "time/train_s",
    ):
        assert len(tracker.metric_history(res.run_id, key)) == 3
    assert [s for s, _ in tracker.metric_history(res.run_id, "time/scan_s")] == [0, 1]
    steps = [s for s, _ in tracker.metric_history(res.run_id, "train/loss/ranking")]
    assert steps == list(range(6))  # 3 cycles x 2 epochs, global epoch as step
    scores = pd.read_csv(_artifact(tracker, res.run_id, "test_scores/cycle_02.csv", tmp_path))
    assert list(scores.columns) == [
        "index",
        "loss",
        "label",
        "prediction",
        "entropy",
        "predicted_loss",
    ]
    assert len(scores) == 497
    picked = [
        np.load(_artifact(tracker, res.run_id, f"selected/cycle_{c:02d}.npy", tmp_path))
        for c in (0, 1)
    ]
    initial = np.load(_artifact(tracker, res.run_id, "selected/initial.npy", tmp_path))
    everything = np.concatenate([initial, *picked])
    assert len(everything) == len(np.unique(everything)) == 60
    table = pd.read_csv(_artifact(tracker, res.run_id, "selected/cycle_01.csv", tmp_path))
    assert list(table["index"]) == list(picked[1]) and set(table.cycle) == {1}
    assert table["class"].between(0, 9).all()  # the task's facts: digits states the class
    # what MLflow's own UI reads
    assert (
        tags["albench.kind"] == "job"
        and tags["mlflow.source.git.commit"] == tags["albench.git_sha"]
    )
    assert "strategy `learn_loss`, trial 0" in tags["mlflow.note.content"]
    curve = tracker.metric_history(res.run_id, "curve/accuracy")
    assert [s for s, _ in curve] == [20, 40, 60]  # the labeled count as the step
    assert [v for _, v in curve] == [
        v for _, v in tracker.metric_history(res.run_id, "eval/accuracy")
    ]
    inputs = {d.tags[0].value: d.dataset for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"pool", "test"} and inputs["test"].name == "digits/test"
    assert len(inputs["pool"].digest) == 16
    experiment = tracker.client.get_experiment_by_name("test")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_the_readmes_run_filters_select_what_they_say(mlflow_uri):
    """Every filter in the docs' "Browsing results" runs in MLflow's search and finds the
    job runs (a report run would be left out by the kind filter)."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs/browsing-results.md").read_text()
    block = page.split("```text", 1)[1].split("```", 1)[0]
    filters = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert len(filters) >= 3
    tracker = Tracker()
    experiment = tracker.experiment_id("test")
    run_job(tiny_job("learn_loss"))
    report = tracker.client.create_run(experiment, tags={"albench.kind": "report"})
    tracker.client.set_terminated(report.info.run_id)
    for text in filters:
        found = tracker.client.search_runs([experiment], filter_string=text)
        assert all(r.data.tags.get("albench.kind") == "job" for r in found), text
        if "!= 'FINISHED'" in text:
            assert found == []
        elif re.search(r"'(digits|learn_loss|job)'", text):
            assert len(found) == 1, text


def test_same_job_twice_is_bit_identical(mlflow_uri, tmp_path):
    tracker = Tracker()
    tracker.experiment_id("test")
    runs = [run_job(tiny_job("learn_loss")) for _ in range(2)]
    hist = [tracker.metric_history(r.run_id, "eval/accuracy") for r in runs]
    assert hist[0] == hist[1]
    picks = [
        np.load(_artifact(tracker, r.run_id, "selected/cycle_01.npy", tmp_path / str(i)))
        for i, r in enumerate(runs)
    ]
    assert np.array_equal(*picks)


@pytest.mark.parametrize("data_path", ["loader", "resident"])
def test_scan_statistics_belong_to_their_candidates(data_path, mlflow_uri):
    job = tiny_job("entropy")
    task, strategy, data = prepare(job)
    model = task.build_model().eval()
    candidates = np.random.default_rng(0).permutation(data.pool_size)[:50]
    cfg = dataclasses.replace(job.task.train, data_path=data_path, eval_batch_size=16)
    batches = Batches(task, data, cfg, torch.device("cpu"))  # what the loop uses
    assert batches.path == data_path
    learner = Learner(task, strategy, model, None, torch.device("cpu"), batches=batches)
    scan = learner.scan(candidates, np.arange(5))
    with torch.inference_mode():
        for k in (0, 17, 49):
            x, y = data.pool_eval[int(candidates[k])]
            out = task.step(model, (x[None], y[None]), train=False)
            assert torch.allclose(task.uncertainty(out)[0], scan.stats["entropy"][k], atol=1e-5)


def test_the_trained_model_is_scanned(mlflow_uri, monkeypatch):
    seen = {}
    real_train, real_scan = Learner.train, Learner.scan

    def spy_train(self, *a, **kw):
        seen.setdefault("trained", []).append(self.model)
        return real_train(self, *a, **kw)

    def spy_scan(self, *a, **kw):
        seen.setdefault("scanned", []).append(self.model)
        return real_scan(self, *a, **kw)

    monkeypatch.setattr(Learner, "train", spy_train)
    monkeypatch.setattr(Learner, "scan", spy_scan)
    Tracker().experiment_id("test")
    run_job(tiny_job("entropy"))
    assert all(m is seen["trained"][0] for m in seen["trained"] + seen["scanned"])


def test_reinit_model_restarts_every_cycle_from_the_initial_weights(mlflow_uri, monkeypatch):
    states = []
    real_train = Learner.train

    def spy(self, *a, **kw):
        states.append({k: v.clone() for k, v in self.model.state_dict().items()})
        return real_train(self, *a, **kw)

    monkeypatch.setattr(Learner, "train", spy)
    Tracker().experiment_id("test")
    run_job(tiny_job("random", reinit_model=True))
    assert all(torch.equal(states[0][k], states[2][k]) for k in states[0])
    states.clear()
    run_job(tiny_job("random"))  # warm start: cycle 2 starts from trained weights
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


def test_budget_larger_than_pool_fails_before_any_run(mlflow_uri):
    tracker = Tracker()
    tracker.experiment_id("test")
    with pytest.raises(BudgetTooLargeError, match="pool has 1300"):
        run_job(tiny_job("random", budget=1000))
    assert tracker.runs("test") == []


def test_a_failing_strategy_marks_its_run_failed(mlflow_uri, monkeypatch):
    def boom(self, scan, budget, rng):
        raise RuntimeError("selection exploded")

    monkeypatch.setattr(EntropyStrategy, "select", boom)
    tracker = Tracker()
    tracker.experiment_id("test")
    with pytest.raises(RuntimeError):
        run_job(tiny_job("entropy"))
    (run,) = tracker.runs("test")
    assert run.info.status == "FAILED"
    assert "selection exploded" in run.data.tags["albench.error"]


def test_derived_seeds_are_distinct_per_stream_and_cycle():
    seeds = {derive_seed(0, s, c) for s in Stream for c in range(3)}
    assert len(seeds) == len(Stream) * 3
    assert derive_seed(5, Stream.MODEL) == derive_seed(5, Stream.MODEL)


def test_resume_right_after_the_last_cycle_only_finishes_logging(mlflow_uri, tmp_path, monkeypatch):
    """A crash between the last cycle's saved state and its logging: the rerun logs that
    cycle once, reports the real metric, and tags no resume cycle that does not exist."""
    job = tiny_job("random")
    Tracker().experiment_id("test")
    real_log = loop._JobRun.log_cycle

    def crash_after_last_save(self, state):
        if state.cycle == job.task.al.cycles - 1:
            raise RuntimeError("crash before logging the last cycle")
        real_log(self, state)

    monkeypatch.setattr(loop._JobRun, "log_cycle", crash_after_last_save)
    with pytest.raises(RuntimeError):
        run_job(job, state_dir=tmp_path / "state")
    monkeypatch.setattr(loop._JobRun, "log_cycle", real_log)
    result = run_job(job, state_dir=tmp_path / "state")
    assert result.metric == result.metric  # not NaN
    run = Tracker().client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert "albench.resumed_at_cycle" not in run.data.tags
    assert "albench.error" not in run.data.tags  # the failed attempt's reason is gone
    steps = [s for s, _ in Tracker().metric_history(result.run_id, "eval/accuracy")]
    assert steps == [0, 1, 2]


def test_a_read_only_store_is_one_error(tmp_path, monkeypatch):
    from albench.preflight import TrackingStoreError, check_tracking_store

    db = tmp_path / "mlflow.db"
    db.write_bytes(b"")
    monkeypatch.setattr("albench.preflight.os.access", lambda path, mode: False)  # as non-root
    with pytest.raises(TrackingStoreError, match="is not a writable file"):
        check_tracking_store(f"sqlite:///{db}")


def test_jobs_logging_the_same_datasets_at_once_all_get_them(mlflow_uri, monkeypatch):
    """MLflow inserts a dataset new to the experiment without a guard: of jobs logging the
    same pool and test split at once, all but one hit a UNIQUE violation (seen with two jobs
    against a tracking server). The next try links the dataset; a store that keeps
    refusing costs the run its datasets, never the job."""
    import threading

    tracker = Tracker()
    experiment = tracker.experiment_id("test")
    runs = [tracker.start_run(experiment, f"r{i}", {}, {}) for i in range(4)]
    datasets = [("pool", "digits/pool", "a" * 16), ("test", "digits/test", "b" * 16)]
    barrier = threading.Barrier(len(runs))

    def log(run_id: str) -> None:
        barrier.wait()
        Tracker().log_datasets(run_id, datasets)

    threads = [threading.Thread(target=log, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for run_id in runs:
        inputs = tracker.client.get_run(run_id).inputs.dataset_inputs
        assert sorted(d.dataset.name for d in inputs) == ["digits/pool", "digits/test"]

    calls = []

    def refuse(run_id, datasets=None):
        calls.append(run_id)
        raise RuntimeError("UNIQUE constraint failed: datasets.experiment_id")

    monkeypatch.setattr(tracker.client, "log_inputs", refuse)
    monkeypatch.setattr("albench.tracking.time.sleep", lambda s: None)
    tracker.log_datasets(runs[0], datasets)  # no exception
    assert len(calls) == 4
