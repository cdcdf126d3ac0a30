"""albench.verdicts: the tests against scipy and brute force, and the rounds-until-decided
rule's error and power by simulation (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from albench import verdicts as v
from albench.report.stats import holm

# The decisive benchmark's family: random, entropy, coreset, learn_loss, learn_loss_mse,
# oracle_loss, lookahead_oracle; baselines random (column 0) and learn_loss (column 3): 11 pairs.
STRATEGIES = 7
BASELINES = (0, 3)
SAME = (0.0,) * STRATEGIES


def test_p_values_equal_scipys_paired_tests():
    """The paired t-test is ttest_rel; TOST is the larger of the two one-sided tests."""
    rng = np.random.default_rng(1)
    for n in (2, 3, 5, 12):
        x, y = rng.normal(size=n), rng.normal(size=n)
        assert v.ttest_p(x - y) == pytest.approx(stats.ttest_rel(x, y).pvalue, rel=1e-10)
        margin = 0.3
        lower = stats.ttest_rel(x + margin, y, alternative="greater").pvalue
        upper = stats.ttest_rel(x - margin, y, alternative="less").pvalue
        assert v.tost_p(x - y, margin) == pytest.approx(max(lower, upper), rel=1e-10)


def test_p_values_of_exact_and_too_few_differences():
    """No spread: the differences are exact; one pair: nothing can be said."""
    assert v.ttest_p([0.01, 0.01, 0.01]) == 0.0 and v.ttest_p([0.0, 0.0]) == 1.0
    assert v.tost_p([0.001, 0.001], 0.005) == 0.0 and v.tost_p([0.01, 0.01], 0.005) == 1.0
    assert v.ttest_p([0.5]) == 1.0 and v.tost_p([0.0], 1.0) == 1.0
    assert v.ttest_p([0.1, np.nan, 0.3, 0.2]) == pytest.approx(
        stats.ttest_1samp([0.1, 0.3, 0.2], 0).pvalue
    )


def test_holm_reject_matches_the_adjusted_p_values():
    """Rejected at level a exactly where Holm's adjusted p-value is <= a (brute force)."""
    rng = np.random.default_rng(2)
    for _ in range(200):
        p = rng.uniform(0, 0.1, size=rng.integers(1, 8))
        for level in (0.01, 0.05):
            assert (v.holm_reject(p, level) == (holm(p) <= level)).all()


def test_power_equals_monte_carlo():
    """The noncentral-t power of the paired t-test and TOST against 40,000 simulated tests."""
    rng = np.random.default_rng(3)
    for n, effect, level in ((5, 1.0, 0.05), (10, 0.8, 0.01), (20, 0.5, 0.0045)):
        d = rng.normal(effect, 1.0, size=(40_000, n))
        t = d.mean(1) / (d.std(1, ddof=1) / math.sqrt(n))
        mc = np.mean(np.abs(t) > stats.t.ppf(1 - level / 2, n - 1))
        assert v.paired_power(n, effect, level) == pytest.approx(mc, abs=0.01)
    n, effect, margin, level = 20, 0.1, 0.8, 0.05
    d = rng.normal(effect, 1.0, size=(40_000, n))
    se = d.std(1, ddof=1) / math.sqrt(n)
    crit = stats.t.ppf(1 - level, n - 1)
    both = ((d.mean(1) + margin) / se > crit) & ((d.mean(1) - margin) / se < -crit)
    assert v.tost_power(n, effect, margin, level) == pytest.approx(both.mean(), abs=0.01)


def test_trials_needed_and_minimum_detectable_effect_agree():
    """At the trials needed the power reaches 80 %, one fewer does not; the MDE at n is
    the effect that has 80 % power at n."""
    n, verdict = v.trials_needed(0.01, 0.02, 0.005, 0.05)  # outside the margin: a difference
    assert verdict == "better"
    assert v.paired_power(int(n), 0.5, 0.05) >= 0.8 > v.paired_power(int(n) - 1, 0.5, 0.05)
    n, verdict = v.trials_needed(-0.001, 0.004, 0.005, 0.05)  # inside: equivalence is nearer
    assert verdict == "equivalent"
    assert (
        v.tost_power(int(n), -0.25, 1.25, 0.05) >= 0.8 > v.tost_power(int(n) - 1, -0.25, 1.25, 0.05)
    )
    assert v.trials_needed(0.0, 1.0, 0.0, 0.05) == (math.inf, "")
    mde = v.minimum_detectable_effect(10, 0.02, 0.05)
    assert v.paired_power(10, mde / 0.02, 0.05) == pytest.approx(0.8, abs=1e-6)


def test_rounds_double_from_five_and_end_at_max_trials():
    assert v.rounds(20) == (5, 10, 20)
    assert v.rounds(30) == (5, 10, 20, 30)
    assert v.rounds(5) == (5,) and v.rounds(3) == (3,)
    with pytest.raises(ValueError):
        v.rounds(0)


def test_looks_spend_alpha_and_never_more():
    """The looks' levels add up to alpha (t/horizon)^rho; a fixed n is one look at alpha."""
    looks = v.Looks((5, 10, 20), 20)
    levels = [looks.level(k) for k in range(3)]
    assert levels == pytest.approx([0.05 / 16, 0.05 * 3 / 16, 0.05 * 12 / 16])
    assert sum(levels) == pytest.approx(0.05)
    assert v.Looks((5, 10), 20).level(1) == pytest.approx(0.05 / 4 - 0.05 / 16)
    assert v.Looks.fixed(3).level(0) == 0.05
    with pytest.raises(ValueError):
        v.Looks((10, 5), 20)


def test_decide_gives_each_verdict_where_it_belongs():
    """A large difference is better or worse, a tiny one within the margin equivalent, a
    noisy one inconclusive with what it would take; a decision keeps its look."""
    rng = np.random.default_rng(4)
    base = rng.normal(0.8, 0.02, size=10)
    values = np.stack(
        [
            base,
            base + 0.05 + rng.normal(0, 0.002, 10),  # better
            base - 0.05 + rng.normal(0, 0.002, 10),  # worse
            base + rng.normal(0, 0.0005, 10),  # equivalent within 0.005
            base + rng.normal(0, 0.05, 10),  # inconclusive
        ],
        axis=1,
    )
    out = v.decide(values, [(1, 0), (2, 0), (3, 0), (4, 0)], 0.005, v.Looks((5, 10), 10))
    assert [c.verdict for c in out] == ["better", "worse", "equivalent", "inconclusive"]
    assert [c.decided_at for c in out] == [5, 5, 5, 0]
    assert out[0].strategy == 1 and out[0].baseline == 0 and out[0].n == 5
    last = out[3]
    assert last.n == 10 and last.mde > 0 and last.needed > 10
    assert last.needed_verdict in ("better", "worse", "equivalent")
    assert math.isnan(out[0].mde)


def test_decide_pairs_by_trial_and_skips_missing_runs():
    """A trial missing for one side is left out of that comparison only."""
    values = np.array([[0.5, 0.6], [0.5, np.nan], [0.4, 0.5], [0.45, 0.56], [0.5, 0.59]])
    (c,) = v.decide(values, [(1, 0)], 0.01, v.Looks.fixed(5))
    assert c.n == 4 and c.mean_diff == pytest.approx(np.mean([0.1, 0.1, 0.11, 0.09]))


# ---------------------------------------------------------------------- the simulations
def test_a_a_comparisons_get_a_false_difference_in_at_most_alpha():
    """2,000 simulated experiments of seven identical strategies, 11 comparisons, rounds
    5, 10, 20: a false better/worse in at most alpha of them (family-wise)."""
    out = v.simulate(v.Design(SAME, BASELINES, 20), sims=2000, seed=5)
    assert out["family_false"] <= v.ALPHA
    assert out["mean_trials"] == 20  # a margin of 0.2 sd cannot be shown in 20 trials


def test_without_the_spending_or_the_correction_the_a_a_test_fails():
    """Testing every look at the full alpha, or each comparison alone, makes false
    differences more frequent than alpha: the rule needs both."""
    unspent = v.simulate(v.Design(SAME, BASELINES, 20), sims=1000, seed=5, spend=False)
    assert unspent["family_false"] > v.ALPHA
    # about a third of experiments (0.33 to 0.37 for seeds 5 to 8 at 150 simulations)
    alone = v.simulate(v.Design(SAME, BASELINES, 20), sims=150, seed=5, correct=False)
    assert alone["family_false"] > v.ALPHA


def test_a_difference_of_one_sd_is_decided_better_with_power_080():
    """One strategy 1 sd of the paired differences above the rest: decided better than
    random in at least 80 % of 1,000 experiments within 20 trials, while the comparisons
    without a difference stay within alpha."""
    effects = (0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    out = v.simulate(v.Design(effects, BASELINES, 20), sims=1000, seed=6)
    assert out["verdicts"][(2, 0)]["better"] >= 0.8
    assert out["family_false"] <= v.ALPHA


def test_false_equivalence_stays_within_alpha_at_the_margin():
    """A true difference exactly at the margin is called equivalent in at most alpha of
    1,000 experiments, while a true difference of 0 is shown equivalent in 80 % of them."""
    out = v.simulate(v.Design((0.0, 1.0, 0.0), (0,), 20, delta=1.0), sims=1000, seed=7)
    assert out["false_equivalent"] <= v.ALPHA
    assert out["verdicts"][(2, 0)]["equivalent"] >= 0.8


@pytest.mark.parametrize("effect", [0.0, 1.0])
def test_simulate_is_seeded(effect):
    design = v.Design((0.0, effect), (0,), 10)
    assert v.simulate(design, sims=50, seed=8) == v.simulate(design, sims=50, seed=8)


def test_comparison_family_mirrors_the_report():
    """simulate's pairs are the report's: every strategy vs each baseline, no mirror."""
    from albench.report.stats import _comparisons

    names = [str(i) for i in range(STRATEGIES)]
    expected = _comparisons(names, ["0", "3"], names)
    assert v.comparison_pairs("abc", "ba") == [("a", "b"), ("c", "b"), ("c", "a")]
    out = v.simulate(v.Design(SAME, BASELINES, 5), sims=1, seed=0)
    assert [(str(s), str(b)) for s, b in out["verdicts"]] == expected
    assert len(expected) == 11


def test_one_looks_verdicts_from_p_values():
    """Holm over each family: the smallest difference p decides first; TOST only where no
    difference is shown; NaN never rejects."""
    out = v.verdicts_of(
        [0.1, -0.2, 0.001, 0.05], [0.001, 0.01, 0.9, np.nan], [1.0, 1.0, 0.01, 0.01]
    )
    assert out == ["better", "worse", "equivalent", "equivalent"]
    assert v.verdicts_of([0.1, 0.1], [0.03, 0.03], [1, 1]) == ["inconclusive", "inconclusive"]


def test_welch_tost_equals_the_two_shifted_welch_tests():
    rng = np.random.default_rng(9)
    x, y = rng.normal(0.0, 1.0, 7), rng.normal(0.1, 2.0, 5)
    lower = stats.ttest_ind(x, y - 0.5, equal_var=False, alternative="greater").pvalue
    upper = stats.ttest_ind(x, y + 0.5, equal_var=False, alternative="less").pvalue
    assert v.welch_tost_p(x, y, 0.5) == pytest.approx(max(lower, upper), rel=1e-10)
    assert v.welch_tost_p([1.0], y, 0.5) == 1.0


def test_the_summary_says_whether_the_control_was_detected_and_what_the_loss_oracle_means():
    """One sentence per oracle from its AUBC verdicts: the look-ahead control is detected
    only when better than every baseline; another oracle's verdict against the first
    baseline says whether estimating its quantity can pay."""
    import types

    import pandas as pd

    from albench.report.data import StrategyInfo
    from albench.report.sections import _oracles_note

    infos = {
        "ahead": StrategyInfo("ahead", "look-ahead", oracle=True, lookahead=True),
        "true_loss": StrategyInfo("true_loss", "true loss", oracle=True),
        "mine": StrategyInfo("mine", "mine"),
    }

    def ctx(ahead: tuple[str, str], true_loss: str):
        rows = [
            ("ahead", "base", ahead[0]),
            ("ahead", "paper", ahead[1]),
            ("true_loss", "base", true_loss),
            ("mine", "base", "better"),
        ]
        frame = pd.DataFrame(
            [
                {"quantity": q, "strategy": s, "baseline": b, "verdict": v, "mean_diff": 0.01,
                 "n": 10, "needed": 40.0, "needed_verdict": "better", "decided_at": 10}
                for q in ("aubc", "last") for s, b, v in rows
            ]
        )  # fmt: skip
        return types.SimpleNamespace(verdicts=frame, info=infos.get, label=str.upper)

    notes = _oracles_note(ctx(("better", "better"), "worse"))
    assert len(notes) == 2  # the oracles only, each once (AUBC)
    assert notes[0].startswith("AHEAD, the positive control") and "**detected**." in notes[0]
    assert "vs BASE +0.0100 (n = 10): **better (decided at 10 trials)**" in notes[0]
    assert notes[1].startswith("TRUE_LOSS, an oracle")
    assert "Against BASE, picking by it exactly loses" in notes[1]
    notes = _oracles_note(ctx(("better", "inconclusive"), "equivalent"))
    assert "**not detected**" in notes[0] and "inconclusive, needs about 40 trials" in notes[0]
    assert "does no better than the baseline" in notes[1]
    assert "can pay on this task" in _oracles_note(ctx(("better", "better"), "better"))[1]
