"""Pure functions from the tidy frame to the report's tables (no I/O, no plotting).

Each takes the tidy frame of :mod:`albench.report.data` (task, strategy, trial, cycle,
labeled, metric, value, run_id) and returns a DataFrame that is both written as a CSV and
drawn by :mod:`albench.report.figures`. Conventions:

- mean and standard deviation are over trials, std with ddof = 1 (the sample std the
  paper's "mean and standard deviation" over 5 or 3 trials means; NaN for one trial);
- trials share seeds across strategies (paper §4), so comparisons between strategies are
  *paired* by trial: paired t-test (``scipy.stats.ttest_rel``) and Wilcoxon signed-rank
  (``scipy.stats.wilcoxon``) on the per-trial differences, per cycle and over the whole curve;
- the whole curve is summarised by the normalised area under the budget curve (AUBC): the
  trapezoid area under metric vs labeled samples divided by the labeled range, i.e. the mean
  metric over the budget, in the metric's own units; its 95 % confidence interval is a
  percentile bootstrap over trials (``scipy.stats.bootstrap``, 9,999 resamples, fixed seed,
  so a report is reproducible);
- label efficiency: the fewest labeled samples at which a strategy's mean curve reaches
  a reference strategy's final mean (the first baseline), linearly interpolated between cycles.

Strategies are never named here: which ones are baselines, and the order rows come in, are
arguments (the report takes them from the runs' tags and the strategy registry,
:mod:`albench.report.data`). ``order`` is the known strategy order; names it lacks follow,
alphabetically (:func:`strategy_order`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "CONFIDENCE",
    "N_RESAMPLES",
    "aubc",
    "aubc_table",
    "bootstrap_ci",
    "cost_table",
    "label_efficiency",
    "last_cycle_table",
    "metric_rows",
    "paired_aubc",
    "paired_cycles",
    "paired_test",
    "rank_acc_last",
    "rank_acc_summary",
    "scatter_points",
    "strategy_order",
    "summarize",
]

N_RESAMPLES = 9999  # bootstrap resamples; percentile CI, seed 0
CONFIDENCE = 0.95
WILCOXON_ALPHA = 0.05  # the level a note says Wilcoxon cannot reach with few pairs
TIME_KEYS = ("time/train_s", "time/scan_s", "time/select_s")


def strategy_order(names: Iterable[str], known: Sequence[str] = ()) -> list[str]:
    """``names`` in the order of ``known`` (the registry's order), the others after it,
    alphabetically; each name once."""
    names = set(names)
    first = [s for s in dict.fromkeys(known) if s in names]
    return first + sorted(names - set(first))


def metric_rows(frame: pd.DataFrame, task_metrics: Mapping[str, str]) -> pd.DataFrame:
    """The rows of each task's own metric (``eval/<metric>`` of its ``albench.metric``)."""
    keys = frame.task.map(lambda t: f"eval/{task_metrics[t]}")
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


# --------------------------------------------------------------------------- paired tests
def paired_test(x: np.ndarray, y: np.ndarray) -> dict[str, float | str]:
    """Paired t-test and Wilcoxon signed-rank of ``x - y`` (two-sided), with a note on what
    the sample size allows.

    With n pairs (none zero) the exact two-sided Wilcoxon p-value is at least 2 / 2^n, so
    below 6 pairs it can never reach 0.05; the note says so. The t-test needs n >= 2 and
    differences that are not all equal (else its t is undefined).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    d = x - y
    n = len(d)
    out: dict[str, float | str] = {
        "n": n,
        "mean_diff": float(d.mean()) if n else math.nan,
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
        res = stats.ttest_rel(x, y)
        out["t"], out["t_p"] = float(res.statistic), float(res.pvalue)
        if n == 2:
            notes.append("t-test with 1 degree of freedom")
    nonzero = int(np.count_nonzero(d))
    if nonzero == 0:
        notes.append("all differences zero: no Wilcoxon")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns about small samples; the note says it
            res = stats.wilcoxon(x, y)
        out["wilcoxon_w"], out["wilcoxon_p"] = float(res.statistic), float(res.pvalue)
        floor = 2.0 / 2**nonzero
        if floor > WILCOXON_ALPHA:
            notes.append(
                f"Wilcoxon p >= {floor:.3g} with {nonzero} non-zero pairs: cannot reach "
                f"{WILCOXON_ALPHA} (needs >= 6)"
            )
    return out | {"note": "; ".join(notes)}


def _comparisons(
    present: Sequence[str], baselines: Sequence[str], order: Sequence[str]
) -> list[tuple[str, str]]:
    """(strategy, baseline) pairs: every strategy vs each baseline present, without the
    mirror image of a pair already made (B vs A for baselines A, B; not also A vs B)."""
    bases = [b for b in baselines if b in present]
    return [
        (s, b)
        for i, b in enumerate(bases)
        for s in strategy_order(present, order)
        if s != b and s not in bases[:i]
    ]


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


def paired_cycles(
    rows: pd.DataFrame, baselines: Sequence[str], order: Sequence[str] = ()
) -> pd.DataFrame:
    """Per task and cycle: every strategy vs each baseline present, paired over trials.

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
    return _paired_order(pd.DataFrame(out, columns=_PAIRED_COLUMNS), baselines, order)


_PAIRED_COLUMNS = [
    "task",
    "strategy",
    "baseline",
    "cycle",
    "labeled",
    "n",
    "mean_diff",
    "t",
    "t_p",
    "wilcoxon_w",
    "wilcoxon_p",
    "note",
]


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


def bootstrap_ci(values: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap confidence interval of the mean; NaN for fewer than 2."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return math.nan, math.nan
    if np.all(v == v[0]):
        return float(v[0]), float(v[0])
    res = stats.bootstrap(
        (v,),
        np.mean,
        n_resamples=N_RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _run_aubc(rows: pd.DataFrame) -> pd.DataFrame:
    """One AUBC per (task, strategy, trial)."""
    per = [
        {"task": t, "strategy": s, "trial": tr, "aubc": aubc(g.labeled, g.value)}
        for (t, s, tr), g in rows.groupby(["task", "strategy", "trial"], sort=True)
    ]
    return pd.DataFrame(per, columns=["task", "strategy", "trial", "aubc"])


def aubc_table(rows: pd.DataFrame, order: Sequence[str] = ()) -> pd.DataFrame:
    """Per (task, strategy): AUBC mean, std and 95 % bootstrap CI over trials."""
    out = []
    for (task, strat), g in _run_aubc(rows).groupby(["task", "strategy"], sort=True):
        lo, hi = bootstrap_ci(g.aubc.to_numpy())
        out.append(
            {
                "task": task,
                "strategy": strat,
                "labeled_from": rows[(rows.task == task) & (rows.strategy == strat)].labeled.min(),
                "labeled_to": rows[(rows.task == task) & (rows.strategy == strat)].labeled.max(),
                "n": len(g),
                "aubc": g.aubc.mean(),
                "std": g.aubc.std(),
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    return _ordered(pd.DataFrame(out), order)


def paired_aubc(
    rows: pd.DataFrame, baselines: Sequence[str], order: Sequence[str] = ()
) -> pd.DataFrame:
    """Per task: each strategy's AUBC minus each baseline's, paired by trial, with a
    bootstrap CI of the mean difference and the paired tests."""
    per = _run_aubc(rows)
    out = []
    for task, g in per.groupby("task", sort=True):
        wide = g.pivot_table(index="trial", columns="strategy", values="aubc", aggfunc="first")
        for strat, base in _comparisons(wide.columns, baselines, order):
            x, y = _pairs(wide, strat, base)
            lo, hi = bootstrap_ci(x - y)
            res = paired_test(x, y)
            out.append(
                {"task": task, "strategy": strat, "baseline": base}
                | {k: res[k] for k in ("n", "mean_diff")}
                | {"ci_low": lo, "ci_high": hi}
                | {k: v for k, v in res.items() if k not in ("n", "mean_diff")}
            )
    cols = ["task", "strategy", "baseline", "n", "mean_diff", "ci_low", "ci_high"]
    cols += ["t", "t_p", "wilcoxon_w", "wilcoxon_p", "note"]
    return _paired_order(pd.DataFrame(out, columns=cols), baselines, order)


# ------------------------------------------------------------------------ label efficiency
def _reach(x: np.ndarray, y: np.ndarray, target: float) -> float:
    """Fewest x at which the piecewise-linear curve (x, y) first reaches ``target``."""
    for i in range(len(x)):
        if y[i] >= target:
            if i == 0:
                return float(x[0])
            x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
            return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))
    return math.nan


def label_efficiency(
    summary: pd.DataFrame, reference: str, order: Sequence[str] = ()
) -> pd.DataFrame:
    """Per task and strategy: labeled samples its mean curve needs to reach ``reference``'s
    final mean (NaN and ``reached = False`` when it never does), and the saving relative
    to the labels the reference used. Tasks without the reference strategy are skipped."""
    out = []
    for task, g in summary.groupby("task", sort=True):
        ref = g[g.strategy == reference].sort_values("cycle")
        if ref.empty:
            continue
        target, ref_labels = float(ref["mean"].iloc[-1]), float(ref.labeled.iloc[-1])
        for strat, s in g.groupby("strategy", sort=True):
            s = s.sort_values("labeled")
            need = _reach(s.labeled.to_numpy(float), s["mean"].to_numpy(float), target)
            out.append(
                {
                    "task": task,
                    "strategy": strat,
                    "target": target,
                    "reference_labeled": ref_labels,
                    "labels_needed": need,
                    "reached": not math.isnan(need),
                    "saving": 1.0 - need / ref_labels if not math.isnan(need) else math.nan,
                }
            )
    cols = ["task", "strategy", "target", "reference_labeled", "labels_needed", "reached"]
    return _ordered(pd.DataFrame(out, columns=[*cols, "saving"]), order)


# ---------------------------------------------------------------- loss-prediction quality
def rank_acc_summary(frame: pd.DataFrame, order: Sequence[str] = ()) -> pd.DataFrame:
    """Ranking accuracy of every logged scorer: mean +/- std over trials per cycle, with a
    ``scorer`` column (from ``eval/rank_acc/<scorer>``)."""
    rows = frame[frame.metric.str.startswith("eval/rank_acc/")]
    out = summarize(rows)
    out.insert(2, "scorer", out.metric.str.removeprefix("eval/rank_acc/"))
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


# --------------------------------------------------------------------------------- cost
def cost_table(frame: pd.DataFrame, order: Sequence[str] = ()) -> pd.DataFrame:
    """Seconds per cycle (mean over trials) of training, scanning and selection per
    (task, strategy, cycle), from the ``time/*`` metrics; ``total_s`` is their sum.

    The last cycle logs no scan or selection (nothing is selected after it): those cells
    are NaN there and count as 0 in the total.
    """
    rows = frame[frame.metric.isin(TIME_KEYS)]
    if rows.empty:
        return pd.DataFrame(columns=["task", "strategy", "cycle", "labeled", "n", "total_s"])
    wide = rows.pivot_table(
        index=["task", "strategy", "cycle"], columns="metric", values="value", aggfunc="mean"
    )
    wide.columns = [c.removeprefix("time/") for c in wide.columns]
    g = rows.groupby(["task", "strategy", "cycle"], sort=True)
    wide["labeled"] = g.labeled.mean()
    wide["n"] = g.trial.nunique()
    parts = [k.removeprefix("time/") for k in TIME_KEYS if k.removeprefix("time/") in wide]
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
    """Fig. 8's data from one ``test_scores`` CSV (columns loss, <scorer>, ...).

    Returns the shown points (score, loss, top): at most ``max_points`` test samples drawn
    without replacement with a fixed seed, the ``top`` fraction of them with the highest
    scores flagged; and n, Pearson and Spearman of score vs true loss over *all* test
    samples with both values (what ``eval/pearson/<scorer>`` logs).
    """
    both = scores[["loss", scorer]].dropna().rename(columns={scorer: "score"})
    n = len(both)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input -> NaN correlation, shown as nan
        pearson = float(stats.pearsonr(both.score, both.loss).statistic) if n > 1 else math.nan
        spearman = float(stats.spearmanr(both.score, both.loss).statistic) if n > 1 else math.nan
    if n > max_points:
        pick = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
        both = both.iloc[pick]
    shown = both.reset_index(drop=True)
    k = math.ceil(top * len(shown))
    order = np.argsort(-shown.score.to_numpy(), kind="stable")  # highest scores first
    flag = np.zeros(len(shown), bool)
    flag[order[:k]] = True
    return shown.assign(top=flag)[["score", "loss", "top"]], n, pearson, spearman
