"""benchmarks/mini.toml: the paper's protocol in miniature on the three embedded twins (its
jobs, the shape of its schedules, the paper's strategy settings, the twins' difficulty and
shift) and ``albench plan`` on it."""

from __future__ import annotations

import os
import re

import pytest

from albench.config import load_benchmark
from albench.registry import TASKS

STRATEGIES = ("random", "entropy", "coreset", "learn_loss", "learn_loss_mse")
TASK_NAMES = ("digits", "shapes", "stickmen")


def test_mini_is_five_strategies_on_three_twins_three_trials_45_jobs():
    """mini loads by name: 3 trials of the five strategies on digits, shapes, stickmen."""
    bench = load_benchmark("mini")
    assert bench.name == "mini" and bench.trials == 3
    assert bench.strategies == STRATEGIES
    assert {t.name for t in bench.tasks} == set(TASK_NAMES) and bench.defaulted == ()
    for name in TASK_NAMES:
        assert bench.strategies_for(name) == STRATEGIES and bench.trials_for(name) == 3
    jobs = sum(bench.trials_for(t.name) * len(bench.strategies_for(t.name)) for t in bench.tasks)
    assert jobs == 45


@pytest.mark.parametrize("task", TASK_NAMES)
def test_schedule_has_the_papers_shape(task):
    """Loss-module gradient stops at 60 % of the epochs, lr x 0.1 at 80 %; even batch; warm."""
    config = load_benchmark("mini").task(task)
    train = config.train
    assert train.stop_grad_epoch * 5 == train.epochs * 3  # as 120/200 (§4.1)
    assert len(train.lr_milestones) == 1
    assert train.lr_milestones[0] * 5 == train.epochs * 4  # as 160/200 (§4.1)
    assert train.lr_gamma == 0.1
    assert train.batch_size % 2 == 0  # Eq. 2 pairs the batch
    assert config.al.reinit_model is False


@pytest.mark.parametrize("task", TASK_NAMES)
def test_labels_needed_fit_in_the_pool_and_the_subset_holds_a_budget(task):
    """initial + budget x (cycles - 1) labels fit in the pool; a subset holds >= one budget."""
    config = load_benchmark("mini").task(task)
    pool = TASKS.create(task, dict(config.params), "mini").sizes[0]
    if task == "digits":
        assert pool == 1300
    else:
        assert pool == config.params["pool_size"]
    al = config.al
    assert al.initial + al.budget * (al.cycles - 1) == al.labels_needed <= pool
    assert al.subset == 0 or al.budget <= al.subset <= pool


def test_strategy_settings_are_the_papers():
    """lambda 1 and margin 1 (stickmen: lambda 1e-4 as mpii), MSE lambda 0.1, as quick."""
    mini, quick = load_benchmark("mini"), load_benchmark("quick")
    for task in TASK_NAMES:
        weight = 1e-4 if task == "stickmen" else 1.0
        assert mini.strategy_hparams(task, "learn_loss") == {"weight": weight, "margin": 1.0}
        assert mini.strategy_hparams(task, "learn_loss_mse") == {"weight": 0.1}
        for strategy in STRATEGIES:  # no strategy tuned for the mini benchmark
            assert mini.strategy_hparams(task, strategy) == quick.strategy_hparams(task, strategy)
    assert mini.strategy_params == quick.strategy_params


def test_mini_twins_are_graded_and_shapes_shifts_while_quick_stays_as_it_was():
    """mini: shapes and stickmen at difficulty 1, shapes shifted by 8; quick sets neither."""
    mini, quick = load_benchmark("mini"), load_benchmark("quick")
    assert mini.task("shapes").params["difficulty"] == 1.0
    assert mini.task("stickmen").params["difficulty"] == 1.0
    assert mini.task("shapes").params["shift"] == 8
    assert "shift" not in mini.task("stickmen").params
    shapes = TASKS.create("shapes", dict(mini.task("shapes").params), "mini")
    assert (shapes.difficulty, shapes.shift) == (1.0, 8)
    for task in ("shapes", "stickmen"):
        params = quick.task(task).params
        assert "difficulty" not in params and "shift" not in params
        assert TASKS.create(task, dict(params), "quick").difficulty == 0.0
    assert TASKS.create("shapes", dict(quick.task("shapes").params), "quick").shift == 0


def test_plan_lists_45_jobs_and_creates_no_tracking_store(tmp_path, albench_cli):
    """``albench plan --benchmark mini`` exits 0, lists the 45 jobs and writes no mlflow.db."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the default
    out = albench_cli("plan", "--benchmark", "mini", "--data-root", str(tmp_path / "data"),
                      cwd=tmp_path, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "45 of 45 jobs" in out.stdout
    jobs = re.findall(r"^(digits|shapes|stickmen)/(\w+)/trial-(\d)\s", out.stdout, re.MULTILINE)
    assert len(jobs) == len(set(jobs)) == 45
    assert set(jobs) == {(t, s, str(k)) for t in TASK_NAMES for s in STRATEGIES for k in range(3)}
    assert list(tmp_path.iterdir()) == []  # no store, no state, and no twin data generated
