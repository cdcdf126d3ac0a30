"""benchmarks/zoo.toml: every built-in strategy on every embedded task that supports it (a
task's ``only_strategies``), one head dropout for all of digits, and the refusals of the
pairs a task does not support (one line, exit code 2, before any run)."""

from __future__ import annotations

import os

import pytest

from albench.config import load_benchmark, parse_benchmark
from albench.errors import ConfigError, UnknownNameError
from albench.registry import STRATEGIES, TASKS, missing_capabilities


def test_zoo_runs_every_strategy_on_every_task_that_supports_it():
    bench = load_benchmark("zoo")
    assert set(bench.strategies) == set(STRATEGIES.names())  # every built-in
    assert {t.name for t in bench.tasks} == {"digits", "shapes", "stickmen"}
    assert bench.trials == 3
    for config in bench.tasks:
        task = TASKS.create(config.name, dict(config.params), "p")  # its parameters decide
        supported = {
            s
            for s in STRATEGIES.names()
            if not missing_capabilities(task.provides, STRATEGIES.capabilities(s))
        }
        assert set(bench.strategies_for(config.name)) == supported, config.name
    assert len(bench.strategies_for("digits")) == len(STRATEGIES.names())  # with head dropout
    assert bench.task("digits").params["head_dropout"] > 0


def test_named_strategies_run_on_every_selected_task():
    bench = load_benchmark("zoo").select(None, ["bald"])
    assert all(bench.strategies_for(t.name) == ("bald",) for t in bench.tasks)
    kept = load_benchmark("zoo").select(["stickmen"], None)
    assert "margin" not in kept.strategies_for("stickmen")


def _raw(only) -> dict:
    return {
        "benchmark": {"name": "x", "strategies": ["random", "entropy"]},
        "tasks": {"digits": {"only_strategies": only}},
    }


def test_only_strategies_is_checked():
    assert parse_benchmark(_raw(["entropy"])).strategies_for("digits") == ("entropy",)
    with pytest.raises(ConfigError, match="only_strategies"):
        parse_benchmark(_raw("entropy"))
    with pytest.raises(UnknownNameError, match="entropy"):
        parse_benchmark(_raw(["entropi"]))


def test_plan_lists_only_supported_pairs(tmp_path, albench_cli):
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    out = albench_cli("plan", "--benchmark", "zoo", "--data-root", str(tmp_path / "data"),
                      cwd=tmp_path, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "126 of 126 jobs" in out.stdout  # digits 17, shapes 13, stickmen 12 strategies x 3
    assert "digits/bald/trial-2" in out.stdout and "shapes/bald" not in out.stdout
    assert "stickmen/margin" not in out.stdout and "shapes/margin/trial-0" in out.stdout


@pytest.mark.parametrize(
    ("benchmark", "task", "strategy", "missing"),
    [
        ("zoo", "stickmen", "margin", "class_logits or detections"),
        ("zoo", "shapes", "badge", "class_logits"),
        ("quick", "digits", "bald", "mc_dropout"),  # quick's digits has no head dropout
    ],
)
def test_unsupported_pairs_exit_2_before_any_run(
    benchmark, task, strategy, missing, tmp_path, albench_cli
):
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    out = albench_cli(
        "run", "--benchmark", benchmark, "--tasks", task, "--strategies", f"random,{strategy}",
        "--data-root", str(tmp_path / "data"), cwd=tmp_path, env=env,
    )  # fmt: skip
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert f"'{strategy}'" in lines[0] and f"'{task}'" in lines[0] and missing in lines[0]
    assert not (tmp_path / "mlflow.db").exists()
