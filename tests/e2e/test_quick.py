"""The quick benchmark on digits from a notebook and from the shell, one real run between
them: the README's notebook example trains trial 0 through the Python API, then ``albench
run --trials 2`` on the same store finds those five runs finished and trains trial 1 alone."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import albench
from albench.tracking import Tracker
from tests.conftest import copy_store

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def notebook_example() -> str:
    """The README's five-line notebook example (the Python block after its marker)."""
    text = README.read_text()
    block = re.search(r"<!-- notebook-example -->\n```python\n(.*?)```", text, re.S)
    assert block, "README.md lost its notebook example"
    return block.group(1)


@pytest.fixture(scope="module")
def notebook(tmp_path_factory, empty_store) -> dict:
    """The notebook example, run in a fresh folder and store as a notebook would run it:
    its namespace, and what its plot drew."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    folder = tmp_path_factory.mktemp("quick")
    uri = copy_store(empty_store, folder)
    code = notebook_example()
    namespace: dict = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(folder)
        exec(compile(code, "README.md notebook example", "exec"), namespace)
    ax = pyplot.gca()
    drawn = {"lines": len(ax.get_lines()), "xlabel": ax.get_xlabel()}
    pyplot.close("all")
    return {"code": code, "namespace": namespace, "drawn": drawn, "folder": folder, "uri": uri}


def test_the_readme_notebook_example_runs_and_plots_every_strategy(notebook):
    assert len([line for line in notebook["code"].splitlines() if line.strip()]) <= 5
    curves = notebook["namespace"]["curves"]
    strategies = albench.load_benchmark("quick").strategies
    assert sorted(curves.columns) == sorted(strategies)  # one curve per strategy
    assert list(curves.index) == [40, 80, 120, 160, 200, 240]  # the labeled counts
    assert ((curves >= 0) & (curves <= 1)).all().all()
    assert notebook["drawn"] == {"lines": len(strategies), "xlabel": "labeled samples"}


def test_quick_benchmark_through_the_cli(notebook, albench_cli):
    """``albench run --benchmark quick --tasks digits --trials 2`` where the notebook ran:
    trial 0's five runs count as finished, trial 1's five are trained, and all ten learn."""
    env = os.environ | {"MLFLOW_TRACKING_URI": notebook["uri"]}
    proc = albench_cli(
        *["run", "--benchmark", "quick", "--tasks", "digits", "--trials", "2", "--no-progress"],
        cwd=notebook["folder"],
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "5 of 10 jobs to run (5 finished already)" in proc.stderr
    assert "5/5 jobs FINISHED" in proc.stderr

    tracker = Tracker(notebook["uri"])
    runs = tracker.runs("quick")
    assert len(runs) == 10 and {r.info.status for r in runs} == {"FINISHED"}
    names = {r.info.run_name for r in runs}
    assert "digits/learn_loss/trial-1" in names and "digits/coreset/trial-0" in names
    last_rank_acc = []
    for run in runs:
        acc = [v for _, v in tracker.metric_history(run.info.run_id, "eval/accuracy")]
        labeled = [v for _, v in tracker.metric_history(run.info.run_id, "labeled")]
        assert len(acc) == 6 and labeled == [40, 80, 120, 160, 200, 240]
        assert acc[-1] > acc[0] + 0.1, (run.info.run_name, acc)  # learning happens
        if run.data.tags["albench.strategy"] == "learn_loss":
            hist = tracker.metric_history(run.info.run_id, "eval/rank_acc/predicted_loss")
            assert len(hist) == 6
            last_rank_acc.append(hist[-1][1])
    assert np.mean(last_rank_acc) > 0.5
