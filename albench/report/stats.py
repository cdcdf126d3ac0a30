"""Pure functions from the tidy frame to the report's tables (no I/O, no plotting).

Each takes the tidy frame of :mod:`albench.report.data` (task, strategy, trial, cycle,
labeled, metric, value, run_id) and returns a DataFrame that is both written as a CSV and
drawn by :mod:`albench.report.figures`. Conventions:

- mean and standard deviation are over trials, std with ddof = 1 (the sample std the
  paper's "mean and standard deviation" over 5 or 3 trials means; NaN for one trial);
- an interval always comes with its method and n (:func:`mean_ci`): with at least
  :data:`MIN_CI_TRIALS` values, the 95 % Student-t confidence interval of the mean; with
  fewer, the *range* (min, max) of the values, labelled as such and never called a
  confidence interval (2 to 4 trials say little about the spread);
- trials share seeds across strategies (paper §4), so comparisons between strategies are
  *paired* by trial: paired t-test (``scipy.stats.ttest_rel``) and Wilcoxon signed-rank
  (``scipy.stats.wilcoxon``) on the per-trial differences, per cycle and over the whole
  curve; every p-value comes with its effect size (the mean paired difference and its
  interval) and with its Holm-corrected value (:func:`holm`) over the comparisons of one
  task (per cycle: over the comparisons of that cycle);
- the whole curve is summarised by the normalised area under the budget curve (AUBC): the
  trapezoid area under metric vs labeled samples divided by the labeled range, i.e. the mean
  metric over the budget, in the metric's own units;
- label efficiency: the first *measured* budget at which a strategy's mean curve reaches a
  reference strategy's final mean (the first baseline); the linear interpolation between
  cycles is given beside it, labelled as an interpolation;
- a scorer is *degenerate* on a run when its order of the test set is rounding noise
  (:func:`score_spread`): it takes a single value, or the central 90 % of its values (5th to
  95th percentile) span at most :data:`DEGENERATE_ULPS` units in the last place of float32
  (the scores' dtype) at their magnitude. Small next to its magnitude is not degenerate: an
  offset (an uncertainty of 5.54 nats varying in its fourth digit) leaves the order intact.

Strategies are never named here: which ones are baselines, and the order rows come in, are
arguments (the report takes them from the runs' tags and the strategy registry,
:mod:`albench.report.data`). ``order`` is the known strategy order; names it lacks follow,
alphabetically (:func:`strategy_order`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats  # (this module is albench's own stats)

from albench import verdicts
from albench.schema import (
    PICK_CLASS,
    PICK_MEANS,
    PICK_SHARES,
    TIME_PREFIX,
    TIMES,
    eval_key,
    is_score_column,
    quality_prefix,
)

__all__ = [
    "ALPHA",
    "DEGENERATE_ULPS",
    "MIN_CI_TRIALS",
    "aubc",
    "aubc_table",
    "cost_table",
    "degenerate_table",
    "holm",
    "label_efficiency",
    "last_cycle_table",
    "last_values",
    "mean_ci",
    "metric_rows",
    "paired_aubc",
    "paired_cycles",
    "paired_test",
    "paper_check",
    "paper_ordering",
    "rank_acc_last",
    "rank_acc_summary",
    "run_aubc",
    "scatter_points",
    "score_columns",
    "score_spread",
    "scorer_spreads",
    "strategy_order",
    "summarize",
    "unpaired_test",
    "verdict_table",
]

ALPHA = 0.05  # the level the notes and verdicts refer to
CONFIDENCE = 0.95
MIN_CI_TRIALS = 5  # below this, an interval is the range of the values, not a CI
DEGENERATE_ULPS = 16  # 5-95 % spread <= 16 float32 last-place units: rounding noise
SPREAD_QUANTILES = (0.05, 0.95)
PAPER_TOLERANCE = 0.01  # absolute floor of the paper check for a number given exactly
PAPER_TOLERANCE_APPROX = 0.05  # ... for one the paper gives as approximate ("about")


def strategy_order(names: Iterable[str], known: Sequence[str] = ()) -> list[str]:
    """``names`` in the order of ``known`` (the registry's order), the others after it,
    alphabetically; each name once."""
    names = set(names)
    first = [s for s in dict.fromkeys(known) if s in names]
    return first + sorted(names - set(first))


def metric_rows(frame: pd.DataFrame, task_metrics: Mapping[str, str]) -> pd.DataFrame:
    """The rows of each task's own metric (``eval/<metric>`` of its ``albench.metric``)."""
    keys = frame.task.map(lambda t: eval_key(task_metrics[t]))
    return frame[frame.metric == keys]


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over trials per (task, strategy, metric, cycle), with n and labeled."""
    g = rows.groupby(["task", "strategy", "metric", "cycle"], sort=True)
    out = g.agg(
        labeled=("labeled", "mean"),
        n=("value", "count"),
        mean=("value", "mean"),
        std=("value", "std"),
    ).reset_index()
    return out[["task", "strategy", "metric", "cycle", "labeled", "n", "mean", "std"]]


def pick_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """The picks' diagnostics drawn per cycle, summarised over trials (:func:`summarize`):
    the shares (:data:`PICK_SHARES`), then the facts' means (``picks/mean/<fact>``); empty
    when no run logged any."""
    keep = frame.metric.isin(PICK_SHARES) | frame.metric.str.startswith(PICK_MEANS)
    out = summarize(frame[keep])
    rank = {m: i for i, m in enumerate(PICK_SHARES)}
    key = out.metric.map(lambda m: (rank.get(m, len(rank)), m))
    return out.assign(_k=key).sort_values(["_k", "strategy", "cycle"]).drop(columns="_k")


def class_mix(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (task, strategy, class): the share of all its picks (every cycle, every trial)
    that are of that true class (``picks/class/<c>`` counts), and the trials."""
    rows = frame[frame.metric.str.startswith(PICK_CLASS)]
    if rows.empty:
        return pd.DataFrame(columns=["task", "strategy", "class", "share", "n"])
    rows = rows.assign(cls=rows.metric.str.removeprefix(PICK_CLASS))
    g = rows.groupby(["task", "strategy", "cls"], sort=True)
    out = g.agg(picks=("value", "sum"), n=("trial", "nunique")).reset_index()
    total = out.groupby(["task", "strategy"]).picks.transform("sum")
    out["share"] = out.picks / total.where(total > 0)
    return out.rename(columns={"cls": "class"})[["task", "strategy", "class", "share", "n"]]


def label_overlap(runs: pd.DataFrame, picks: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The Jaccard overlap of what two strategies picked in the same trial: |A & B| /
    |A | B| over the items each picked in all its cycles (the initial set, shared, left
    out), as mean and std over the trials both ran (n), per task and ordered pair
    (strategy, other), both orders listed; a strategy with itself is left out."""
    have = runs[runs.run_id.isin(list(picks))]
    rows = []
    for (task, trial), group in have.groupby(["task", "trial"], sort=True):
        sets = {r.strategy: set(picks[r.run_id].tolist()) for r in group.itertuples()}
        for a, sa in sets.items():
            for b, sb in sets.items():
                if a != b and (sa or sb):
                    rows.append((task, a, b, trial, len(sa & sb) / len(sa | sb)))
    cols = ["task", "strategy", "other", "trial", "jaccard"]
    frame = pd.DataFrame(rows, columns=cols)
    g = frame.groupby(["task", "strategy", "other"], sort=True).jaccard
    out = g.agg(mean="mean", std="std", n="count").reset_index()
    return out[["task", "strategy", "other", "n", "mean", "std"]]


def last_cycle_table(
    summary: pd.DataFrame,
    paper: Mapping[tuple[str, str], tuple[float, str]] | None = None,
    order: Sequence[str] = (),
) -> pd.DataFrame:
    """Each (task, strategy)'s last cycle: mean +/- std, and the paper's number if any.

    ``paper`` maps (task, strategy) to (value, source).
    """
    idx = summary.groupby(["task", "strategy"], sort=True).cycle.idxmax()
    out = summary.loc[idx, ["task", "strategy", "cycle", "labeled", "n", "mean", "std"]]
    paper = paper or {}
    ref = [paper.get((t, s)) for t, s in zip(out.task, out.strategy, strict=True)]
    out["paper"] = [r[0] if r else math.nan for r in ref]
    out["paper_source"] = [r[1] if r else "" for r in ref]
    return _ordered(out.reset_index(drop=True), order)


def _ordered(df: pd.DataFrame, order: Sequence[str], by: Sequence[str] = ()) -> pd.DataFrame:
    """Rows sorted by task, then strategy in :func:`strategy_order`, then ``by``."""
    rank = {s: i for i, s in enumerate(strategy_order(df.strategy.unique(), order))}
    key = df.strategy.map(rank)
    return (
        df.assign(_rank=key)
        .sort_values(["task", "_rank", *by], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


# ------------------------------------------------------------------ intervals, corrections
def mean_ci(values: Sequence[float]) -> tuple[float, float, str]:
    """An interval for the mean of ``values`` (NaNs dropped) and how it was made.

    n >= :data:`MIN_CI_TRIALS`: the 95 % Student-t confidence interval of the mean;
    2 <= n < 5: the range (min, max) of the values, which is no confidence interval (a
    bootstrap of 3 values returns exactly that range and looks far tighter than it is);
    n < 2: none. The method is ``"t95"``, ``"range"`` or ``""``.
    """
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n < 2:
        return math.nan, math.nan, ""
    if n < MIN_CI_TRIALS:
        return float(v.min()), float(v.max()), "range"
    half = (
        float(scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * float(v.std(ddof=1)) / math.sqrt(n)
    )
    mean = float(v.mean())
    return mean - half, mean + half, "t95"


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down correction of a family of p-values (NaNs ignored and kept NaN).

    Sorted ascending, the i-th of m p-values (1-based) becomes max over j <= i of
    min(1, (m - j + 1) p_(j)); the result is in the input's order.
    """
    p = np.asarray(pvalues, float)
    out = np.full(len(p), math.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    running = 0.0
    for j, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - j) * p[i]))
        out[i] = running
    return out


# --------------------------------------------------------------------------- paired tests
def _wilcoxon_note(nonzero: int) -> str:
    """What a Wilcoxon p-value can say with ``nonzero`` non-zero differences."""
    floor = min(1.0, 2.0 / 2**nonzero)  # the exact two-sided p is never below this
    if floor <= ALPHA:
        return ""
    pairs = f"{nonzero} non-zero difference{'s' if nonzero != 1 else ''}"
    return f"Wilcoxon: smallest possible p is {floor:.3g} with {pairs} (p < {ALPHA} needs 6)"


def paired_test(x: np.ndarray, y: np.ndarray) -> dict[str, float | str]:
    """Paired t-test and Wilcoxon signed-rank of ``x - y`` (two-sided), the mean difference
    with its interval (:func:`mean_ci`), and a note on what the sample size allows.

    With n pairs (none zero) the exact two-sided Wilcoxon p-value is at least 2 / 2^n, so
    below 6 pairs it can never reach 0.05; the note says so. The t-test needs n >= 2 and
    differences that are not all equal (else its t is undefined).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    d = x - y
    n = len(d)
    lo, hi, method = mean_ci(d)
    out: dict[str, float | str] = {
        "n": n,
        "mean_diff": float(d.mean()) if n else math.nan,
        "ci_low": lo,
        "ci_high": hi,
        "ci_method": method,
        "t": math.nan,
        "t_p": math.nan,
        "wilcoxon_w": math.nan,
        "wilcoxon_p": math.nan,
    }
    notes = []
    if n < 2:
        notes.append(f"n={n}: no test")
        return out | {"note": "; ".join(notes)}
    if np.ptp(d) <= 1e-12 * max(1.0, float(np.abs(d).max())):  # equal up to rounding
        notes.append("all differences equal: t undefined")
    else:
        res = scipy_stats.ttest_rel(x, y)
        out["t"], out["t_p"] = float(res.statistic), float(res.pvalue)
        if n == 2:
            notes.append("t-test with 1 degree of freedom")
    nonzero = int(np.count_nonzero(d))
    if nonzero == 0:
        notes.append("all differences zero: no Wilcoxon")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns about small samples; the note says it
            res = scipy_stats.wilcoxon(x, y)
        out["wilcoxon_w"], out["wilcoxon_p"] = float(res.statistic), float(res.pvalue)
        notes.append(_wilcoxon_note(nonzero))
    return out | {"note": "; ".join(n for n in notes if n)}


def unpaired_test(x: np.ndarray, y: np.ndarray) -> dict[str, float | str]:
    """Welch's t-test of ``x`` against ``y`` (runs that share no trial), the difference of
    the means and an interval for it: Welch's 95 % CI with at least
    :data:`MIN_CI_TRIALS` values on each side, else the range of the pairwise differences."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    out: dict[str, float | str] = {
        "n": min(len(x), len(y)),
        "mean_diff": float(x.mean() - y.mean()) if len(x) and len(y) else math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "ci_method": "",
        "t": math.nan,
        "t_p": math.nan,
    }
    if len(x) < 2 or len(y) < 2:
        return out | {"note": f"n={len(x)} and {len(y)}: no test"}
    res = scipy_stats.ttest_ind(x, y, equal_var=False)
    out["t"], out["t_p"] = float(res.statistic), float(res.pvalue)
    if min(len(x), len(y)) >= MIN_CI_TRIALS:
        ci = res.confidence_interval(CONFIDENCE)
        out |= {"ci_low": float(ci.low), "ci_high": float(ci.high), "ci_method": "t95"}
        return out | {"note": "unpaired (Welch)"}
    diffs = np.subtract.outer(x, y).ravel()
    out |= {"ci_low": float(diffs.min()), "ci_high": float(diffs.max()), "ci_method": "range"}
    note = f"unpaired (Welch); n < {MIN_CI_TRIALS}: interval = range of the differences"
    return out | {"note": note}


def _comparisons(
    present: Sequence[str], baselines: Sequence[str], order: Sequence[str]
) -> list[tuple[str, str]]:
    """(strategy, baseline) pairs: every strategy (in strategy order) vs each baseline
    present (:func:`albench.verdicts.comparison_pairs`)."""
    return verdicts.comparison_pairs(strategy_order(present, order), baselines)


def _paired_order(df: pd.DataFrame, baselines: Sequence[str], order: Sequence[str]) -> pd.DataFrame:
    """Rows by task, baseline (in ``baselines`` order), strategy, then cycle if any."""
    base_rank = {b: i for i, b in enumerate(baselines)}
    strat_rank = {s: i for i, s in enumerate(strategy_order(df.strategy.unique(), order))}
    keys = ["task", "_b", "_s"] + (["cycle"] if "cycle" in df else [])
    return (
        df.assign(_b=df.baseline.map(base_rank), _s=df.strategy.map(strat_rank))
        .sort_values(keys, kind="stable")
        .drop(columns=["_b", "_s"])
        .reset_index(drop=True)
    )


def _pairs(values: pd.DataFrame, strategy: str, baseline: str) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``strategy`` and ``baseline`` on the trials both have (paired by trial)."""
    both = values[[strategy, baseline]].dropna()
    return both[strategy].to_numpy(), both[baseline].to_numpy()


_TEST_COLUMNS = ["n", "mean_diff", "ci_low", "ci_high", "ci_method", "t", "t_p", "t_p_holm"]
_TEST_COLUMNS += ["wilcoxon_w", "wilcoxon_p", "wilcoxon_p_holm", "note"]


def _with_holm(df: pd.DataFrame, family: Sequence[str]) -> pd.DataFrame:
    """Holm-corrected ``t_p`` and ``wilcoxon_p`` within each group of ``family`` columns."""
    df = df.copy()
    for col in ("t_p", "wilcoxon_p"):
        if col not in df:
            continue
        df[f"{col}_holm"] = math.nan
        for _, g in df.groupby(list(family), sort=False):
            df.loc[g.index, f"{col}_holm"] = holm(g[col].to_numpy(float))
    return df


def paired_cycles(
    rows: pd.DataFrame, baselines: Sequence[str], order: Sequence[str] = ()
) -> pd.DataFrame:
    """Per task and cycle: every strategy vs each baseline present, paired over trials;
    p-values Holm-corrected over the comparisons of the same task and cycle.

    ``rows`` holds one metric (see :func:`metric_rows`).
    """
    out = []
    for (task, cycle), g in rows.groupby(["task", "cycle"], sort=True):
        wide = g.pivot_table(index="trial", columns="strategy", values="value", aggfunc="first")
        labeled = g.labeled.mean()
        for strat, base in _comparisons(wide.columns, baselines, order):
            res = paired_test(*_pairs(wide, strat, base))
            out.append(
                {"task": task, "strategy": strat, "baseline": base, "cycle": cycle}
                | {"labeled": labeled}
                | res
            )
    cols = ["task", "strategy", "baseline", "cycle", "labeled", *_TEST_COLUMNS]
    df = _with_holm(pd.DataFrame(out, columns=cols), ["task", "cycle"])
    return _paired_order(df[cols], baselines, order)


# --------------------------------------------------------------------------------- AUBC
def aubc(labeled: Sequence[float], values: Sequence[float]) -> float:
    """Normalised area under the budget curve: trapezoid area of ``values`` over ``labeled``
    divided by the labeled range (the mean metric over the budget); the value itself for
    a single point."""
    x, y = np.asarray(labeled, float), np.asarray(values, float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if len(x) == 1:
        return float(y[0])
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def run_aubc(rows: pd.DataFrame) -> pd.DataFrame:
    """One AUBC per (task, strategy, trial)."""
    per = [
        {"task": t, "strategy": s, "trial": tr, "aubc": aubc(g.labeled, g.value)}
        for (t, s, tr), g in rows.groupby(["task", "strategy", "trial"], sort=True)
    ]
    return pd.DataFrame(per, columns=["task", "strategy", "trial", "aubc"])


def aubc_table(rows: pd.DataFrame, order: Sequence[str] = ()) -> pd.DataFrame:
    """Per (task, strategy): AUBC mean, std and interval (:func:`mean_ci`) over trials."""
    out = []
    for (task, strat), g in run_aubc(rows).groupby(["task", "strategy"], sort=True):
        lo, hi, method = mean_ci(g.aubc.to_numpy())
        mine = rows[(rows.task == task) & (rows.strategy == strat)]
        out.append(
            {
                "task": task,
                "strategy": strat,
                "labeled_from": mine.labeled.min(),
                "labeled_to": mine.labeled.max(),
                "n": len(g),
                "aubc": g.aubc.mean(),
                "std": g.aubc.std(),
                "ci_low": lo,
                "ci_high": hi,
                "ci_method": method,
            }
        )
    return _ordered(pd.DataFrame(out), order)


def paired_aubc(
    rows: pd.DataFrame, baselines: Sequence[str], order: Sequence[str] = ()
) -> pd.DataFrame:
    """Per task: each strategy's AUBC minus each baseline's, paired by trial: the mean
    difference with its interval, the paired tests, and their p-values Holm-corrected over
    the task's comparisons."""
    per = run_aubc(rows)
    out = []
    for task, g in per.groupby("task", sort=True):
        wide = g.pivot_table(index="trial", columns="strategy", values="aubc", aggfunc="first")
        for strat, base in _comparisons(wide.columns, baselines, order):
            res = paired_test(*_pairs(wide, strat, base))
            out.append({"task": task, "strategy": strat, "baseline": base} | res)
    cols = ["task", "strategy", "baseline", *_TEST_COLUMNS]
    df = _with_holm(pd.DataFrame(out, columns=cols), ["task"])
    return _paired_order(df[cols], baselines, order)


# ------------------------------------------------------------------------------ verdicts
VERDICT_COLUMNS = ["task", "quantity", "strategy", "baseline", "verdict", "n", "decided_at"]
VERDICT_COLUMNS += ["mean_diff", "sd", "ci_low", "ci_high", "ci_method", "t_p", "tost_p"]
VERDICT_COLUMNS += ["level", "holm_level", "equivalence_margin", "mde", "needed", "needed_verdict"]
QUANTITIES = {"aubc": "AUBC", "last": "last cycle"}


def verdict_table(
    rows: pd.DataFrame,
    baselines: Sequence[str],
    margins: Mapping[str, float],
    max_trials: Mapping[str, int | None],
    order: Sequence[str] = (),
) -> pd.DataFrame:
    """The verdict of every comparison (:func:`albench.verdicts.decide`): per task, each
    strategy vs each baseline present, on the AUBC and on the metric at the last cycle,
    paired by trial. Each quantity of a task is one family (Holm). The looks are those the
    task's trials made (:func:`albench.verdicts.looks_for`: rounds when its runs carry
    ``max_trials``, else one). ``margins``/``max_trials``: per task. Beside each verdict:
    the mean difference and its interval at the deciding look (else the last), the
    uncorrected p-values, the level of that look and the smallest Holm step of it
    (level / m), and for an inconclusive one the minimum detectable effect and the trials
    needed."""
    out = _decided(
        rows, lambda task, names: _comparisons(names, baselines, order), margins, max_trials
    )
    df = pd.DataFrame(out, columns=VERDICT_COLUMNS)
    if df.empty:
        return df
    df = _paired_order(df, baselines, order)
    rank = {q: i for i, q in enumerate(QUANTITIES)}
    return df.sort_values("quantity", key=lambda q: q.map(rank), kind="stable").reset_index(
        drop=True
    )


def _decided(
    rows: pd.DataFrame,
    pairs_of: Callable[[str, list[str]], list[tuple[str, str]]],
    margins: Mapping[str, float],
    max_trials: Mapping[str, int | None],
) -> list[dict[str, Any]]:
    """The verdict rows (:data:`VERDICT_COLUMNS`) of the comparisons ``pairs_of(task,
    strategies present)`` of each task, on the AUBC and the last cycle, each quantity of a
    task one family (see :func:`verdict_table`)."""
    out = []
    per_run = {"aubc": run_aubc(rows).rename(columns={"aubc": "value"}), "last": last_values(rows)}
    for quantity, table in per_run.items():
        for task, g in table.groupby("task", sort=True):
            wide = g.pivot_table(index="trial", columns="strategy", values="value", aggfunc="first")
            wide = wide.reindex(range(int(wide.index.max()) + 1))  # row i = trial i
            names = list(wide.columns)
            pairs = pairs_of(task, names)
            if not pairs:
                continue
            looks = verdicts.looks_for(len(wide), max_trials.get(task))
            index = [(names.index(s), names.index(b)) for s, b in pairs]
            values = wide.to_numpy(float)
            found = verdicts.decide(values, index, margins[task], looks)
            for (s, b), c in zip(index, found, strict=True):
                n_at = c.decided_at or looks.at[-1]
                d = values[:n_at, s] - values[:n_at, b]
                lo, hi, method = mean_ci(d)
                out.append(
                    {"task": task, "quantity": quantity, "strategy": names[s]}
                    | {"baseline": names[b], "verdict": c.verdict, "n": c.n}
                    | {"decided_at": c.decided_at, "mean_diff": c.mean_diff, "sd": c.sd}
                    | {"ci_low": lo, "ci_high": hi, "ci_method": method, "t_p": c.t_p}
                    | {"tost_p": c.tost_p, "level": c.level, "holm_level": c.level / len(pairs)}
                    | {"equivalence_margin": margins[task], "mde": c.mde, "needed": c.needed}
                    | {"needed_verdict": c.needed_verdict}
                )
    return out


def expectation_table(
    rows: pd.DataFrame,
    expectations: Mapping[str, Sequence[Mapping[str, Any]]],
    margins: Mapping[str, float],
    max_trials: Mapping[str, int | None],
) -> pd.DataFrame:
    """The scenario check: each task's expectations (``Expectation`` as dicts) with the
    verdict of their own comparisons (one family per task and quantity, as
    :func:`verdict_table`) and an outcome: "confirmed" (the verdict is one expected),
    "contradicted" (decided otherwise), "undecided" (inconclusive) or "not run" (a strategy
    of it has no runs)."""
    wanted = {
        task: [(e["strategy"], e["baseline"]) for e in known]
        for task, known in expectations.items()
    }
    found = pd.DataFrame(
        _decided(
            rows,
            lambda task, names: [p for p in wanted.get(task, []) if set(p) <= set(names)],
            margins,
            max_trials,
        ),
        columns=VERDICT_COLUMNS,
    )
    out = []
    for task, known in expectations.items():
        for e in known:
            quantity = e.get("quantity", "aubc")
            hit = found[
                (found.task == task)
                & (found.quantity == quantity)
                & (found.strategy == e["strategy"])
                & (found.baseline == e["baseline"])
            ]
            row = {"task": task, "quantity": quantity, "strategy": e["strategy"]}
            row |= {"baseline": e["baseline"], "expected": " or ".join(e["verdicts"])}
            row |= {"source": e.get("source", ""), "why": e.get("why", "")}
            if hit.empty:
                out.append(row | {"verdict": "", "outcome": "not run"})
                continue
            r = hit.iloc[0]
            outcome = (
                "confirmed"
                if r.verdict in e["verdicts"]
                else "undecided"
                if r.verdict == "inconclusive"
                else "contradicted"
            )
            keep = ["verdict", "n", "mean_diff", "ci_low", "ci_high", "ci_method", "t_p"]
            out.append(row | {k: r[k] for k in keep} | {"needed": r.needed, "outcome": outcome})
    return pd.DataFrame(out)


# ------------------------------------------------------------------------ label efficiency
def _reach(x: np.ndarray, y: np.ndarray, target: float) -> tuple[float, float]:
    """(first measured x with y >= ``target``, the piecewise-linear interpolation of where
    the curve crosses it); NaN, NaN when it never does."""
    for i in range(len(x)):
        if y[i] >= target:
            if i == 0:
                return float(x[0]), float(x[0])
            x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
            return float(x[i]), float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))
    return math.nan, math.nan


def label_efficiency(
    summary: pd.DataFrame, reference: str, order: Sequence[str] = ()
) -> pd.DataFrame:
    """Per task and strategy: the first measured budget (labeled samples) at which its mean
    curve reaches ``reference``'s final mean (NaN and ``reached = False`` when it never
    does), the linear interpolation between the cycles around it (an estimate, not a
    measurement), and the saving of the measured budget relative to the labels the
    reference used. Tasks without the reference strategy are skipped."""
    out = []
    for task, g in summary.groupby("task", sort=True):
        ref = g[g.strategy == reference].sort_values("cycle")
        if ref.empty:
            continue
        target, ref_labels = float(ref["mean"].iloc[-1]), float(ref.labeled.iloc[-1])
        for strat, s in g.groupby("strategy", sort=True):
            s = s.sort_values("labeled")
            need, est = _reach(s.labeled.to_numpy(float), s["mean"].to_numpy(float), target)
            out.append(
                {
                    "task": task,
                    "strategy": strat,
                    "target": target,
                    "reference_labeled": ref_labels,
                    "labels_needed": need,
                    "labels_interpolated": est,
                    "reached": not math.isnan(need),
                    "saving": 1.0 - need / ref_labels if not math.isnan(need) else math.nan,
                }
            )
    cols = ["task", "strategy", "target", "reference_labeled", "labels_needed"]
    cols += ["labels_interpolated", "reached", "saving"]
    return _ordered(pd.DataFrame(out, columns=cols), order)


# ---------------------------------------------------------------- loss-prediction quality
def rank_acc_summary(
    frame: pd.DataFrame, order: Sequence[str] = (), kind: str = "rank_acc"
) -> pd.DataFrame:
    """Ranking accuracy (or another ``kind``: ``pearson``, ``spearman``) of every logged
    scorer: mean +/- std over trials per cycle, with a ``scorer`` column (from
    ``eval/<kind>/<scorer>``)."""
    prefix = quality_prefix(kind)
    rows = frame[frame.metric.str.startswith(prefix)]
    out = summarize(rows)
    out.insert(2, "scorer", out.metric.str.removeprefix(prefix))
    return _ordered(out.drop(columns="metric"), order, by=["scorer", "cycle"])


def rank_acc_last(
    summary: pd.DataFrame,
    paper: Mapping[tuple[str, str, str], float],
    order: Sequence[str] = (),
) -> pd.DataFrame:
    """Last-cycle ranking accuracy per (task, strategy, scorer) with the paper's number."""
    idx = summary.groupby(["task", "strategy", "scorer"], sort=True).cycle.idxmax()
    out = summary.loc[idx].reset_index(drop=True)
    keys = zip(out.task, out.strategy, out.scorer, strict=True)
    out["paper"] = [paper.get(k, math.nan) for k in keys]
    return _ordered(out, order, by=["scorer"])


# ------------------------------------------------------------------------- scorer spread
def score_columns(scores: pd.DataFrame | None) -> list[str]:
    """The columns of a test_scores CSV that hold scores with at least one value, sorted."""
    if scores is None:
        return []
    return sorted(
        str(c)
        for c in scores.columns
        if is_score_column(str(c)) and pd.api.types.is_numeric_dtype(scores[c])
        and scores[c].notna().any()
    )  # fmt: skip


def score_spread(values: Sequence[float]) -> dict[str, float | bool]:
    """How much a score varies over the test set, and whether it is degenerate.

    spread = 95th - 5th percentile of the values (NaNs dropped), magnitude = the larger
    absolute value of the two percentiles, relative = spread / magnitude, ulps = spread in
    units of the last place of a float32 at that magnitude (the scores are computed in
    float32). Degenerate: a single distinct value, or ulps <= :data:`DEGENERATE_ULPS`: the
    central 90 % of the test samples differ only in their last bits, so their order is
    rounding noise. An uncertainty of 5.539-5.543 nats spans about 8,000 such units: its
    order is real, however small the spread next to its offset.
    """
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        nan = math.nan
        return {"n": 0, "q05": nan, "q95": nan, "spread": nan, "relative": nan, "ulps": nan,
                "degenerate": False}  # fmt: skip
    q05, q95 = (float(q) for q in np.quantile(v, SPREAD_QUANTILES))
    spread, magnitude = q95 - q05, max(abs(q05), abs(q95))
    relative = spread / magnitude if magnitude > 0 else (0.0 if spread == 0 else math.inf)
    ulps = spread / float(np.spacing(np.float32(magnitude)))
    degenerate = len(np.unique(v)) < 2 or ulps <= DEGENERATE_ULPS
    return {
        "n": len(v),
        "q05": q05,
        "q95": q95,
        "spread": spread,
        "relative": relative,
        "ulps": ulps,
        "degenerate": bool(degenerate),
    }


def scorer_spreads(
    test_scores: Mapping[str, pd.DataFrame | None], runs: pd.DataFrame
) -> pd.DataFrame:
    """:func:`score_spread` of every score column of every run's test_scores CSV.

    ``runs``: run_id, task, strategy, trial (the report's run table). One row per (task,
    strategy, trial, scorer).
    """
    out = []
    for r in runs.sort_values(["task", "strategy", "trial"]).itertuples():
        scores = test_scores.get(r.run_id)
        for scorer in score_columns(scores):
            spread = score_spread(scores[scorer].to_numpy(float))
            out.append(
                {"task": r.task, "strategy": r.strategy, "trial": r.trial, "scorer": scorer}
                | spread
            )
    cols = ["task", "strategy", "trial", "scorer", "n", "q05", "q95", "spread", "relative"]
    return pd.DataFrame(out, columns=[*cols, "ulps", "degenerate"])


def degenerate_table(spreads: pd.DataFrame, order: Sequence[str] = ()) -> pd.DataFrame:
    """Per (task, strategy, scorer): trials inspected, how many degenerate, the median
    5-95 % range and relative spread; ``degenerate`` when more than half of the trials are."""
    cols = ["task", "strategy", "scorer", "trials", "degenerate_trials", "q05", "q95"]
    cols += ["relative", "degenerate"]
    if spreads.empty:
        return pd.DataFrame(columns=cols)
    g = spreads.groupby(["task", "strategy", "scorer"], sort=True)
    out = g.agg(
        trials=("trial", "count"),
        degenerate_trials=("degenerate", "sum"),
        q05=("q05", "median"),
        q95=("q95", "median"),
        relative=("relative", "median"),
    ).reset_index()
    out["degenerate_trials"] = out.degenerate_trials.astype(int)
    out["degenerate"] = 2 * out.degenerate_trials > out.trials
    return _ordered(out[cols], order, by=["scorer"])


# --------------------------------------------------------------------------------- cost
def cost_table(frame: pd.DataFrame, order: Sequence[str] = ()) -> pd.DataFrame:
    """Seconds per cycle (mean over trials) of training, scanning and selection per
    (task, strategy, cycle), from the ``time/*`` metrics; ``total_s`` is their sum.

    The last cycle logs no scan or selection (nothing is selected after it): those cells
    are NaN there and count as 0 in the total.
    """
    rows = frame[frame.metric.isin(TIMES)]
    if rows.empty:
        return pd.DataFrame(columns=["task", "strategy", "cycle", "labeled", "n", "total_s"])
    wide = rows.pivot_table(
        index=["task", "strategy", "cycle"], columns="metric", values="value", aggfunc="mean"
    )
    wide.columns = [c.removeprefix(TIME_PREFIX) for c in wide.columns]
    g = rows.groupby(["task", "strategy", "cycle"], sort=True)
    wide["labeled"] = g.labeled.mean()
    wide["n"] = g.trial.nunique()
    parts = [k.removeprefix(TIME_PREFIX) for k in TIMES if k.removeprefix(TIME_PREFIX) in wide]
    wide["total_s"] = wide[parts].fillna(0.0).sum(axis=1)
    out = wide.reset_index()[["task", "strategy", "cycle", "labeled", "n", *parts, "total_s"]]
    return _ordered(out, order, by=["cycle"])


# ------------------------------------------------------------------------------ scatter
SCATTER_POINTS = 2000  # test samples shown, randomly chosen (paper Fig. 8: 2,000 poses)
SCATTER_TOP = 0.2  # fraction highlighted: the top 20 % by score (paper Fig. 8)


def scatter_points(
    scores: pd.DataFrame,
    scorer: str,
    max_points: int = SCATTER_POINTS,
    top: float = SCATTER_TOP,
    seed: int = 0,
) -> tuple[pd.DataFrame, int, float, float]:
    """Fig. 8's data for one score of one ``test_scores`` CSV (columns loss, <scorer>, ...).

    The ``top`` fraction of *all* test samples with both values, by score (what a top-K
    selection by it would pick), is flagged; then at most ``max_points`` test samples are
    shown, drawn without replacement with a fixed seed from the rows that have a loss, so
    that every score of the same CSV shows the same test samples. Returns the shown points
    (score, loss, top), and n, Pearson and Spearman of score vs true loss over all test
    samples with both values (what ``eval/pearson/<scorer>`` logs).
    """
    has_loss = scores[scores["loss"].notna()]
    both = has_loss[["loss", scorer]].dropna().rename(columns={scorer: "score"})
    n = len(both)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input -> NaN correlation, shown as nan
        pearson = (
            float(scipy_stats.pearsonr(both.score, both.loss).statistic) if n > 1 else math.nan
        )
        spearman = (
            float(scipy_stats.spearmanr(both.score, both.loss).statistic) if n > 1 else math.nan
        )
    k = math.ceil(top * n)
    rank = np.argsort(-both.score.to_numpy(), kind="stable")  # highest scores first
    flag = np.zeros(n, bool)
    flag[rank[:k]] = True
    both = both.assign(top=flag)
    if len(has_loss) > max_points:
        pick = np.random.default_rng(seed).choice(len(has_loss), size=max_points, replace=False)
        both = both[both.index.isin(has_loss.index[np.sort(pick)])]
    return both[["score", "loss", "top"]].reset_index(drop=True), n, pearson, spearman


# ---------------------------------------------------------------------- the paper check
def last_values(rows: pd.DataFrame) -> pd.DataFrame:
    """Each run's value at its last cycle: task, strategy, trial, labeled, value."""
    idx = rows.groupby("run_id", sort=True).cycle.idxmax()
    out = rows.loc[idx, ["task", "strategy", "trial", "labeled", "value"]]
    return out.sort_values(["task", "strategy", "trial"]).reset_index(drop=True)


def _verdict(diff: float, tolerance: float) -> str:
    if math.isnan(diff):
        return "not measured"
    if abs(diff) <= tolerance:
        return "within tolerance"
    return "above the paper" if diff > 0 else "below the paper"


def paper_check(
    frame: pd.DataFrame, metric: str, paper: Mapping[str, Mapping[str, tuple[float, str]]]
) -> pd.DataFrame:
    """Every published number beside the measured one, with a verdict.

    ``paper``: quantity -> strategy -> (value, source), quantity ``"metric"`` (the task's
    ``eval/<metric>``) or ``"<kind>/<scorer>"`` (``eval/<kind>/<scorer>``, e.g. ranking
    accuracy or Pearson's r of a scorer). Measured: the mean over trials of each run's last
    cycle, with the sample std. The rule: *within tolerance* when |measured - paper| <=
    max(2 x std over trials, floor), floor = :data:`PAPER_TOLERANCE` (0.01) for a number
    given exactly and :data:`PAPER_TOLERANCE_APPROX` (0.05) for one the source calls
    approximate ("about"); else *above* or *below the paper*.
    """
    out = []
    for quantity in sorted(paper, key=lambda q: (q != "metric", q)):
        key = eval_key(metric if quantity == "metric" else quantity)
        rows = frame[frame.metric == key]
        last = last_values(rows) if not rows.empty else rows
        for strat, (value, source) in paper[quantity].items():
            mine = last[last.strategy == strat] if len(last) else last
            n = len(mine)
            mean = float(mine.value.mean()) if n else math.nan
            std = float(mine.value.std()) if n > 1 else math.nan
            approx = "about" in source.lower()
            floor = PAPER_TOLERANCE_APPROX if approx else PAPER_TOLERANCE
            tol = max(2 * std, floor) if n > 1 else floor
            diff = mean - value
            out.append(
                {
                    "quantity": quantity,
                    "strategy": strat,
                    "paper": value,
                    "source": source,
                    "approximate": approx,
                    "n": n,
                    "labeled": float(mine.labeled.max()) if n else math.nan,
                    "measured": mean,
                    "std": std,
                    "diff": diff,
                    "tolerance": tol,
                    "verdict": _verdict(diff, tol),
                }
            )
    cols = ["quantity", "strategy", "paper", "source", "approximate", "n", "labeled"]
    return pd.DataFrame(out, columns=[*cols, "measured", "std", "diff", "tolerance", "verdict"])


def _order_verdict(diff: float, p: float) -> str:
    if math.isnan(diff):
        return "not measured"
    if math.isnan(p):
        return "same direction, untested" if diff > 0 else "reversed, untested"
    if diff > 0:
        return "holds" if p < ALPHA else "same direction, not significant"
    return "reversed (significant)" if p < ALPHA else "reversed, not significant"


def paper_ordering(rows: pd.DataFrame, published: Mapping[str, float]) -> pd.DataFrame:
    """Whether the paper's ordering of strategies holds under paired tests.

    ``rows``: one task's metric rows; ``published``: strategy -> the paper's value. Every
    pair (higher, lower) of the paper's order (strategies without runs are left out) is
    tested on the last-cycle metric, paired by trial (:func:`paired_test`), the t-test's
    p-values Holm-corrected over the pairs. Verdict: *holds* when the measured difference
    has the paper's sign and the corrected p < 0.05; *same direction, not significant*;
    *reversed* (significant or not).
    """
    last = last_values(rows)
    wide = last.pivot_table(index="trial", columns="strategy", values="value", aggfunc="first")
    ranked = sorted((s for s in published if s in wide), key=lambda s: -published[s])
    out = []
    for i, hi in enumerate(ranked):
        for lo in ranked[i + 1 :]:
            res = paired_test(*_pairs(wide, hi, lo))
            out.append(
                {"higher": hi, "lower": lo}
                | {"paper_higher": published[hi], "paper_lower": published[lo]}
                | {k: res[k] for k in ("n", "mean_diff", "ci_low", "ci_high", "ci_method")}
                | {"t_p": res["t_p"]}
            )
    cols = ["higher", "lower", "paper_higher", "paper_lower", "n", "mean_diff", "ci_low"]
    df = pd.DataFrame(out, columns=[*cols, "ci_high", "ci_method", "t_p"])
    df["t_p_holm"] = holm(df.t_p.to_numpy(float)) if len(df) else []
    df["verdict"] = [_order_verdict(d, p) for d, p in zip(df.mean_diff, df.t_p_holm, strict=True)]
    return df
