"""The report's pure table functions against numbers worked out by hand.

A small tidy frame (3 strategies x 3 trials x 3 cycles at 10, 20, 30 labels) whose means,
stds, AUBCs, paired tests and label efficiency are computed here with plain arithmetic.
"""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from albench.report import stats

LABELED = [10.0, 20.0, 30.0]
ORDER = ("random", "entropy", "coreset", "learn_loss", "learn_loss_mse")  # a registry's order
BASELINES = ("random", "learn_loss")  # what --baselines defaults to with the built-ins' tags
ACC = {  # strategy -> trial -> accuracy per cycle
    "random": [[0.50, 0.60, 0.70], [0.40, 0.60, 0.80], [0.60, 0.60, 0.60]],
    "learn_loss": [[0.50, 0.70, 0.90], [0.50, 0.80, 0.90], [0.60, 0.75, 0.85]],
    "entropy": [[0.55, 0.65, 0.75], [0.45, 0.70, 0.85], [0.60, 0.65, 0.70]],
    "coreset": [[0.30, 0.40, 0.50]] * 3,  # never reaches random's final mean
}


def _frame(acc=ACC) -> pd.DataFrame:
    rows = [
        ("toy", s, t, c, LABELED[c], "eval/accuracy", acc[s][t][c], f"{s}-{t}")
        for s in acc
        for t, c in product(range(3), range(3))
    ]
    cols = ["task", "strategy", "trial", "cycle", "labeled", "metric", "value", "run_id"]
    return pd.DataFrame(rows, columns=cols)


@pytest.fixture
def rows():
    return stats.metric_rows(_frame(), {"toy": "accuracy"})


def test_summary_means_and_sample_stds(rows):
    s = stats.summarize(rows).set_index(["strategy", "cycle"])
    assert s.loc[("random", 2), "mean"] == pytest.approx(0.7)  # (0.7 + 0.8 + 0.6) / 3
    assert s.loc[("random", 2), "std"] == pytest.approx(0.1)  # sqrt((0 + .01 + .01) / 2)
    assert s.loc[("random", 1), "std"] == pytest.approx(0.0)
    # learn_loss, last cycle: 0.9, 0.9, 0.85 -> mean 2.65/3; deviations 1/60, 1/60, -1/30
    assert s.loc[("learn_loss", 2), "mean"] == pytest.approx(2.65 / 3)
    var = (2 * (1 / 60) ** 2 + (1 / 30) ** 2) / 2
    assert s.loc[("learn_loss", 2), "std"] == pytest.approx(math.sqrt(var))
    assert (s.n == 3).all() and s.loc[("entropy", 0), "labeled"] == 10


def test_last_cycle_table_puts_the_papers_number_beside(rows):
    paper = {("toy", "random"): (0.8764, "§4.1, Fig. 4")}
    last = stats.last_cycle_table(stats.summarize(rows), paper, ORDER)
    assert list(last.strategy) == ["random", "entropy", "coreset", "learn_loss"]  # fixed order
    assert (last.cycle == 2).all() and (last.labeled == 30).all()
    r = last.set_index("strategy")
    assert r.loc["random", "paper"] == 0.8764 and r.loc["random", "paper_source"] == "§4.1, Fig. 4"
    assert math.isnan(r.loc["entropy", "paper"]) and r.loc["entropy", "paper_source"] == ""


def test_aubc_is_the_trapezoid_over_the_labeled_range():
    # (y0 + 2 y1 + y2) / 4 for three equally spaced points
    assert stats.aubc(LABELED, [0.5, 0.7, 0.9]) == pytest.approx(0.7)
    assert stats.aubc([30, 10, 20], [0.9, 0.5, 0.7]) == pytest.approx(0.7)  # order-free
    assert stats.aubc([10, 30], [0.0, 1.0]) == pytest.approx(0.5)
    assert stats.aubc([10], [0.42]) == 0.42


def test_aubc_table_and_bootstrap_ci(rows):
    t = stats.aubc_table(rows, ORDER).set_index("strategy")
    # random: every trial 0.6 -> a degenerate CI at 0.6
    assert t.loc["random", "aubc"] == pytest.approx(0.6)
    assert t.loc["random", "ci_low"] == t.loc["random", "ci_high"] == pytest.approx(0.6)
    # learn_loss: 0.7, 0.75, 0.7375
    per = np.array([0.7, 0.75, 0.7375])
    assert t.loc["learn_loss", "aubc"] == pytest.approx(per.mean())
    assert t.loc["learn_loss", "std"] == pytest.approx(per.std(ddof=1))
    # With 3 trials each extreme resample (all three draws the min, or the max) has
    # probability 1/27 > 2.5 %: the 95 % percentile interval is exactly [min, max].
    lo, hi = t.loc["learn_loss", ["ci_low", "ci_high"]]
    assert (lo, hi) == pytest.approx((0.7, 0.75))
    assert t.loc["learn_loss", "labeled_from"] == 10 and t.loc["learn_loss", "labeled_to"] == 30


def test_bootstrap_ci_of_two_values_is_their_range():
    # Resampled means of {a, b}: a (1/4), (a+b)/2 (1/2), b (1/4): 2.5th and 97.5th pct = a, b.
    assert stats.bootstrap_ci([0.1, 0.3]) == pytest.approx((0.1, 0.3))
    assert all(math.isnan(v) for v in stats.bootstrap_ci([0.5]))
    assert stats.bootstrap_ci([0.2, 0.4, 0.9]) == stats.bootstrap_ci([0.2, 0.4, 0.9])  # seeded


def _t_p_df2(t: float) -> float:
    """Two-sided p of Student's t with 2 degrees of freedom: 1 - |t| / sqrt(t^2 + 2)."""
    return 1 - abs(t) / math.sqrt(t * t + 2)


def test_paired_test_against_hand_computed_t_and_exact_wilcoxon():
    x, y = np.array([0.9, 0.9, 0.85]), np.array([0.7, 0.8, 0.6])
    d = x - y  # 0.2, 0.1, 0.25
    t = d.mean() / (math.sqrt(((d - d.mean()) ** 2).sum() / 2) / math.sqrt(3))
    res = stats.paired_test(x, y)
    assert res["n"] == 3 and res["mean_diff"] == pytest.approx(0.55 / 3)
    assert res["t"] == pytest.approx(t) and res["t_p"] == pytest.approx(_t_p_df2(t))
    # All three differences positive: W = 0, exact two-sided p = 2 x (1/2^3) = 0.25.
    assert res["wilcoxon_w"] == 0 and res["wilcoxon_p"] == pytest.approx(0.25)
    assert "cannot reach 0.05" in res["note"] and "0.25" in res["note"]


def test_paired_test_says_when_n_is_too_small():
    one = stats.paired_test([0.9], [0.8])
    assert math.isnan(one["t_p"]) and math.isnan(one["wilcoxon_p"]) and "n=1" in one["note"]
    same = stats.paired_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert math.isnan(same["t"]) and "all differences zero" in same["note"]
    shift = stats.paired_test([0.6, 0.7, 0.8], [0.5, 0.6, 0.7])  # constant difference
    assert math.isnan(shift["t"]) and "t undefined" in shift["note"]
    two = stats.paired_test([0.9, 0.8], [0.7, 0.75])
    assert "1 degree of freedom" in two["note"] and "p >= 0.5" in two["note"]
    many = stats.paired_test(np.arange(8) + 1.0, np.zeros(8))
    assert many["wilcoxon_p"] == pytest.approx(2 / 2**8) and "cannot reach" not in many["note"]


def test_paired_cycles_pairs_by_trial_and_skips_mirror_pairs(rows):
    p = stats.paired_cycles(rows, BASELINES, ORDER)
    pairs = list(dict.fromkeys(zip(p.strategy, p.baseline, strict=True)))
    assert pairs == [
        ("entropy", "random"),
        ("coreset", "random"),
        ("learn_loss", "random"),
        ("entropy", "learn_loss"),
        ("coreset", "learn_loss"),
    ]  # no (random, learn_loss): the mirror of (learn_loss, random)
    row = p[(p.strategy == "learn_loss") & (p.baseline == "random") & (p.cycle == 2)].iloc[0]
    d = np.array([0.2, 0.1, 0.25])
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    assert row.labeled == 30 and row.n == 3
    assert row.t == pytest.approx(t) and row.t_p == pytest.approx(_t_p_df2(t))
    assert row.wilcoxon_p == pytest.approx(0.25)
    first = p[(p.strategy == "learn_loss") & (p.baseline == "random") & (p.cycle == 0)].iloc[0]
    assert "1 non-zero pairs" in first.note  # d = 0, 0.1, 0: Wilcoxon p >= 1


def test_paired_aubc(rows):
    p = stats.paired_aubc(rows, BASELINES, ORDER).set_index(["strategy", "baseline"])
    d = np.array([0.7, 0.75, 0.7375]) - 0.6  # learn_loss AUBC - random AUBC, per trial
    row = p.loc[("learn_loss", "random")]
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    assert row.mean_diff == pytest.approx(d.mean()) and row.n == 3
    assert row.t == pytest.approx(t) and row.t_p == pytest.approx(_t_p_df2(t))
    assert row.wilcoxon_p == pytest.approx(0.25)
    assert (row.ci_low, row.ci_high) == pytest.approx((0.1, 0.15))  # [min, max] for n = 3
    assert ("random", "learn_loss") not in p.index


def test_label_efficiency_interpolates_to_randoms_final_mean(rows):
    e = stats.label_efficiency(stats.summarize(rows), "random", ORDER).set_index("strategy")
    assert list(e.target) == pytest.approx([0.7] * 4) and (e.reference_labeled == 30).all()
    # learn_loss mean: 1.6/3 at 10, 0.75 at 20 -> 10 + 10 (0.7 - 1.6/3) / (0.75 - 1.6/3)
    assert e.loc["learn_loss", "labels_needed"] == pytest.approx(10 + 10 * 0.5 / 0.65)
    # entropy mean: 2/3 at 20, 2.3/3 at 30 -> 20 + 10 (0.7 - 2/3) / (2.3/3 - 2/3) = 23.33
    assert e.loc["entropy", "labels_needed"] == pytest.approx(20 + 10 / 3)
    assert e.loc["random", "labels_needed"] == 30 and e.loc["random", "saving"] == 0
    assert e.loc["learn_loss", "saving"] == pytest.approx(1 - (10 + 10 * 0.5 / 0.65) / 30)
    assert not e.loc["coreset", "reached"] and math.isnan(e.loc["coreset", "labels_needed"])


def test_label_efficiency_without_random_is_empty():
    acc = {k: v for k, v in ACC.items() if k != "random"}
    rows = stats.metric_rows(_frame(acc), {"toy": "accuracy"})
    assert stats.label_efficiency(stats.summarize(rows), "random", ORDER).empty
    assert list(stats.paired_aubc(rows, BASELINES, ORDER).baseline.unique()) == ["learn_loss"]


def test_rank_acc_summary_and_cost_table():
    frame = pd.DataFrame(
        [
            ("toy", "learn_loss", t, c, 10.0 * (c + 1), key, v, f"r{t}")
            for t in range(2)
            for c in range(2)
            for key, v in [
                ("eval/rank_acc/predicted_loss", 0.6 + 0.1 * c + 0.02 * t),
                ("eval/rank_acc/entropy", 0.7),
                ("time/train_s", 2.0 + t),
                *([("time/scan_s", 0.5), ("time/select_s", 0.1)] if c == 0 else []),
            ]
        ],
        columns=["task", "strategy", "trial", "cycle", "labeled", "metric", "value", "run_id"],
    )
    r = stats.rank_acc_summary(frame).set_index(["scorer", "cycle"])
    assert r.loc[("predicted_loss", 1), "mean"] == pytest.approx(0.71)
    assert r.loc[("predicted_loss", 1), "std"] == pytest.approx(np.std([0.7, 0.72], ddof=1))
    last = stats.rank_acc_last(stats.rank_acc_summary(frame), {("toy", "learn_loss", "entropy"): 1})
    assert set(last.scorer) == {"entropy", "predicted_loss"} and (last.cycle == 1).all()
    assert last.set_index("scorer").loc["entropy", "paper"] == 1
    c = stats.cost_table(frame).set_index("cycle")
    assert c.loc[0, "train_s"] == pytest.approx(2.5) and c.loc[0, "total_s"] == pytest.approx(3.1)
    assert math.isnan(c.loc[1, "scan_s"]) and c.loc[1, "total_s"] == pytest.approx(2.5)


def test_scatter_points_sample_highlight_and_correlations():
    rng = np.random.default_rng(1)
    loss = rng.exponential(size=5000)
    scores = pd.DataFrame({"loss": loss, "predicted_loss": loss + rng.normal(size=5000)})
    scores.loc[:9, "predicted_loss"] = np.nan  # rows without the score are dropped
    pts, n, pearson, spearman = stats.scatter_points(scores, "predicted_loss")
    full = scores.dropna()
    assert n == 4990 and len(pts) == 2000 and pts.top.sum() == 400  # top 20 % of the shown
    assert pearson == pytest.approx(sps.pearsonr(full.predicted_loss, full.loss).statistic)
    assert spearman == pytest.approx(sps.spearmanr(full.predicted_loss, full.loss).statistic)
    assert pts[pts.top].score.min() >= pts[~pts.top].score.max()
    again = stats.scatter_points(scores, "predicted_loss")[0]
    pd.testing.assert_frame_equal(pts, again)  # fixed seed
    small, n_small, *_ = stats.scatter_points(scores.iloc[10:110], "predicted_loss")
    assert len(small) == 100 == n_small and small.top.sum() == 20


def test_strategy_order_is_fixed():
    """The known (registry) order first, then the unknown names alphabetically."""
    assert stats.strategy_order(["zeta", "learn_loss", "random", "alpha"], ORDER) == [
        "random",
        "learn_loss",
        "alpha",
        "zeta",
    ]
    assert stats.strategy_order(["b", "a", "c"]) == ["a", "b", "c"]  # nothing known
    assert stats.strategy_order(["b", "a"], ["b", "b", "z"]) == ["b", "a"]


def test_tables_follow_the_given_order_and_baselines(rows):
    """Nothing in the tables is named in albench.report: another order and other baselines
    give other rows (here coreset first, compared with entropy only)."""
    order = ("coreset", "entropy", "learn_loss", "random")
    last = stats.last_cycle_table(stats.summarize(rows), None, order)
    assert list(last.strategy) == list(order)
    p = stats.paired_aubc(rows, ["entropy"], order)
    assert list(p.strategy) == ["coreset", "learn_loss", "random"] and set(p.baseline) == {
        "entropy"
    }
    e = stats.label_efficiency(stats.summarize(rows), "entropy", order).set_index("strategy")
    assert e.loc["entropy", "labels_needed"] == 30  # entropy's own final mean, at 30 labels
    assert stats.paired_cycles(rows, (), order).empty
