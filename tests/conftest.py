"""Shared fixtures: an isolated MLflow store per test (a copy of one made per worker), a tiny
digits schedule, and the ``albench`` command line in a subprocess."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from albench.config import ALConfig, TaskConfig, TrainConfig
from albench.loop import Job


@pytest.fixture(autouse=True)
def _no_tracking_uri_from_the_shell(monkeypatch):
    """A test never logs to the tracking store the developer's shell names: without its own
    URI, albench (in the test and in the processes it starts) uses ``mlflow.db`` in the cwd."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """An empty MLflow sqlite store, created once per pytest worker the way albench creates
    one. Creating a store runs MLflow's schema migrations, about 3 s of CPU: a test that needs
    a store but does not test its creation copies this one (:func:`copy_store`)."""
    from albench.preflight import check_tracking_store

    db = tmp_path_factory.mktemp("store") / "mlflow.db"
    check_tracking_store(f"sqlite:///{db}", create=True)
    return db


def copy_store(template: Path, folder: Path) -> str:
    """``folder/mlflow.db``, a copy of the empty store ``template`` that equals a store albench
    would create there (its Default experiment's artifact folder and times included); its URI."""
    db = folder / "mlflow.db"
    shutil.copyfile(template, db)
    now = int(time.time() * 1000)
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        con.execute(
            "UPDATE experiments SET artifact_location = replace(artifact_location, ?, ?),"
            " creation_time = ?, last_update_time = ? WHERE experiment_id = 0",
            (str(template.parent), str(folder), now, now),
        )
    return f"sqlite:///{db}"


@pytest.fixture
def store_in(empty_store):
    """``store_in(folder)``: an empty tracking store at ``folder/mlflow.db``, its URI."""
    return lambda folder: copy_store(empty_store, Path(folder))


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch, empty_store) -> str:
    """An empty sqlite tracking store in tmp_path, also the working directory."""
    uri = copy_store(empty_store, tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri


@pytest.fixture
def no_store_uri(tmp_path, monkeypatch) -> str:
    """A sqlite tracking URI in tmp_path, also the working directory, with no store there yet
    (for tests that albench creates one, or none)."""
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


# The longest modules, minutes each: of the slow tier (`-m slow`: emulated CPUs, a two-node
# Ray cluster, killed workers and tracking servers) and of the everyday suite (hostile names
# and states through the command line, the quick benchmark from a notebook and the shell).
# Started first, while the other workers run everything else.
SLOWEST_MODULES = (
    "tests/e2e/test_cpu_vendors.py",
    "tests/e2e/test_ray_cluster.py",
    "tests/e2e/test_parallel.py",
    "tests/test_state_security.py",
    "tests/e2e/test_quick.py",
)


@pytest.fixture(scope="session", autouse=True)
def _one_thread_per_worker():
    """Under pytest-xdist each core runs a worker: torch's intra-op threads, one per core by
    default, would have each worker's threads spin while another's hold the cores. One thread
    per worker, as every albench job runs (``train.threads``, 1 unless set)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """For pytest-xdist (``-n auto``, on by default; ``--dist loadscope`` keeps a module on
    one worker, so a module-scoped fixture such as a Ray cluster or a real run is built
    once): the slowest modules first, then the other modules with end-to-end tests, then the
    rest, so that the workers finish together instead of one starting the slowest test
    last. The order within a module is kept.

    A run over the whole suite (no file or test named) without ``-m`` leaves out the tests
    marked ``slow``: ``python -m pytest -m slow`` runs them, as does naming their files."""
    whole_suite = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if whole_suite and not config.option.markexpr:
        slow = [item for item in items if "slow" in item.keywords]
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if "slow" not in item.keywords]
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
