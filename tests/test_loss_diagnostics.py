"""benchmarks/loss_diagnostics.py: the mini benchmark's diagnostics run and report what they say."""

from __future__ import annotations

import math
import re

from albench.benchmarks import loss_diagnostics


def test_diagnostics_print_both_models_and_their_agreement(tmp_path, capsys):
    """Two models' lines (metric, train and test loss, ranking accuracies) and how well
    model 0's test losses rank model 1's, a ranking accuracy in [0, 1]."""
    loss_diagnostics.main(
        ["digits", "--labels", "40", "--data-root", str(tmp_path),
         "--set", "tasks.digits.train.epochs=3", "--set", "tasks.digits.train.lr_milestones=[2]",
         "--set", "tasks.digits.train.stop_grad_epoch=1"]
    )  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [
        "digits, 40 labels, seed 0",
        "digits, 40 labels, seed 1",
        "digits",
    ]
    for line in out[:2]:
        for key in ("metric", "train_loss", "test_loss", "rank_acc/predicted_loss"):
            assert f"{key} " in line
    agree = float(re.search(r"ranking accuracy ([0-9.]+)$", out[2]).group(1))
    assert 0.0 <= agree <= 1.0 and not math.isnan(agree)


def test_levels_are_correlated_with_the_losses_where_the_task_draws_them(tmp_path, capsys):
    """A twin with difficulty levels also gets the level's Spearman correlations, and a pose
    task the spread of its entropy scorer on the ground-truth heatmaps."""
    settings = {
        "params.pool_size": 8,
        "params.test_size": 8,
        "train.epochs": 3,
        "train.lr_milestones": "[2]",
        "train.stop_grad_epoch": 1,
        "al.initial": 4,
        "al.budget": 4,
        "al.cycles": 2,
        "al.subset": 4,
    }
    sets = [arg for k, v in settings.items() for arg in ("--set", f"tasks.stickmen.{k}={v}")]
    loss_diagnostics.main(["stickmen", "--labels", "8", "--data-root", str(tmp_path), *sets])
    out = capsys.readouterr().out.splitlines()
    for key in ("rho(level, train loss)", "rho(level, test loss)", "rho(level, predicted)"):
        assert key in out[0]
    assert out[-1].startswith("stickmen: entropy of the ground-truth heatmaps, 5-95 % of the")
