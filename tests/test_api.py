"""albench from Python: the API's checks and errors (the README's notebook example runs in
tests/e2e/test_quick.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import albench
from albench.errors import AlbenchError, ConfigError


def test_the_api_raises_the_command_line_s_errors_before_any_run(no_store_uri, tmp_path):
    with pytest.raises(AlbenchError, match="unknown task 'nosuch'"):
        albench.run("quick", albench.RunOptions(tasks=["nosuch"]))
    with pytest.raises(ConfigError, match="--trials 0 is invalid"):
        albench.plan("quick", albench.RunOptions(trials=0))
    with pytest.raises(AlbenchError, match="no tracking store at"):
        albench.load_results("quick", tracking_uri=f"sqlite:///{tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists() and not Path("mlflow.db").exists()


def test_plan_returns_the_jobs_and_prints_like_the_command(mlflow_uri, capsys):
    from albench.cli import main

    plan = albench.plan("quick", albench.RunOptions(tasks="digits", trials=2))
    assert len(plan.jobs) == 10 and all(p.state == "new" for p in plan.jobs)
    assert main(["plan", "--benchmark", "quick", "--tasks", "digits", "--trials", "2"]) == 0
    assert capsys.readouterr().out.strip() == str(plan).strip()


def test_listing_matches_the_registry():
    from albench.registry import STRATEGIES, TASKS

    assert list(albench.list_tasks()) == TASKS.names()
    assert list(albench.list_strategies()) == STRATEGIES.names()
    matrix = albench.support()
    assert matrix["digits"]["learn_loss"] == [] and matrix["shapes"]["bald"]
    assert "quick" in albench.list_benchmarks()
