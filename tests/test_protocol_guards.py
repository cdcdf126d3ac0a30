"""Guards against three protocol mistakes of public reimplementations that no other test
would catch (docs/protocol.md, "Known mistakes"): a batch-level instead of a per-sample
classification loss, an initial labeled set drawn with replacement, and a logged metric that
is not the last epoch's model of its cycle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import albench.loop as loop
from albench.checkpoint import JobState
from albench.errors import AlbenchError
from albench.loop import Stream, derive_seed, prepare, run_job
from albench.registry import STRATEGIES, TASKS
from albench.tracking import Tracker
from albench.training import Batches, Learner
from tests.conftest import tiny_job


@pytest.mark.parametrize("name", ["digits", "cifar10"])
def test_classification_loss_of_an_item_does_not_depend_on_its_batch(name):
    """Each item's loss equals its loss computed alone (eval mode: BatchNorm uses its running
    statistics, so the batch cannot leak in through them); a batch mean would differ."""
    task = TASKS.get(name)()
    torch.manual_seed(0)
    model = task.build_model().eval()
    x, y = task.example_batch(6)
    with torch.no_grad():
        together = task.step(model, (x, y), train=False).loss  # (6,)
        alone = torch.cat([task.step(model, (x[i : i + 1], y[i : i + 1]), False).loss
                           for i in range(6)])  # fmt: skip
    assert together.shape == (6,)
    assert torch.allclose(together, alone, atol=1e-5)
    assert together.std() > 0  # a batch mean expanded to (B,) would be constant


def test_the_initial_set_is_drawn_without_replacement(mlflow_uri, tmp_path):
    """A seed whose draw *with* replacement repeats an index still gives distinct labels."""
    job = tiny_job("random")
    pool = prepare(job)[2].pool_size
    seed = next(
        s
        for s in range(100)
        if len(set(np.random.default_rng(derive_seed(s, Stream.INITIAL))
                   .choice(pool, size=job.task.al.initial, replace=True).tolist()))
        < job.task.al.initial
    )  # fmt: skip
    tracker = Tracker()
    tracker.experiment_id("test")
    res = run_job(tiny_job("random", trial=seed))  # trial seed = 0 + trial
    initial = np.load(tracker.download_artifact(res.run_id, "selected/initial.npy", tmp_path))
    assert len(initial) == len(np.unique(initial)) == job.task.al.initial


def test_a_duplicate_in_the_initial_set_is_refused(mlflow_uri, monkeypatch):
    real_rng = np.random.default_rng

    class Colliding:
        """A generator whose 20-item draws repeat their first item (sampling with
        replacement gone wrong); everything else is the real generator's."""

        def __init__(self, seed):
            self.rng = real_rng(seed)

        def choice(self, *args, **kwargs):
            picked = self.rng.choice(*args, **kwargs)
            if len(picked) == 20:  # the tiny job's initial set
                picked[1] = picked[0]
            return picked

        def __getattr__(self, name):
            return getattr(self.rng, name)

    monkeypatch.setattr(loop.np.random, "default_rng", Colliding)
    Tracker().experiment_id("test")
    with pytest.raises(AlbenchError, match="initial labeled set"):
        run_job(tiny_job("random"))


def test_the_logged_metric_is_the_last_epoch_model_of_its_cycle(mlflow_uri, tmp_path, monkeypatch):
    """eval/accuracy of every cycle equals a fresh evaluation of the weights saved at that
    cycle's end (the last epoch's model; never a best-epoch one)."""
    saved: dict[int, dict] = {}
    real_save = JobState.save

    def keep(self, path):
        if self.model is not None:
            saved[self.cycle] = {k: v.clone() for k, v in self.model.items()}
        real_save(self, path)

    monkeypatch.setattr(JobState, "save", keep)
    tracker = Tracker()
    tracker.experiment_id("test")
    job = tiny_job("entropy")
    res = run_job(job, state_dir=tmp_path / "state")
    logged = dict(tracker.metric_history(res.run_id, "eval/accuracy"))
    task, _, data = prepare(job)
    batches = Batches(task, data, job.task.train, torch.device("cpu"))
    assert sorted(saved) == sorted(logged) == [0, 1, 2]
    for cycle, weights in saved.items():
        model = task.build_model()
        model.load_state_dict(weights)
        learner = Learner(
            task, STRATEGIES.create("random", {}, "s"), model, None, torch.device("cpu")
        )
        fresh = learner.evaluate(batches.eval("test", np.arange(len(data.test))))
        assert fresh.metric == logged[cycle]
