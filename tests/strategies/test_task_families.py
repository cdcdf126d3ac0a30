"""Every built-in strategy on one task of each family it supports: scanned through the
Learner on real model outputs (eval mode), its scores shaped (B,), K distinct picks; and the
support the registry declares matches the pairs the strategies can compute."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from albench.registry import STRATEGIES, TASKS, missing_capabilities
from albench.training import Learner
from tests.conftest import PoolBatches

B = 4
# VAAL's VAE and discriminator are trained inside select(): the paper's network for 100 epochs
# takes minutes on a CPU; the family checks are the same with a small one.
SMALL = {"vaal": {"width": 4, "epochs": 2}, "ta_vaal": {"width": 4, "epochs": 2}}
FAMILIES = {"digits": {"head_dropout": 0.5}, "shapes": {}, "stickmen": {}}


def _pairs():
    for task, params in FAMILIES.items():
        provides = TASKS.create(task, dict(params), "p").provides
        for strategy in STRATEGIES.names():
            if not missing_capabilities(provides, STRATEGIES.capabilities(strategy)):
                yield task, strategy


@pytest.fixture(scope="module")
def batches():
    out = {}
    for task, params in FAMILIES.items():
        t = TASKS.create(task, dict(params), "p")
        out[task] = (t, [t.example_batch(B) for _ in range(3)])
    return out


@pytest.mark.parametrize(("task_name", "strategy_name"), list(_pairs()))
def test_strategy_scans_and_selects_on_its_task_families(task_name, strategy_name, batches):
    task, bs = batches[task_name]
    strategy = STRATEGIES.create(strategy_name, SMALL.get(strategy_name, {}), "s")
    torch.manual_seed(0)
    learner = Learner(
        task, strategy, task.build_model(), strategy.auxiliary(task), torch.device("cpu")
    )
    candidates = np.random.default_rng(0).permutation(100)[: 3 * B]
    labeled = np.arange(100, 100 + B)
    learner.batches = PoolBatches(lambda idx: bs if len(idx) > B else bs[:1])
    scan = learner.scan(candidates, labeled)
    for key in strategy.scores:
        assert scan.stats[key].shape == (3 * B,) and torch.isfinite(scan.stats[key]).all()
    if type(strategy).lookahead:  # as the loop's probe: a short update, the test metric
        scan.probe = lambda group: _probe(learner, bs)
    picks = strategy.select(scan, 5, np.random.default_rng(0))
    assert len(set(picks.tolist())) == 5 and np.isin(picks, candidates).all()
    result = learner.evaluate(bs[:1])  # the declared scores are evaluated on the test split
    assert set(strategy.scores) <= set(result.scores)


def _probe(learner: Learner, bs: list) -> float:
    from albench.config import TrainConfig

    saved = learner.state()
    learner.train(bs[:1], TrainConfig(epochs=1, lr=1e-3, lr_milestones=(), stop_grad_epoch=0))
    metric = learner.evaluate(bs[:1]).metric
    learner.load(*saved)
    assert 0.0 <= metric <= 1.0
    return metric


def test_the_support_matrix():
    supported = {task: {s for t, s in _pairs() if t == task} for task in FAMILIES}
    every = set(STRATEGIES.names())
    assert supported["digits"] == every
    assert every - supported["shapes"] == {"bald", "mc_entropy", "badge", "egl"}
    assert every - supported["stickmen"] == {"bald", "mc_entropy", "badge", "egl", "margin"}
