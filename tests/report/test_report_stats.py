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


def test_aubc_table_and_its_interval(rows):
    t = stats.aubc_table(rows, ORDER).set_index("strategy")
    # random: every trial 0.6 -> a zero-width range at 0.6
    assert t.loc["random", "aubc"] == pytest.approx(0.6)
    assert t.loc["random", "ci_low"] == t.loc["random", "ci_high"] == pytest.approx(0.6)
    assert (t.ci_method == "range").all()  # 3 trials: the range, never called a CI
    # learn_loss: 0.7, 0.75, 0.7375
    per = np.array([0.7, 0.75, 0.7375])
    assert t.loc["learn_loss", "aubc"] == pytest.approx(per.mean())
    assert t.loc["learn_loss", "std"] == pytest.approx(per.std(ddof=1))
    lo, hi = t.loc["learn_loss", ["ci_low", "ci_high"]]
    assert (lo, hi) == pytest.approx((0.7, 0.75))
    assert t.loc["learn_loss", "labeled_from"] == 10 and t.loc["learn_loss", "labeled_to"] == 30


def test_mean_ci_is_a_t_interval_from_five_values_and_a_range_below():
    assert stats.mean_ci([0.3, 0.1]) == pytest.approx((0.1, 0.3, "range"))
    assert stats.mean_ci([0.2, 0.9, np.nan, 0.4, 0.5]) == pytest.approx((0.2, 0.9, "range"))
    lo, hi, method = stats.mean_ci([0.5])
    assert math.isnan(lo) and math.isnan(hi) and method == ""
    v = np.array([0.61, 0.64, 0.58, 0.66, 0.60])
    half = 2.7764451051977987 * v.std(ddof=1) / math.sqrt(5)  # t(0.975, 4) from a table
    assert stats.mean_ci(v) == pytest.approx((v.mean() - half, v.mean() + half, "t95"))


def test_holm_against_a_hand_computation():
    # sorted: 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> the
    # running maximum 0.02, 0.03, 0.06, 0.06; back in the input order:
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # NaNs are not tests: m = 2 here; capped at 1
    got = stats.holm([math.nan, 0.5, 0.2])
    assert math.isnan(got[0]) and list(got[1:]) == pytest.approx([0.5, 0.4])
    assert stats.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])
    assert stats.holm([0.03]) == pytest.approx([0.03]) and len(stats.holm([])) == 0


def test_paired_tables_carry_holm_and_effect_sizes(rows):
    p = stats.paired_aubc(rows, BASELINES, ORDER)
    assert p.t_p_holm.to_numpy() == pytest.approx(stats.holm(p.t_p.to_numpy()), nan_ok=True)
    tested = p.dropna(subset=["t_p"])
    assert (tested.t_p_holm >= tested.t_p).all() and (p.wilcoxon_p_holm >= p.wilcoxon_p).all()
    c = stats.paired_cycles(rows, BASELINES, ORDER)
    for _, g in c.groupby("cycle"):  # one family per cycle
        assert g.t_p_holm.to_numpy() == pytest.approx(stats.holm(g.t_p.to_numpy()), nan_ok=True)
    assert {"mean_diff", "ci_low", "ci_high", "ci_method"} <= set(c.columns)


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
    assert "smallest possible p is 0.25 with 3 non-zero differences" in res["note"]
    assert (res["ci_low"], res["ci_high"], res["ci_method"]) == pytest.approx((0.1, 0.25, "range"))


def test_paired_test_says_when_n_is_too_small():
    one = stats.paired_test([0.9], [0.8])
    assert math.isnan(one["t_p"]) and math.isnan(one["wilcoxon_p"]) and "n=1" in one["note"]
    same = stats.paired_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert math.isnan(same["t"]) and "all differences zero" in same["note"]
    shift = stats.paired_test([0.6, 0.7, 0.8], [0.5, 0.6, 0.7])  # constant difference
    assert math.isnan(shift["t"]) and "t undefined" in shift["note"]
    two = stats.paired_test([0.9, 0.8], [0.7, 0.75])
    assert "1 degree of freedom" in two["note"] and "smallest possible p is 0.5" in two["note"]
    many = stats.paired_test(np.arange(8) + 1.0, np.zeros(8))
    assert many["wilcoxon_p"] == pytest.approx(2 / 2**8) and "smallest" not in many["note"]
    assert many["ci_method"] == "t95" and many["ci_low"] < 4.5 < many["ci_high"]


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
    # d = 0, 0.1, 0: no Wilcoxon p can be below 1
    assert "smallest possible p is 1 with 1 non-zero difference " in first.note


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
    # learn_loss mean: 1.6/3 at 10, 0.75 at 20: first measured budget reaching 0.7 is 20;
    # interpolated 10 + 10 (0.7 - 1.6/3) / (0.75 - 1.6/3)
    assert e.loc["learn_loss", "labels_needed"] == 20
    assert e.loc["learn_loss", "labels_interpolated"] == pytest.approx(10 + 10 * 0.5 / 0.65)
    # entropy mean: 2/3 at 20, 2.3/3 at 30 -> 30 measured, 20 + 10 (0.7 - 2/3) / (2.3/3 - 2/3)
    assert e.loc["entropy", "labels_needed"] == 30
    assert e.loc["entropy", "labels_interpolated"] == pytest.approx(20 + 10 / 3)
    assert e.loc["random", "labels_needed"] == 30 and e.loc["random", "saving"] == 0
    assert e.loc["learn_loss", "saving"] == pytest.approx(1 - 20 / 30)
    assert all(float(v).is_integer() for v in e.labels_needed.dropna())  # labels, not 156.9
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
    scores["entropy"] = loss * 0.5 + rng.uniform(size=5000)
    scores.loc[:9, "predicted_loss"] = np.nan  # rows without the score are dropped
    pts, n, pearson, spearman = stats.scatter_points(scores, "predicted_loss")
    full = scores.dropna()
    assert n == 4990 and len(pts) <= 2000
    assert pearson == pytest.approx(sps.pearsonr(full.predicted_loss, full.loss).statistic)
    assert spearman == pytest.approx(sps.spearmanr(full.predicted_loss, full.loss).statistic)
    # the top 20 % of *all* 4,990 test samples by the score: 998 of them, the shown ones
    # among them highlighted
    cut = np.sort(full.predicted_loss.to_numpy())[-998]
    assert (pts.top == (pts.score >= cut)).all() and 300 < pts.top.sum() < 500
    again = stats.scatter_points(scores, "predicted_loss")[0]
    pd.testing.assert_frame_equal(pts, again)  # fixed seed
    # the same test samples in every panel of one model: the sample ignores the score
    ent = stats.scatter_points(scores, "entropy")[0]
    assert len(ent) == 2000 and set(pts.loss) <= set(ent.loss)
    small, n_small, *_ = stats.scatter_points(scores.iloc[10:110], "predicted_loss")
    assert len(small) == 100 == n_small and small.top.sum() == 20


def test_a_scorer_is_degenerate_when_its_order_is_rounding_noise_not_when_offset():
    rng = np.random.default_rng(0)
    # stickmen's entropy: about 5.54 nats, varying in the fourth digit, a real order
    offset = (5.539 + 0.004 * rng.uniform(size=300)).astype(np.float32)
    spread = stats.score_spread(offset)
    assert not spread["degenerate"] and spread["relative"] < 1e-3 and spread["ulps"] > 5000
    # values that differ only in their last bits: 5.54 plus 0 to 3 float32 steps
    step = float(np.spacing(np.float32(5.54)))
    flat = np.float32(5.54) + step * rng.integers(0, 4, size=300)
    assert len(np.unique(flat)) == 4
    spread = stats.score_spread(flat)
    assert spread["degenerate"] and spread["ulps"] <= stats.DEGENERATE_ULPS
    assert stats.score_spread(np.full(50, 0.0))["degenerate"]  # a constant, even at 0
    assert stats.score_spread([1.0, 1.0, np.nan])["degenerate"]
    healthy = stats.score_spread(rng.exponential(size=300))
    assert not healthy["degenerate"] and healthy["relative"] > 0.5
    small = stats.score_spread(1e-4 * rng.normal(size=300))  # tiny but spread around 0
    assert not small["degenerate"]
    # per run, then per (strategy, scorer): flagged when more than half the trials are
    runs = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d"],
            "task": "toy",
            "strategy": ["s", "s", "s", "t"],
            "trial": [0, 1, 2, 0],
        }
    )
    csv = {
        r: pd.DataFrame({"index": range(300), "loss": rng.exponential(size=300)}) for r in "abcd"
    }
    for r, values in [("a", flat), ("b", flat), ("c", rng.exponential(size=300))]:
        csv[r]["entropy"] = values
    csv["d"]["entropy"] = rng.exponential(size=300)
    csv["d"]["margin"] = np.nan  # an empty column is no score
    sp = stats.scorer_spreads(csv, runs)
    assert list(sp.degenerate) == [True, True, False, False]
    d = stats.degenerate_table(sp).set_index(["strategy", "scorer"])
    assert bool(d.loc[("s", "entropy"), "degenerate"]) and not d.loc[("t", "entropy"), "degenerate"]
    assert (
        d.loc[("s", "entropy"), "degenerate_trials"] == 2 and d.loc[("s", "entropy"), "trials"] == 3
    )


def test_paper_check_verdicts_follow_the_stated_rule(rows):
    frame = pd.concat([_frame(), _rank_rows()], ignore_index=True)
    paper = {
        "metric": {
            "random": (0.70, "§x, Fig. 1"),  # measured 0.7 +/- 0.1: within
            "learn_loss": (0.50, "§x, Fig. 1"),  # 0.8833 +/- 0.029: tol max(0.058, 0.01)
            "coreset": (0.505, "§x"),  # 0.5 +/- 0: tolerance 0.01: within
            "absent": (0.9, "§x"),  # no runs
        },
        "rank_acc/predicted_loss": {"learn_loss": (0.66, "§x, Fig. 5 (about)")},
    }
    c = stats.paper_check(frame, "accuracy", paper).set_index(["quantity", "strategy"])
    assert c.loc[("metric", "random"), "verdict"] == "within tolerance"
    assert c.loc[("metric", "random"), "tolerance"] == pytest.approx(0.2)  # 2 x std 0.1
    assert c.loc[("metric", "learn_loss"), "verdict"] == "above the paper"
    assert c.loc[("metric", "coreset"), "tolerance"] == pytest.approx(0.01)
    assert c.loc[("metric", "coreset"), "verdict"] == "within tolerance"
    assert c.loc[("metric", "absent"), "verdict"] == "not measured"
    # 0.70, 0.71, 0.72 measured: std 0.01 -> the "about" floor 0.05 applies
    r = c.loc[("rank_acc/predicted_loss", "learn_loss")]
    assert r.measured == pytest.approx(0.71) and r.tolerance == pytest.approx(0.05)
    assert r.verdict == "within tolerance" and bool(r.approximate)


def _rank_rows() -> pd.DataFrame:
    rows = [
        (
            "toy",
            "learn_loss",
            t,
            2,
            30.0,
            "eval/rank_acc/predicted_loss",
            0.70 + 0.01 * t,
            f"ll-{t}",
        )
        for t in range(3)
    ]
    cols = ["task", "strategy", "trial", "cycle", "labeled", "metric", "value", "run_id"]
    return pd.DataFrame(rows, columns=cols)


def test_paper_ordering_under_paired_tests(rows):
    # the paper: learn_loss > entropy > random > coreset
    published = {"learn_loss": 0.91, "entropy": 0.90, "random": 0.88, "coreset": 0.87}
    o = stats.paper_ordering(rows, published).set_index(["higher", "lower"])
    assert len(o) == 6  # every pair of the paper's order
    assert o.t_p_holm.to_numpy() == pytest.approx(stats.holm(o.t_p.to_numpy()), nan_ok=True)
    # last cycle: learn_loss 0.9, 0.9, 0.85 vs coreset 0.5 x 3: d = 0.4, 0.4, 0.35
    row = o.loc[("learn_loss", "coreset")]
    assert row.mean_diff == pytest.approx(1.15 / 3) and row.verdict == "holds"
    # entropy 0.75, 0.85, 0.70 vs random 0.7, 0.8, 0.6: +0.0667, p > 0.05
    assert o.loc[("entropy", "random"), "verdict"] == "same direction, not significant"
    # random vs coreset: 0.7, 0.8, 0.6 vs 0.5: holds or not by Holm; its sign is right
    assert o.loc[("random", "coreset"), "mean_diff"] > 0
    flipped = stats.paper_ordering(rows, {"coreset": 0.9, "learn_loss": 0.8})
    assert flipped.verdict.iloc[0] == "reversed (significant)"


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


def test_scenario_check_decides_each_expectation_in_its_own_family():
    """Strategy a is 0.05 above b in every one of 8 trials (with a little spread), c equals
    b: 'a better than b' is confirmed, 'c better than b' contradicted (decided equivalent
    within 0.01), 'b better than a' contradicted (decided worse), and an expectation
    naming a strategy with no runs is 'not run'."""
    import pandas as pd

    from albench.report.stats import expectation_table

    rng = np.random.default_rng(0)
    rows = []
    for trial in range(8):
        base = rng.normal(0.6, 0.05, 3)
        for s, shift in (("a", 0.05), ("b", 0.0), ("c", 0.0)):
            for cycle in range(3):
                noise = rng.normal(0, 0.002) if s != "b" else 0.0
                rows.append(
                    {"task": "t", "strategy": s, "trial": trial, "cycle": cycle}
                    | {"labeled": 10 * (cycle + 1), "value": base[cycle] + shift + noise}
                    | {"run_id": f"{s}{trial}", "metric": "eval/m"}
                )
    rows = pd.DataFrame(rows)
    known = {
        "t": [
            {"strategy": "a", "baseline": "b", "verdicts": ["better"], "source": "S"},
            {"strategy": "c", "baseline": "b", "verdicts": ["better"], "source": "S"},
            {"strategy": "b", "baseline": "a", "verdicts": ["better"], "source": "S"},
            {"strategy": "z", "baseline": "b", "verdicts": ["better"], "source": "S"},
        ]
    }
    table = expectation_table(rows, known, {"t": 0.01}, {"t": None})
    assert table.outcome.tolist() == ["confirmed", "contradicted", "contradicted", "not run"]
    assert table.verdict.tolist()[:3] == ["better", "equivalent", "worse"]
    assert table.expected.tolist() == ["better"] * 4 and set(table.source) == {"S"}
    assert table.n.tolist()[:3] == [8, 8, 8]


def _summary_context(frame: pd.DataFrame, n_test: int = 497):
    """What the summary's rules read of a task's context, for two strategies."""
    from types import SimpleNamespace

    from albench.report.data import StrategyInfo

    runs = pd.DataFrame({"run_id": ["r0"], "strategy": ["a"], "trial": [0]})
    empty = pd.DataFrame(columns=["quantity", "strategy", "baseline"])
    return SimpleNamespace(
        task="toy", frame=frame, runs=runs, order=[],
        data=SimpleNamespace(test_scores={"r0": pd.DataFrame({"loss": np.zeros(n_test)})}),
        metric=SimpleNamespace(label="accuracy"),
        last=pd.DataFrame({"strategy": ["a", "b"], "mean": [0.9839, 0.9832], "std": [0.01, 0.01]}),
        info=lambda s: StrategyInfo(s, s), label=lambda s: s, verdicts=empty,
    )  # fmt: skip


def test_the_summary_calls_a_difference_below_one_test_item_a_tie():
    from albench.report.sections import _highest

    ctx = _summary_context(pd.DataFrame(columns=["strategy", "metric", "cycle", "value"]))
    au = pd.DataFrame({"strategy": ["a", "b"], "aubc": [0.9839, 0.9832], "n": [3, 3],
                       "labeled_from": [40, 40], "labeled_to": [240, 240]})  # fmt: skip
    said = _highest(ctx, au)  # 0.0007 apart: less than 1/497 = 0.0020
    assert "a tie with b (0.9832): they differ by less than one test item (1/497" in said
    au.loc[1, "aubc"] = 0.97
    assert "tie" not in _highest(ctx, au)


def test_the_summary_says_at_chance_for_a_ranking_accuracy_within_noise_of_one_half():
    from albench.report.sections import _rank_acc_interval

    def frame(values):
        return pd.DataFrame({"strategy": "a", "metric": "eval/rank_acc/entropy", "cycle": 5,
                             "value": values})  # fmt: skip

    lo, hi, method = _rank_acc_interval(_summary_context(frame([0.51, 0.55, 0.49])), "a", "entropy")
    assert method == "range" and lo <= 0.5 <= hi  # shapes' 0.527 +- 0.020 over 3 trials
    lo, hi, _ = _rank_acc_interval(_summary_context(frame([0.65, 0.70, 0.73])), "a", "entropy")
    assert lo > 0.5


def test_the_summary_warns_when_most_cycles_had_not_reached_a_plateau():
    from albench.report.sections import _plateau_note

    def frame(values):
        return pd.DataFrame({"strategy": "a", "metric": "train/plateau", "cycle": 0,
                             "value": values})  # fmt: skip

    assert "on 75% of the cycles" in _plateau_note(_summary_context(frame([-0.3, 0.2, -0.15, 0.0])))
    assert _plateau_note(_summary_context(frame([-0.05, 0.02, -0.3]))) == ""
