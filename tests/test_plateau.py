"""``plateau``: the relative change of the training loss over the last epochs of a cycle
(logged per cycle as ``train/plateau``)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from albench.loop import plateau, run_job
from albench.tracking import Tracker
from tests.conftest import tiny_job


def test_a_constant_loss_has_no_change():
    """A flat series: the least-squares line is flat, so the figure is 0."""
    assert plateau([2.0] * 10) == pytest.approx(0.0, abs=1e-12)


def test_a_linear_series_over_ten_epochs_reads_the_last_three():
    """10 epochs: 20 % is 2, so the floor of 3 epochs applies: [3, 2, 1] has slope -1, a
    change of -2 across the tail and a mean of 2 -> -1.0."""
    assert plateau([10.0, 9, 8, 7, 6, 5, 4, 3, 2, 1]) == pytest.approx(-1.0)


def test_twenty_epochs_read_the_last_four():
    """20 epochs: 20 % is 4; tail [4, 3, 2, 1]: slope -1, change -3, mean 2.5 -> -1.2 (the
    last three alone would give -1.0; the wild earlier epochs are not read)."""
    assert plateau([100.0] * 16 + [4.0, 3.0, 2.0, 1.0]) == pytest.approx(-1.2)


@pytest.mark.parametrize(("epochs", "tail"), [(3, 3), (10, 3), (17, 3), (18, 4), (20, 4), (50, 10)])
def test_tail_length_is_a_fifth_of_the_epochs_and_at_least_three(epochs, tail):
    """A linear tail [k, ..., 1] after epochs at 1000 gives -2 (k - 1) / (k + 1) exactly when
    the tail read is k epochs long (one epoch more would pull in a 1000)."""
    losses = [1000.0] * (epochs - tail) + [float(v) for v in range(tail, 0, -1)]
    assert plateau(losses) == pytest.approx(-2 * (tail - 1) / (tail + 1))


@pytest.mark.parametrize("losses", [[], [1.0], [1.0, 0.5]])
def test_fewer_than_three_epochs_give_nan(losses):
    """No line is fitted through fewer than three epochs."""
    assert math.isnan(plateau(losses))


def test_an_all_zero_loss_is_zero_not_a_division_error():
    """A mean of 0 returns 0.0 rather than 0/0."""
    assert plateau([0.0] * 5) == 0.0


def test_one_noisy_epoch_in_a_flat_tail_moves_it_less_than_first_vs_last():
    """50 epochs (tail of 10), flat at 1 with a spike of 2 in the last epoch. By hand:
    mean 1.1, x mean 4.5, sum (x - 4.5)^2 = 82.5, sum (x - 4.5)(y - 1.1) = 4.5, so slope =
    4.5 / 82.5, change = 9 x slope and the figure 9 x 4.5 / 82.5 / 1.1 = 54 / 121 (~0.446);
    a first-vs-last difference would say (2 - 1) / 1.1 = 10 / 11 (~0.909)."""
    losses = [1.0] * 49 + [2.0]
    assert plateau(losses) == pytest.approx(54 / 121)
    assert abs(plateau(losses)) < 0.5 * (2.0 - 1.0) / 1.1


def test_a_loop_run_logs_the_plateau_of_each_cycle(mlflow_uri):
    """A tiny digits job of 3 cycles x 3 epochs logs ``train/plateau`` once per cycle (step =
    cycle), equal to plateau() of that cycle's logged per-epoch target losses."""
    job = tiny_job("random")
    train = dataclasses.replace(job.task.train, epochs=3)
    job = dataclasses.replace(job, task=dataclasses.replace(job.task, train=train))
    tracker = Tracker()
    tracker.experiment_id("test")
    res = run_job(job)
    logged = tracker.metric_history(res.run_id, "train/plateau")
    assert [s for s, _ in logged] == [0, 1, 2]
    target = [v for _, v in tracker.metric_history(res.run_id, "train/loss/target")]
    assert len(target) == 9  # global epoch as step
    for cycle, value in logged:
        assert math.isfinite(value)
        assert value == pytest.approx(plateau(target[3 * cycle : 3 * cycle + 3]), rel=1e-9)


def test_a_cycle_of_fewer_than_three_epochs_logs_no_plateau(mlflow_uri):
    """With 2 epochs per cycle there is no figure: nothing is logged rather than NaN rows
    (which would also make two identical runs' metric histories compare unequal)."""
    job = tiny_job("random")  # 2 epochs per cycle
    assert job.task.train.epochs == 2
    tracker = Tracker()
    tracker.experiment_id("test")
    res = run_job(job)
    assert tracker.metric_history(res.run_id, "train/plateau") == []
    assert len(tracker.metric_history(res.run_id, "train/loss/target")) == 2 * job.task.al.cycles
