"""Contract tests over every registered task and strategy (STYLE.md 9)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from albench.registry import STRATEGIES, TASKS
from albench.strategies.base import Scan
from albench.training import scan as run_scan

B = 6


@pytest.fixture(scope="module", params=TASKS.names())
def task(request):
    return TASKS.get(request.param)()


@pytest.fixture(scope="module")
def digits():
    return TASKS.get("digits")()


def test_task_step_output_contract(task):
    torch.manual_seed(0)
    model = task.build_model()
    out = task.step(model, task.example_batch(B), train=True)
    assert out.loss.shape == (B,) and torch.isfinite(out.loss).all()
    assert len(out.taps) == len(task.tap_channels)
    for tap, channels in zip(out.taps, task.tap_channels, strict=True):
        assert tap.shape[0] == B and tap.shape[1] == channels
    assert out.embedding.dim() == 2 and out.embedding.shape[0] == B
    ent = task.uncertainty(out)
    assert ent.shape == (B,) and (ent >= 0).all()
    assert task.metric in ("accuracy", "map", "pckh")


def test_task_metric_and_evaluate(task):
    model = task.build_model()
    batch = task.example_batch(B)
    result = task.evaluate(model, [batch, batch], torch.device("cpu"))
    assert 0.0 <= result.metric <= 1.0
    assert result.loss.shape == (2 * B,) and result.scores["entropy"].shape == (2 * B,)


def test_embedded_task_data_loads_offline(tmp_path):
    for name in TASKS.names():
        task = TASKS.get(name)()
        if not task.embedded:
            continue
        data = task.datasets(str(tmp_path), download=False)  # generated tasks cache here
        assert data.pool_size == len(data.pool_train) > 0 and len(data.test) > 0
        batch = task.collate([data.pool_eval[0], data.pool_eval[1]])
        out = task.step(task.build_model().eval(), batch, train=False)
        assert out.loss.shape == (2,)


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_strategy_contract(name, digits):
    strategy = STRATEGIES.get(name)()
    assert pickle.loads(pickle.dumps(strategy)).get_params() == strategy.get_params()
    torch.manual_seed(0)
    model = digits.build_model()
    aux = strategy.auxiliary(digits)
    out = digits.step(model, digits.example_batch(B), train=True)
    for term, value in strategy.extra_losses(out, aux, detach_taps=False).items():
        assert value.dim() == 0 and torch.isfinite(value), term
    batches = [digits.example_batch(B) for _ in range(3)]
    stats = run_scan(digits, strategy, model, aux, batches, torch.device("cpu"))
    for key in strategy.scores:
        assert stats[key].shape == (3 * B,)
    candidates = np.random.default_rng(0).permutation(100)[: 3 * B]
    scan = Scan(candidates=candidates, stats=stats if strategy.needs_scan else {})
    if strategy.scan_labeled:
        scan.labeled = np.arange(100, 100 + B)
        scan.labeled_stats = run_scan(
            digits, strategy, model, aux, batches[:1], torch.device("cpu")
        )
    picks = strategy.select(scan, 5, np.random.default_rng(0))
    assert len(set(picks.tolist())) == 5 and np.isin(picks, candidates).all()
