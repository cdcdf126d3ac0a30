"""The look-ahead oracle: greedy groups by a probe (brute force), and the loop's probe (the
test metric after a cheap update, the model restored), in a real job."""

from __future__ import annotations

import numpy as np
import pytest

from albench.errors import ConfigError
from albench.registry import STRATEGIES


def test_greedy_groups_keeps_the_best_of_each_draw():
    """Each step keeps the highest-scoring of its random groups, given what came before;
    replayed by hand with the same generator."""
    from albench.strategies import greedy_groups

    candidates = np.arange(100, 140)
    value = {int(c): float((c * 37) % 11) for c in candidates}  # a fixed worth per item

    def score(group):
        return sum(value[int(c)] for c in group)

    picked = greedy_groups(candidates, 10, 3, 4, score, np.random.default_rng(1))
    rng, left, expect = np.random.default_rng(1), candidates.copy(), []
    for size in (4, 3, 3):
        options = [rng.choice(left, size=size, replace=False) for _ in range(4)]
        best = max(options, key=lambda o: sum(value[int(c)] for c in o))  # first on a tie
        expect += best.tolist()
        left = left[~np.isin(left, best)]
    assert picked.tolist() == expect
    assert len(set(picked.tolist())) == 10
    # better than a random draw of the same size, on this worth
    assert score(picked) > np.mean(
        [score(np.random.default_rng(s).choice(candidates, 10, replace=False)) for s in range(50)]
    )


def test_one_try_is_random_sampling_and_bad_settings_are_refused():
    from albench.strategies import greedy_groups

    picked = greedy_groups(np.arange(50), 6, 2, 1, lambda g: 0.0, np.random.default_rng(0))
    assert len(set(picked.tolist())) == 6
    cls = STRATEGIES.get("lookahead_oracle")
    for bad in ({"groups": 0}, {"tries": 0}, {"groups": 1.5}):
        with pytest.raises(ConfigError, match="strategies.lookahead_oracle"):
            cls(**bad)


def test_the_probe_scores_with_the_test_split_and_restores_the_model(mlflow_uri, monkeypatch):
    """A real digits job with the look-ahead oracle: groups x tries probes per selection,
    each an accuracy on the test split; the model after select() is the one before it
    (every probe restored); the run is deterministic."""
    import torch

    from albench.loop import Job, run_job
    from albench.tracking import Tracker
    from tests.conftest import tiny_digits

    calls = []
    cls = STRATEGIES.get("lookahead_oracle")
    original = cls.select

    def spy(self, scan, budget, rng):
        before = {k: v.clone() for k, v in scan_model[0].state_dict().items()}
        probe = scan.probe

        def counted(group):
            value = probe(group)
            calls.append((len(group), value))
            return value

        scan.probe = counted
        picked = original(self, scan, budget, rng)
        after = scan_model[0].state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)  # restored
        return picked

    scan_model = []
    from albench.training import Learner

    real_scan = Learner.scan

    def remember(self, *args):
        scan_model[:] = [self.model]
        return real_scan(self, *args)

    monkeypatch.setattr(Learner, "scan", remember)
    monkeypatch.setattr(cls, "select", spy)
    task = tiny_digits()
    job = Job(
        "t", "t", task, "lookahead_oracle", {"groups": 2, "tries": 3}, tracking_uri=mlflow_uri
    )
    first = run_job(job)
    assert first.status == "FINISHED"
    assert len(calls) == 2 * 3 * (task.al.cycles - 1)  # groups x tries per selection
    assert all(0.0 <= v <= 1.0 for _, v in calls)  # accuracies on the test split
    assert [r.info.status for r in Tracker(mlflow_uri).runs("t")] == ["FINISHED"]
    calls.clear()
    again = run_job(
        Job("t", "t2", task, "lookahead_oracle", {"groups": 2, "tries": 3}, tracking_uri=mlflow_uri)
    )
    assert again.metric == first.metric  # the probes are seeded: the same picks, the same run


@pytest.mark.parametrize("reinit", [False, True])
def test_the_look_ahead_is_exact_each_cycle_scores_what_its_probe_said(
    mlflow_uri, monkeypatch, reinit
):
    """The probe runs the next cycle's training exactly: the test metric logged at cycle c+1
    is the best probe score of the selection at cycle c (one group of K, 3 tries), whether
    the next cycle reuses the probe's weights or (resumed, say) trains them again."""
    from albench.loop import Job, _JobRun, run_job
    from albench.tracking import Tracker
    from tests.conftest import tiny_digits

    cls = STRATEGIES.get("lookahead_oracle")
    original, scores = cls.select, []

    def spy(self, scan, budget, rng):
        probe, seen = scan.probe, []
        scan.probe = lambda group: seen.append(probe(group)) or seen[-1]
        picked = original(self, scan, budget, rng)
        scores.append(max(seen))
        return picked

    monkeypatch.setattr(cls, "select", spy)
    task = tiny_digits(cycles=4, reinit_model=reinit)
    params = {"groups": 1, "tries": 3}
    cached = run_job(Job("t", "t", task, "lookahead_oracle", params, tracking_uri=mlflow_uri))
    run = Tracker(mlflow_uri).runs("t")[0]
    history = Tracker(mlflow_uri).metric_history(run.info.run_id, "eval/accuracy")
    assert [v for _, v in history][1:] == scores  # cycle c+1 scored what its probe said
    assert cached.status == "FINISHED"

    # Without the kept weights (as after a crash) the next cycle trains again: the same run.
    monkeypatch.setattr(_JobRun, "ahead", None, raising=False)
    real_probe = _JobRun._probe

    def forgetful(self, cycle, labeled):
        probe = real_probe(self, cycle, labeled)

        def forget(group):
            value = probe(group)
            self.ahead = None
            return value

        return forget

    monkeypatch.setattr(_JobRun, "_probe", forgetful)
    scores.clear()
    again = run_job(Job("t", "t2", task, "lookahead_oracle", params, tracking_uri=mlflow_uri))
    assert again.metric == cached.metric
    run2 = [r for r in Tracker(mlflow_uri).runs("t2")][0]
    assert Tracker(mlflow_uri).metric_history(run2.info.run_id, "eval/accuracy") == history
