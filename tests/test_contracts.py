"""Contract tests over every registered task and strategy (each built-in name, and what the
registry's tables say about it, is checked against its class)."""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest
import torch

from albench.contracts import CAPABILITIES, ENTROPY, Scan, Strategy, Task
from albench.registry import STRATEGIES, TASKS, missing_capabilities
from albench.training import Learner
from tests.conftest import PoolBatches

B = 6
CPU = torch.device("cpu")


@pytest.fixture(scope="module", params=TASKS.names())
def task(request):
    return TASKS.get(request.param)()


@pytest.fixture(scope="module")
def digits():
    """digits with dropout before its classifier: it then provides every capability a
    classification strategy may require (mc_dropout needs head_dropout > 0)."""
    return TASKS.create("digits", {"head_dropout": 0.5}, "tasks.digits.params")


def test_task_step_output_contract(task):
    torch.manual_seed(0)
    model = task.build_model()
    out = task.step(model, task.example_batch(B), train=True)
    assert out.loss.shape == (B,) and torch.isfinite(out.loss).all()
    assert len(out.taps) == len(task.tap_channels)
    for tap, channels in zip(out.taps, task.tap_channels, strict=True):
        assert tap.shape[0] == B and tap.shape[1] == channels
    assert out.embedding.dim() == 2 and out.embedding.shape[0] == B
    if ENTROPY in task.provides:
        ent = task.uncertainty(out)
        assert ent.shape == (B,) and (ent >= 0).all()
    if "class_logits" in task.provides:
        assert out.output.shape[0] == B and out.output.dim() == 2


def test_task_declarations(task):
    """Every task declares its metric (key, label, range), planning figures and schedule."""
    cls = type(task)
    assert cls.metric and cls.metric.isidentifier()
    assert cls.metric_label
    low, high = cls.metric_range
    assert low < high
    assert cls.throughput > 0 and (cls.cpu_throughput is None or cls.cpu_throughput > 0)
    assert cls.sizes is not None  # planning without the data
    assert cls.default_schedule is not None and set(cls.default_schedule) <= {
        "al",
        "train",
        "params",
        "strategies",
        "trials",
    }
    assert set(cls.provides) <= set(CAPABILITIES)


def test_task_evaluate_through_the_learner(task):
    """Two batches of unequal sizes (a last partial batch, as a test split ends): one loss
    and one score per sample."""
    strategy = STRATEGIES.create("random", {}, "s")
    learner = Learner(task, strategy, task.build_model(), None, CPU)
    result = learner.evaluate([task.example_batch(3), task.example_batch(2)])
    low, high = task.metric_range
    assert low <= result.metric <= high
    assert result.loss.shape == (5,)
    assert set(result.scores) == ({"entropy"} if ENTROPY in task.provides else set())
    assert all(s.shape == (5,) for s in result.scores.values())


def test_embedded_task_data_loads_offline(tmp_path):
    for name in TASKS.names():
        task = TASKS.get(name)()
        if not task.embedded:
            continue
        data = task.datasets(str(tmp_path), download=False)  # generated tasks cache here
        assert data.pool_size == len(data.pool_train) > 0 and len(data.test) > 0
        assert (data.pool_size, len(data.test)) == type(task).sizes
        batch = task.collate([data.pool_eval[0], data.pool_eval[1]])
        out = task.step(task.build_model().eval(), batch, train=False)
        assert out.loss.shape == (2,)


# Strategies that train a model of their own inside select() (VAAL's VAE and discriminator):
# the paper's network for 100 epochs takes minutes on a CPU; the contract is the same small.
SMALL = {"vaal": {"width": 4, "epochs": 2}, "ta_vaal": {"width": 4, "epochs": 2}}


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_strategy_contract(name, digits):
    strategy = STRATEGIES.get(name)(**SMALL.get(name, {}))
    assert pickle.loads(pickle.dumps(strategy)).get_params() == strategy.get_params()
    required = {c for r in type(strategy).requires for c in r.split("|")}  # "a|b": one of
    assert required <= set(CAPABILITIES)
    assert not missing_capabilities(digits.provides, type(strategy).requires)
    torch.manual_seed(0)
    learner = Learner(digits, strategy, digits.build_model(), strategy.auxiliary(digits), CPU)
    out = digits.step(learner.model, digits.example_batch(B), train=True)
    for term, value in strategy.extra_losses(out, learner.aux, detach_taps=False).items():
        assert value.dim() == 0 and torch.isfinite(value), term
    batches = [digits.example_batch(B) for _ in range(3)]
    candidates = np.random.default_rng(0).permutation(100)[: 3 * B]
    labeled = np.arange(100, 100 + B)
    learner.batches = PoolBatches(lambda idx: batches if len(idx) > B else batches[:1])
    scan = learner.scan(candidates, labeled)
    for key in strategy.scores:
        assert scan.stats[key].shape == (3 * B,)
    assert isinstance(scan, Scan) and (bool(scan.stats) == strategy.needs_scan)
    if type(strategy).lookahead:  # the loop sets the probe (a stand-in here)
        assert strategy.oracle  # it reads the test split
        scan.probe = lambda group: float(np.isin(group, candidates[:5]).sum())
    picks = strategy.select(scan, 5, np.random.default_rng(0))
    assert len(set(picks.tolist())) == 5 and np.isin(picks, candidates).all()


@pytest.mark.parametrize(
    ("registry", "attr", "base"),
    [(TASKS, "provides", Task), (STRATEGIES, "requires", Strategy)],
)
def test_registration_tables_match_the_classes(registry, attr, base):
    """The index describes built-ins without importing them: it must say what the class
    says (its docstring's first line and its capabilities)."""
    for name, entry in registry.builtins.items():
        cls = registry.get(name)
        assert issubclass(cls, base) and not inspect.isabstract(cls), name
        assert cls.name == name
        assert entry.summary == inspect.getdoc(cls).splitlines()[0], name
        assert set(entry.capabilities) == set(getattr(cls, attr)), name
        assert entry.embedded == bool(getattr(cls, "embedded", False)), name
