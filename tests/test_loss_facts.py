"""benchmarks/loss_facts.py: the test loss of each run against what each test image holds."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

TINY = """
[benchmark]
name = "facts"
trials = 1
strategies = ["random"]

[tasks.shapes]
params = {pool_size = 40, test_size = 30}
al = {initial = 8, budget = 8, cycles = 2, subset = 0}
train = {epochs = 1, batch_size = 8, lr = 2e-3, lr_milestones = [], stop_grad_epoch = 0}
"""


def test_loss_facts_correlates_each_run_s_logged_test_loss_with_the_test_facts(
    mlflow_uri, tmp_path, capsys
):
    """The correlation the script prints is the Spearman of the logged per-image loss with
    the task's own test facts, recomputed here from the artifacts by hand."""
    from albench.benchmarks import loss_facts
    from albench.cli import main
    from albench.tasks.detection.shapes import ShapesTask
    from albench.tracking import Tracker

    path = tmp_path / "facts.toml"
    path.write_text(TINY)
    root = str(tmp_path / "data")
    assert main(["run", "--benchmark", str(path), "--no-progress", "--data-root", root]) == 0
    table = loss_facts.correlations(Tracker(), "facts", [0, 1], root)
    facts = ShapesTask(pool_size=40, test_size=30).datasets(root, False).test_facts
    assert set(table.fact) == set(facts) and set(table.cycle) == {0, 1}
    tracker = Tracker()
    run = next(r for r in tracker.runs("facts") if r.info.run_name != "report")
    scores = pd.read_csv(
        tracker.download_artifact(run.info.run_id, "test_scores/cycle_01.csv", tmp_path)
    )
    expected = stats.spearmanr(scores["loss"], facts["objects"][scores["index"]]).statistic
    got = table[(table.fact == "objects") & (table.cycle == 1)].rho.item()
    assert got == pytest.approx(expected)
    loss_facts.main(["facts", "--cycles", "1", "--data-root", root])
    assert "objects" in capsys.readouterr().out
