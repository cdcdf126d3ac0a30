"""albench from Python: the README's notebook example, and the API's checks and errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import albench
from albench.errors import AlbenchError, ConfigError

README = Path(__file__).resolve().parents[1] / "README.md"


def notebook_example() -> str:
    """The README's five-line notebook example (the Python block after its marker)."""
    text = README.read_text()
    block = re.search(r"<!-- notebook-example -->\n```python\n(.*?)```", text, re.S)
    assert block, "README.md lost its notebook example"
    return block.group(1)


def test_the_readme_notebook_example_runs_and_plots_every_strategy(mlflow_uri):
    import matplotlib

    matplotlib.use("Agg")
    code = notebook_example()
    assert len([line for line in code.splitlines() if line.strip()]) <= 5
    namespace: dict = {}
    exec(compile(code, "README.md notebook example", "exec"), namespace)
    curves = namespace["curves"]
    strategies = albench.load_benchmark("quick").strategies
    assert sorted(curves.columns) == sorted(strategies)  # one curve per strategy
    assert list(curves.index) == [40, 80, 120, 160, 200, 240]  # the labeled counts
    assert ((curves >= 0) & (curves <= 1)).all().all()
    ax = matplotlib.pyplot.gca()
    assert len(ax.get_lines()) == len(strategies) and ax.get_xlabel() == "labeled samples"


def test_the_api_raises_the_command_line_s_errors_before_any_run(mlflow_uri, tmp_path):
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
