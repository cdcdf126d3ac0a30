"""Shared fixtures: an isolated MLflow store per test, a tiny digits schedule, and the
``albench`` command line in a subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest

from albench.config import ALConfig, TaskConfig, TrainConfig
from albench.loop import Job


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch) -> str:
    """A fresh sqlite tracking store in tmp_path, also the working directory."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri


def tiny_digits(**al) -> TaskConfig:
    """A digits schedule that runs in about a second: 3 cycles of 2 epochs."""
    al_cfg = {"initial": 20, "budget": 20, "cycles": 3, "subset": 100} | al
    return TaskConfig(
        name="digits",
        al=ALConfig(**al_cfg),
        train=TrainConfig(
            epochs=2,
            batch_size=16,
            lr=0.05,
            lr_milestones=(),
            stop_grad_epoch=1,
            eval_batch_size=256,
        ),
    )


def tiny_job(strategy: str, trial: int = 0, uri: str | None = None, **al) -> Job:
    return Job(
        benchmark="test",
        experiment="test",
        task=tiny_digits(**al),
        strategy=strategy,
        trial=trial,
        seed=0,
        device="cpu",
        tracking_uri=uri,
    )


def _run_albench(*args: str, cwd, env=None, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m albench ARGS`` in ``cwd``: what a user's shell runs, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "albench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def albench_cli():
    """Run the command line in a subprocess: ``albench_cli("run", ..., cwd=..., env=...)``."""
    return _run_albench


# The slowest modules, minutes each (emulated CPUs, a two-node Ray cluster, killed workers
# and tracking servers): started first, while the other worker runs everything else.
SLOWEST_MODULES = (
    "tests/e2e/test_cpu_vendors.py",
    "tests/e2e/test_ray_cluster.py",
    "tests/e2e/test_parallel.py",
)


def pytest_collection_modifyitems(config, items):
    """For pytest-xdist (``-n auto``, on by default; ``--dist loadscope`` keeps a module on
    one worker, so a module-scoped fixture such as a Ray cluster or a real run is built
    once): the slowest modules first, then the other modules with end-to-end tests, then the
    rest, so that the workers finish together instead of one starting the slowest test
    last. The order within a module is kept."""
    e2e_modules = {item.nodeid.partition("::")[0] for item in items if "e2e" in item.keywords}

    def rank(item) -> int:
        name = item.nodeid.partition("::")[0]
        return 0 if name in SLOWEST_MODULES else 1 if name in e2e_modules else 2

    items.sort(key=rank)  # stable


class PoolBatches:
    """A stand-in for a job's :class:`~albench.training.Batches` in a ``Learner``: the pool's
    batches of some indices are ``pool(indices)`` (test data the test chose)."""

    def __init__(self, pool):
        self.pool = pool

    def eval(self, split: str, indices):
        assert split == "pool", split  # the scan reads the pool alone
        return self.pool(indices)
