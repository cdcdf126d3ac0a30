"""Verdicts: what a comparison of two strategies concludes, and when to stop adding trials.

A comparison is one strategy against one baseline on one task and one quantity (the area
under the budget curve, AUBC, or the metric at the last cycle), paired by trial: trials
share seeds across strategies (Yoo & Kweon 2019, §4), so the per-trial differences
d_1..d_n are what is tested. It ends in one of four verdicts:

- **better** / **worse**: the paired t-test rejects "no difference" (two-sided) after
  Holm's step-down correction over the task's comparisons (Holm 1979);
- **equivalent**: two one-sided paired t-tests (TOST, Schuirmann 1987) reject both
  "difference <= -delta" and "difference >= +delta", Holm-corrected the same way; the
  margin delta is the smallest difference that matters, declared by the task's metric
  (:attr:`albench.contracts.Task.equivalence_margin`: 0.005 accuracy, 0.01 mAP or PCKh)
  and overridable per task in a benchmark file (``[tasks.NAME] equivalence_margin = ...``);
- **inconclusive**: neither. It comes with the *minimum detectable effect* at its n (the
  true difference a paired t-test at the Bonferroni level alpha / m would detect with
  80 % power, given the observed spread) and the *trials needed* to decide the observed
  difference with 80 % power: as better/worse when it lies outside the margin, as
  equivalent when inside (whichever needs fewer).

**Rounds of trials.** With ``trials = "auto"`` a task runs trials in rounds (5, 10, 20,
... up to ``max_trials``: :func:`rounds`) and the comparisons are tested after every round
(a *look*). Testing repeatedly at the full alpha would inflate the error (five looks at
0.05 give about 0.14 false decisions). Each look k instead spends its share of alpha from
the power-family spending function of Kim & DeMets (1987), alpha(t) = alpha t^rho with
t = n_k / max_trials and rho = :data:`RHO` (between Pocock-like rho = 1 and O'Brien-Fleming-
like rho = 3), and tests at a_k = alpha(t_k) - alpha(t_{k-1}). Since a_1 + ... + a_K <= alpha,
the Bonferroni inequality over the looks bounds the chance of any false better/worse (and,
separately, of any false equivalent) by alpha, for every stopping rule, without the
normal-theory approximations of exact group-sequential boundaries (which the small n of
the first rounds would stretch). Holm's correction at each look keeps every hypothesis not
yet rejected in the family, so that this bound holds for the whole family. A comparison
decided at a look keeps its verdict; the task stops when every planned comparison has one,
or at ``max_trials``. With a fixed number of trials there is one look, at the full alpha.
The simulations in ``tests/test_verdicts.py`` show both bounds and the power.

Pure functions of numbers (numpy, scipy): the report and the runner share them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

__all__ = [
    "ALPHA",
    "FIRST_ROUND",
    "POWER",
    "RHO",
    "VERDICTS",
    "Comparison",
    "Design",
    "comparison_pairs",
    "Looks",
    "decide",
    "holm_reject",
    "looks_for",
    "minimum_detectable_effect",
    "paired_power",
    "rounds",
    "tost_p",
    "tost_power",
    "trials_needed",
    "ttest_p",
    "verdicts_of",
    "welch_tost_p",
]

ALPHA = 0.05  # family-wise error of the better/worse verdicts (and of the equivalent ones)
POWER = 0.8  # the power the minimum detectable effect and the trials needed refer to
RHO = 2.0  # exponent of the spending function alpha t^rho (Kim & DeMets 1987)
FIRST_ROUND = 5  # trials of the first round: the fewest that give a Student-t CI (report)
MAX_TRIALS_NEEDED = 10_000  # "trials needed" beyond this is reported as infinite
VERDICTS = ("better", "worse", "equivalent", "inconclusive")


def comparison_pairs(names: Sequence[Any], baselines: Sequence[Any]) -> list[tuple[Any, Any]]:
    """The family of comparisons: every one of ``names`` (in their order) vs each of
    ``baselines`` present (in theirs), never with itself and without the mirror image of a
    pair already made (B vs A for baselines A, B; not also A vs B)."""
    bases = [b for b in baselines if b in names]
    return [(s, b) for i, b in enumerate(bases) for s in names if s != b and s not in bases[:i]]


def rounds(max_trials: int, first: int = FIRST_ROUND) -> tuple[int, ...]:
    """Trial counts after each round: ``first``, doubling, the last capped at ``max_trials``
    (5, 10, 20 for 20; 5, 10, 20, 30 for 30; just ``max_trials`` when it is <= ``first``)."""
    if max_trials < 1:
        raise ValueError(f"max_trials = {max_trials} is invalid: expected at least 1")
    out, n = [], first
    while n < max_trials:
        out.append(n)
        n *= 2
    return (*out, max_trials)


@dataclass(frozen=True)
class Looks:
    """When the comparisons are tested and at which level.

    ``at``: trial counts of the looks so far (increasing); ``horizon``: the trial count
    the alpha is spent over (``max_trials``; for a fixed number of trials, that number).
    """

    at: tuple[int, ...]
    horizon: int
    alpha: float = ALPHA
    rho: float = RHO

    def __post_init__(self) -> None:
        if not self.at or list(self.at) != sorted(set(self.at)) or self.at[-1] > self.horizon:
            raise ValueError(f"looks {self.at} must increase and end at most at {self.horizon}")

    @classmethod
    def fixed(cls, n: int, alpha: float = ALPHA) -> Looks:
        """One look after all ``n`` trials, at the full alpha."""
        return cls((n,), n, alpha)

    def spent(self, n: int) -> float:
        """Alpha spent by the time ``n`` trials are in: alpha (n / horizon)^rho."""
        return self.alpha * min(1.0, n / self.horizon) ** self.rho

    def level(self, k: int) -> float:
        """The level look ``k`` (0-based) tests at: its increment of the spent alpha."""
        before = self.spent(self.at[k - 1]) if k else 0.0
        return self.spent(self.at[k]) - before


def looks_for(present: int, max_trials: int | None) -> Looks:
    """The looks an experiment with ``present`` trials made: one at ``present`` for a fixed
    number of trials (``max_trials`` None); for rounds, every round boundary of
    :func:`rounds` that the trials reached (the first ``present`` itself if none did: an
    interrupted first round, tested at the alpha its share of the trials has spent)."""
    if max_trials is None:
        return Looks.fixed(present)
    done = tuple(r for r in rounds(max_trials) if r <= present)
    return Looks(done or (min(present, max_trials),), max_trials)


# --------------------------------------------------------------------------- tests
def _columns(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n, mean and sample std (ddof 1; NaN below 2) of each column of ``d``, NaNs left out."""
    ok = ~np.isnan(d)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, d, 0.0).sum(axis=0) / n
        sq = np.where(ok, (d - mean) ** 2, 0.0).sum(axis=0)
        sd = np.sqrt(sq / (n - 1))
    return n, mean, np.where(n > 1, sd, np.nan)


def _exact(mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """All differences equal up to rounding: t is undefined, the data are exact."""
    return sd <= 1e-12 * np.maximum(1.0, np.abs(mean))


def _p_values(d: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column of differences ``d`` (pairs x comparisons, NaN where missing): the
    two-sided paired t-test p of "mean = 0" and the TOST p of equivalence within
    +-``delta`` (the larger of the one-sided p-values of "mean <= -delta" and "mean >=
    +delta"). Fewer than 2 pairs: 1 and 1. All differences equal: 0 if they are not 0
    (else 1), and 0 if they lie inside the margin (else 1): the data show them exactly."""
    n, mean, sd = _columns(d)
    t_p, e_p = np.ones(len(n)), np.ones(len(n))
    exact = (n >= 2) & _exact(mean, sd)
    t_p[exact] = np.where(np.abs(mean[exact]) > 1e-12, 0.0, 1.0)
    e_p[exact] = np.where(np.abs(mean[exact]) < delta, 0.0, 1.0)
    ok = (n >= 2) & ~exact
    df, se = n[ok] - 1, sd[ok] / np.sqrt(n[ok])
    t_p[ok] = 2 * stats.t.sf(np.abs(mean[ok]) / se, df)
    lower = stats.t.sf((mean[ok] + delta) / se, df)  # H0: mean <= -delta
    upper = stats.t.cdf((mean[ok] - delta) / se, df)  # H0: mean >= +delta
    e_p[ok] = np.maximum(lower, upper)
    return t_p, e_p


def ttest_p(d: Sequence[float]) -> float:
    """Two-sided p of the paired t-test of "mean difference = 0" (see :func:`_p_values`)."""
    return float(_p_values(np.asarray(d, float)[:, None], 0.0)[0][0])


def tost_p(d: Sequence[float], delta: float) -> float:
    """p of TOST, equivalence within +-``delta`` (see :func:`_p_values`)."""
    return float(_p_values(np.asarray(d, float)[:, None], delta)[1][0])


def holm_reject(pvalues: Sequence[float], level: float) -> np.ndarray:
    """Holm's step-down test at ``level``: sorted ascending, reject while the i-th smallest
    (0-based) is <= level / (m - i); a boolean per p-value, in the input's order."""
    p = np.asarray(pvalues, float)
    reject = np.zeros(len(p), bool)
    for i, j in enumerate(np.argsort(p, kind="stable")):
        if not p[j] <= level / (len(p) - i):
            break
        reject[j] = True
    return reject


# ---------------------------------------------------------------------- power, planning
def paired_power(n: int, effect: float, level: float) -> float:
    """Power of the two-sided paired t-test at ``level`` with ``n`` pairs when the true
    mean difference is ``effect`` standard deviations of the differences (noncentral t)."""
    if n < 2:
        return 0.0
    df, nc = n - 1, abs(effect) * math.sqrt(n)
    crit = stats.t.ppf(1 - level / 2, df)
    return min(1.0, _above(crit, df, nc) + _above(crit, df, -nc))


def _above(x: float, df: int, nc: float) -> float:
    """P(T > x) for a noncentral t with ``df`` degrees of freedom and noncentrality ``nc``;
    where scipy gives NaN (far in a tail), the normal approximation P(Z > x - nc)."""
    p = float(stats.nct.sf(x, df, nc))
    return min(1.0, max(0.0, p)) if math.isfinite(p) else float(stats.norm.sf(x - nc))


def tost_power(n: int, effect: float, delta: float, level: float) -> float:
    """Power of TOST at ``level`` (each one-sided test) with ``n`` pairs, true mean
    difference ``effect`` and margin ``delta``, both in standard deviations of the
    differences: P(both one-sided tests reject) >= P(one) + P(other) - 1, the bound used."""
    if n < 2 or abs(effect) >= delta:
        return 0.0
    df, root = n - 1, math.sqrt(n)
    crit = stats.t.ppf(1 - level, df)
    nc_above, nc_below = (effect + delta) * root, (effect - delta) * root
    above = _above(crit, df, nc_above)  # rejects "<= -delta"
    below = _above(crit, df, -nc_below)  # rejects ">= +delta": P(T < -crit) by symmetry
    return float(max(0.0, above + below - 1.0))


def _smallest_n(power, target: float = POWER) -> float:
    """The smallest n >= 2 with power(n) >= target (power increases with n), else inf."""
    if power(MAX_TRIALS_NEEDED) < target:
        return math.inf
    lo, hi = 1, MAX_TRIALS_NEEDED  # power(lo) < target <= power(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if power(mid) >= target else (mid, hi)
    return float(hi)


def trials_needed(mean: float, sd: float, delta: float, level: float) -> tuple[float, str]:
    """Trials (pairs) a fixed-sample test at ``level`` needs to decide a true difference
    ``mean`` with spread ``sd`` at 80 % power, and the verdict it would reach: better or
    worse (paired t) when |mean| >= delta, else the fewer of that and equivalent (TOST).
    (inf, "") when nothing within 10,000 trials would."""
    if math.isnan(sd) or math.isnan(mean):
        return math.nan, ""
    if _exact(np.array(mean), np.array(sd)):
        return 2.0, "better" if mean > 0 else "worse" if mean < 0 else "equivalent"
    effect, m = mean / sd, delta / sd
    options = [(_smallest_n(lambda n: paired_power(n, effect, level)), _sign(mean))]
    if abs(mean) < delta:
        options.append((_smallest_n(lambda n: tost_power(n, effect, m, level)), "equivalent"))
    n, verdict = min(options)
    return (n, verdict) if math.isfinite(n) else (math.inf, "")


def _sign(mean: float) -> str:
    return "better" if mean > 0 else "worse"


def minimum_detectable_effect(n: int, sd: float, level: float) -> float:
    """The true mean difference a two-sided paired t-test at ``level`` with ``n`` pairs
    detects with 80 % power when the differences' std is ``sd`` (NaN below 2 pairs)."""
    if n < 2 or math.isnan(sd):
        return math.nan
    if sd == 0:
        return 0.0
    hi = 1.0
    while paired_power(n, hi, level) < POWER:
        hi *= 2
    effect = optimize.brentq(lambda e: paired_power(n, e, level) - POWER, 0.0, hi)
    return float(effect * sd)


# ------------------------------------------------------------------------- the verdicts
@dataclass(frozen=True)
class Comparison:
    """One comparison's verdict and the numbers behind it (at the look that decided it,
    else at the last look)."""

    strategy: int  # column of ``values``
    baseline: int  # column of ``values``
    verdict: str  # one of VERDICTS
    n: int  # pairs at that look
    mean_diff: float  # strategy - baseline
    sd: float  # sample std of the paired differences
    t_p: float  # two-sided paired t-test p (uncorrected)
    tost_p: float  # equivalence p (uncorrected)
    level: float  # the alpha that look tested at, before Holm's division
    decided_at: int  # trial count of the deciding look; 0 when inconclusive
    mde: float  # minimum detectable effect at n (inconclusive only; else NaN)
    needed: float  # trials needed to decide the observed difference (inconclusive only)
    needed_verdict: str  # what those trials would decide


def decide(
    values: np.ndarray,
    comparisons: Sequence[tuple[int, int]],
    delta: float,
    looks: Looks,
    explain: bool = True,
) -> list[Comparison]:
    """The verdict of every comparison of one task and one quantity.

    ``values``: (trials, strategies) array, NaN where a run is missing, rows in trial order
    (row i is trial i); ``comparisons``: (strategy column, baseline column) pairs, the
    family of Holm's correction; ``looks``: when they are tested (see the module
    docstring). At each look the first ``n_k`` trials are used, pairs with both values.
    ``explain``: compute the minimum detectable effect and trials needed of the
    inconclusive ones (False leaves them NaN: simulations that need the verdicts only).
    """
    values = np.asarray(values, float)
    m = len(comparisons)
    open_diff, open_equiv = np.ones(m, bool), np.ones(m, bool)  # not yet rejected
    decided: dict[int, tuple[str, int, int]] = {}  # comparison -> (verdict, look, n)
    snapshots: list[list[tuple[int, float, float, float, float]]] = []
    pairs = np.stack([values[:, s] - values[:, b] for s, b in comparisons], axis=1)
    for k, n_k in enumerate(looks.at):
        d = pairs[:n_k]  # (n_k, m)
        t_p, e_p = _p_values(d, delta)
        n, mean, sd = _columns(d)
        snap = list(
            zip(n.tolist(), mean.tolist(), sd.tolist(), t_p.tolist(), e_p.tolist(), strict=True)
        )
        snapshots.append(snap)
        level = looks.level(k)
        diff = _reject_open(t_p, open_diff, level)
        equiv = _reject_open(e_p, open_equiv, level)
        open_diff &= ~diff
        open_equiv &= ~equiv
        for i, verdict in enumerate(_verdicts(mean, diff, equiv)):
            if i not in decided and verdict != "inconclusive":
                decided[i] = (verdict, k, n_k)
    out = []
    last = len(looks.at) - 1
    for i, (s, b) in enumerate(comparisons):
        verdict, k, at = decided.get(i, ("inconclusive", last, 0))
        n, mean, sd, t_p, e_p = snapshots[k][i]
        mde = needed = math.nan
        needed_verdict = ""
        if verdict == "inconclusive" and explain:
            bonferroni = looks.alpha / m
            mde = minimum_detectable_effect(n, sd, bonferroni)
            needed, needed_verdict = trials_needed(mean, sd, delta, bonferroni)
        out.append(
            Comparison(
                strategy=s,
                baseline=b,
                verdict=verdict,
                n=n,
                mean_diff=mean,
                sd=sd,
                t_p=t_p,
                tost_p=e_p,
                level=looks.level(k),
                decided_at=at,
                mde=mde,
                needed=needed,
                needed_verdict=needed_verdict,
            )
        )
    return out


def verdicts_of(
    mean_diff: Sequence[float], t_p: Sequence[float], tost_p: Sequence[float], level: float = ALPHA
) -> list[str]:
    """One look's verdicts from its p-values, Holm at ``level`` over each family (the
    difference tests, the equivalence tests): better/worse where the difference test
    rejects, else equivalent where TOST does, else inconclusive. NaN p-values never
    reject."""
    t_p = np.nan_to_num(np.asarray(t_p, float), nan=1.0)
    tost_p = np.nan_to_num(np.asarray(tost_p, float), nan=1.0)
    return _verdicts(mean_diff, holm_reject(t_p, level), holm_reject(tost_p, level))


def _verdicts(mean_diff: Sequence[float], diff: np.ndarray, equiv: np.ndarray) -> list[str]:
    """better/worse (by the sign of the mean) where the difference test rejected, else
    equivalent where TOST did, else inconclusive."""
    return [
        _sign(m) if d else "equivalent" if e else "inconclusive"
        for m, d, e in zip(mean_diff, diff, equiv, strict=True)
    ]


def welch_tost_p(x: Sequence[float], y: Sequence[float], delta: float) -> float:
    """TOST for unpaired samples (Welch): the larger of the p-values of "mean(x) - mean(y)
    <= -delta" and ">= +delta" (``scipy.stats.ttest_ind`` with equal_var False); 1 with
    fewer than 2 values on a side."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or len(y) < 2:
        return 1.0
    lower = stats.ttest_ind(x + delta, y, equal_var=False, alternative="greater").pvalue
    upper = stats.ttest_ind(x - delta, y, equal_var=False, alternative="less").pvalue
    p = max(float(lower), float(upper))
    return p if math.isfinite(p) else 1.0


def _reject_open(p: np.ndarray, still_open: np.ndarray, level: float) -> np.ndarray:
    """Holm at ``level`` over the hypotheses still open; False for the others."""
    out = np.zeros(len(p), bool)
    idx = np.flatnonzero(still_open)
    if len(idx) and level > 0:
        out[idx] = holm_reject(p[idx], level)
    return out


# --------------------------------------------------------------------------- simulation
@dataclass(frozen=True)
class Design:
    """A simulated experiment: the strategies' true effects (in standard deviations of a
    paired difference), the columns that are baselines, the rounds' ``max_trials`` and the
    equivalence margin ``delta``."""

    effects: tuple[float, ...]
    baselines: tuple[int, ...]
    max_trials: int
    delta: float = 0.2


def simulate(
    design: Design, sims: int = 1000, seed: int = 0, *, correct: bool = True, spend: bool = True
) -> dict[str, object]:
    """Operating characteristics of the rounds-until-decided rule, with no training.

    Each simulated experiment draws, per trial, a value for every strategy: a trial effect
    shared by all (the seed), the strategy's ``effects[i]`` and independent noise of std
    1/sqrt(2), so a paired difference has std 1 and effects are in its units. Every
    strategy is compared with each of ``baselines`` (column indices, not with itself, no
    mirrored pair), in rounds (:func:`rounds`) until every comparison is decided or
    ``max_trials``. ``correct=False`` tests each comparison alone (no Holm),
    ``spend=False`` tests every look at the full alpha: the two ablations that show why
    the rule is built as it is.

    Returns ``family_false``: the share of experiments with a better/worse verdict on a
    pair whose true difference is 0; ``false_equivalent``: ... an equivalent verdict on a
    pair whose true difference lies outside the margin; ``verdicts``: per comparison
    (strategy, baseline), the share of each verdict; ``mean_trials``.
    """
    effects, baselines = np.asarray(design.effects, float), list(design.baselines)
    max_trials, delta = design.max_trials, design.delta
    k = len(effects)
    pairs = comparison_pairs(range(k), baselines)
    families = [pairs] if correct else [[p] for p in pairs]
    schedule = rounds(max_trials)
    rng = np.random.default_rng(seed)
    counts = {p: dict.fromkeys(VERDICTS, 0) for p in pairs}
    false_diff = false_equiv = used = 0
    for _ in range(sims):
        values = rng.normal(size=(max_trials, 1)) + effects
        values = values + rng.normal(scale=math.sqrt(0.5), size=(max_trials, k))
        for j in range(len(schedule)):
            at = schedule[: j + 1]
            looks = Looks(at, max_trials) if spend else _Unspent(at, max_trials)
            found = [
                c for fam in families for c in decide(values, fam, delta, looks, explain=False)
            ]
            if all(c.verdict != "inconclusive" for c in found):
                break
        used += schedule[j]
        truth = {p: effects[p[0]] - effects[p[1]] for p in pairs}
        for p, c in zip(pairs, found, strict=True):
            counts[p][c.verdict] += 1
        false_diff += any(
            c.verdict in ("better", "worse") and truth[p] == 0
            for p, c in zip(pairs, found, strict=True)
        )
        false_equiv += any(
            c.verdict == "equivalent" and abs(truth[p]) >= delta
            for p, c in zip(pairs, found, strict=True)
        )
    shares = {p: {v: c / sims for v, c in counts[p].items()} for p in pairs}
    return {
        "family_false": false_diff / sims,
        "false_equivalent": false_equiv / sims,
        "verdicts": shares,
        "mean_trials": used / sims,
    }


class _Unspent(Looks):
    """Every look at the full alpha: the naive repeated test (an ablation, never used)."""

    def level(self, k: int) -> float:
        return self.alpha
