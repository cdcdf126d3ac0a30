"""Comparison reports: the same tasks across several experiments (two commits, two
settings, two benchmarks), ``albench report --experiment A --experiment B``.

Like :mod:`albench.report.sections`, one builder per section of a task, in the order of
:data:`COMPARE_SECTIONS`, each taking a :class:`CompareContext`. The first experiment
named is the reference: every other is compared with it, strategy by strategy, on the
last-cycle metric and on the AUBC. Runs are paired where they share task, strategy and
trial (at least 2 such trials; the table says whether their seeds agree); otherwise the
comparison is Welch's unpaired t-test. p-values are Holm-corrected over the comparisons of
one task and table, and every p-value sits beside its effect size (the difference of the
means with its interval, :func:`albench.report.stats.mean_ci`). Nothing here names a task
or a strategy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from albench.report import figures as figs
from albench.report import stats
from albench.report.data import CompareData, MetricInfo
from albench.report.document import Heading, Item, Section, Writer
from albench.report.sections import INTERVAL_RULE, common_note, interval
from albench.verdicts import tost_p, verdicts_of, welch_tost_p

__all__ = [
    "COMPARE_SECTIONS",
    "CompareContext",
    "compare_aubc_section",
    "compare_curve_section",
    "compare_experiments",
    "compare_last_section",
    "compare_ranking_section",
    "compare_section",
]


def compare_experiments(
    values: pd.DataFrame,
    experiments: Sequence[str],
    order: Sequence[str] = (),
    delta: float = 0.01,
) -> pd.DataFrame:
    """Each experiment after the first minus the first, per strategy, with a verdict.

    ``values``: experiment, strategy, trial, seed, value (one row per run). Paired by trial
    where the two share at least 2 trials of the strategy (:func:`stats.paired_test`,
    TOST on the differences), else Welch's t-test (:func:`stats.unpaired_test`, Welch's
    TOST); t-test p-values Holm-corrected over all the rows. Verdict
    (:func:`albench.verdicts.verdicts_of`, one look at alpha): better/worse, equivalent
    within +-``margin``, or inconclusive.
    """
    ref = experiments[0]
    out = []
    for other in experiments[1:]:
        for strat in stats.strategy_order(values.strategy.unique(), order):
            a = values[(values.experiment == other) & (values.strategy == strat)]
            b = values[(values.experiment == ref) & (values.strategy == strat)]
            if a.empty or b.empty:
                continue
            a, b = a.set_index("trial").sort_index(), b.set_index("trial").sort_index()
            shared = sorted(set(a.index) & set(b.index))
            if len(shared) >= 2:
                x, y = a.value[shared].to_numpy(), b.value[shared].to_numpy()
                res = stats.paired_test(x, y)
                equivalence = tost_p(x - y, delta)
                same = bool((a.seed[shared].astype(str) == b.seed[shared].astype(str)).all())
                pairing = "paired by trial, " + ("same seeds" if same else "seeds differ")
            else:
                res = stats.unpaired_test(a.value.to_numpy(), b.value.to_numpy())
                equivalence = welch_tost_p(a.value.to_numpy(), b.value.to_numpy(), delta)
                pairing = "unpaired (fewer than 2 shared trials)"
            out.append(
                {"strategy": strat, "experiment": other, "reference": ref}
                | {"n_experiment": len(a), "n_reference": len(b)}
                | {"mean_experiment": a.value.mean(), "std_experiment": a.value.std()}
                | {"mean_reference": b.value.mean(), "std_reference": b.value.std()}
                | {"pairing": pairing}
                | {k: res[k] for k in ("n", "mean_diff", "ci_low", "ci_high", "ci_method")}
                | {"t_p": res["t_p"], "tost_p": equivalence, "note": _t_notes(str(res["note"]))}
            )
    cols = ["strategy", "experiment", "reference", "n_experiment", "n_reference"]
    cols += ["mean_experiment", "std_experiment", "mean_reference", "std_reference"]
    cols += ["pairing", "n", "mean_diff", "ci_low", "ci_high", "ci_method", "t_p", "tost_p"]
    df = pd.DataFrame(out, columns=[*cols, "note"])
    df.insert(len(cols), "t_p_holm", stats.holm(df.t_p.to_numpy(float)) if len(df) else [])
    df.insert(len(cols) + 1, "verdict", verdicts_of(df.mean_diff, df.t_p, df.tost_p))
    return df


def _t_notes(note: str) -> str:
    """The notes of a test result that concern the t-test (comparisons show no Wilcoxon)."""
    return "; ".join(p for p in note.split("; ") if p and not p.startswith("Wilcoxon"))


class CompareContext:
    """One task across the experiments that have it, and where its files go."""

    def __init__(self, data: CompareData, task: str, styles: Mapping[str, figs.Style], out: Writer):
        self.task, self.styles, self.out = task, styles, out
        self.exps = [e for e in data.exps if task in e.task_metrics]
        self.names = [e.experiment for e in self.exps]
        self.infos = data.strategies
        self.order = list(self.infos)
        first = self.exps[0]
        self.metric: MetricInfo = first.metrics[task]
        self.frame = pd.concat(
            [e.frame[e.frame.task == task].assign(experiment=e.experiment) for e in self.exps],
            ignore_index=True,
        )
        self.runs = pd.concat(
            [e.runs[e.runs.task == task].assign(experiment=e.experiment) for e in self.exps],
            ignore_index=True,
        )
        self.rows = pd.concat(
            [
                stats.metric_rows(self.frame[self.frame.experiment == e.experiment], e.task_metrics)
                for e in self.exps
            ],
            ignore_index=True,
        )

    def label(self, strategy: str) -> str:
        info = self.infos.get(strategy)
        return info.label if info else strategy

    def labels(self, strategies: pd.Series) -> pd.Series:
        return strategies.map(self.label)

    def figure(self, fig: Any, name: str, title: str, caption: str) -> Item:
        return self.out.figure(fig, self.task, Heading(name, title, caption))

    def table(self, full: pd.DataFrame, display: pd.DataFrame, head: Heading) -> Item:
        return self.out.table(full, display, self.task, head)

    def per_experiment(self, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
        """``fn`` of each experiment's metric rows, with an ``experiment`` column first."""
        parts = [
            fn(self.rows[self.rows.experiment == name].drop(columns="experiment")).assign(
                experiment=name
            )
            for name in self.names
        ]
        df = pd.concat(parts, ignore_index=True)
        return df[["experiment", *[c for c in df if c != "experiment"]]]

    def with_seeds(self, values: pd.DataFrame) -> pd.DataFrame:
        """``values`` (experiment, strategy, trial, ...) with each run's seed tag."""
        seeds = self.runs[["experiment", "strategy", "trial", "seed"]]
        return values.merge(seeds, on=["experiment", "strategy", "trial"], how="left")


def _mean_std(mean: float, std: float, n: int) -> str:
    if math.isnan(mean):
        return ""
    return f"{mean:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}") + f" (n={n})"


def _mean_std_cells(df: pd.DataFrame, side: str) -> list[str]:
    cols = (df[f"mean_{side}"], df[f"std_{side}"], df[f"n_{side}"])
    return [_mean_std(m, s, n) for m, s, n in zip(*cols, strict=True)]


def _p_value(v: float) -> str:
    return "" if math.isnan(v) else f"{v:.3g}"


def _diff_display(ctx: CompareContext, df: pd.DataFrame) -> pd.DataFrame:
    """A comparison table for index.html: one row per (strategy, experiment vs reference)."""
    rows = zip(df.ci_low, df.ci_high, df.ci_method, strict=True)
    return pd.DataFrame(
        {
            "strategy": ctx.labels(df.strategy),
            "experiment": df.experiment,
            "mean ± std": _mean_std_cells(df, "experiment"),
            "reference": df.reference,
            "reference mean ± std": _mean_std_cells(df, "reference"),
            "verdict": df.verdict,
            "difference": df.mean_diff.map(lambda v: "" if math.isnan(v) else f"{v:+.4f}"),
            "interval of the difference": [interval(lo, hi, m, True) for lo, hi, m in rows],
            "pairing": df.pairing,
            "t-test p": df.t_p.map(_p_value),
            "Holm": df.t_p_holm.map(_p_value),
            "TOST p": df.tost_p.map(_p_value),
            "note": df.note,
        }
    )


def _caption(ctx: CompareContext, what: str) -> str:
    return (
        f"{what}: each experiment minus the reference {ctx.names[0]!r}, per strategy. Paired "
        "by trial where the runs share task, strategy and trial (2 or more such trials), else "
        "Welch's unpaired t-test; p-values raw and Holm-corrected over the rows of this "
        "table. Verdict: better/worse when the t-test rejects after Holm; equivalent when two "
        "one-sided tests (TOST) show the difference within "
        f"±{ctx.metric.equivalence_margin:g}, Holm-corrected the same way; else inconclusive. "
        f"{INTERVAL_RULE}"
    )


# -------------------------------------------------------------------------------- sections
def compare_curve_section(ctx: CompareContext) -> list[Item]:
    """Curves of every strategy, one panel each, one line per experiment."""
    summary = ctx.per_experiment(stats.summarize)
    fig = figs.compare_curve_figure(summary, ctx.task, ctx.metric, ctx.styles, ctx.names)
    caption = (
        "Mean over trials with a ±1 std band (clipped to the metric's range), one panel per "
        "strategy in its colour; the experiment is told by line style and marker (legend)."
    )
    return [ctx.figure(fig, "curve", f"{ctx.metric.label} vs labeled samples", caption)]


def compare_last_section(ctx: CompareContext) -> list[Item]:
    """The last-cycle metric of every strategy in every experiment, and the differences."""
    last = ctx.with_seeds(ctx.per_experiment(stats.last_values))
    diff = compare_experiments(last, ctx.names, ctx.order, ctx.metric.equivalence_margin)
    labeled = last.groupby("experiment").labeled.max()
    budgets = ", ".join(f"{e}: {labeled[e]:,.0f}" for e in ctx.names if e in labeled)
    head = Heading(
        "last_cycle",
        f"Last cycle: {ctx.metric.label} by experiment",
        _caption(ctx, f"{ctx.metric.label} at each run's last cycle (labels {budgets})"),
    )
    return [ctx.table(diff, *common_note(_diff_display(ctx, diff), head))]


def compare_aubc_section(ctx: CompareContext) -> list[Item]:
    """The normalised AUBC of every strategy in every experiment, and the differences."""
    per = ctx.with_seeds(ctx.per_experiment(stats.run_aubc).rename(columns={"aubc": "value"}))
    diff = compare_experiments(per, ctx.names, ctx.order, ctx.metric.equivalence_margin)
    head = Heading(
        "aubc",
        "AUBC by experiment",
        _caption(ctx, f"Normalised AUBC (mean {ctx.metric.label} over each run's budget)"),
    )
    return [ctx.table(diff, *common_note(_diff_display(ctx, diff), head))]


def compare_ranking_section(ctx: CompareContext) -> list[Item]:
    """Last-cycle ranking accuracy of every scorer, one column per experiment."""
    parts = []
    for name in ctx.names:
        rank = stats.rank_acc_summary(ctx.frame[ctx.frame.experiment == name], ctx.order)
        if len(rank):
            parts.append(stats.rank_acc_last(rank, {}, ctx.order).assign(experiment=name))
    if not parts:
        return ["No `eval/rank_acc/*` metric logged: no ranking-accuracy comparison."]
    long = pd.concat(parts, ignore_index=True)
    keys = long[["strategy", "scorer"]].drop_duplicates()
    rank = {s: i for i, s in enumerate(stats.strategy_order(keys.strategy, ctx.order))}
    keys = keys.assign(_r=keys.strategy.map(rank)).sort_values(["_r", "scorer"])
    disp: dict[str, list[str]] = {"strategy": [], "scorer": []}
    disp |= {name: [] for name in ctx.names}
    for k in keys.itertuples():
        disp["strategy"].append(ctx.label(k.strategy))
        disp["scorer"].append(k.scorer)
        for name in ctx.names:
            r = long[(long.experiment == name) & (long.strategy == k.strategy)]
            r = r[r.scorer == k.scorer]
            cell = _mean_std(r["mean"].iloc[0], r["std"].iloc[0], r.n.iloc[0]) if len(r) else ""
            disp[name].append(cell)
    full = long[["experiment", *[c for c in long if c not in ("experiment", "paper")]]]
    head = Heading(
        "ranking_accuracy",
        "Ranking accuracy at the last cycle by experiment",
        "Mean ± std over trials of `eval/rank_acc/<scorer>` at each run's last cycle, one "
        "column per experiment.",
    )
    return [ctx.table(full, pd.DataFrame(disp), head)]


COMPARE_SECTIONS: tuple[Callable[[CompareContext], list[Item]], ...] = (
    compare_curve_section,
    compare_last_section,
    compare_aubc_section,
    compare_ranking_section,
)


def _intro(ctx: CompareContext) -> str:
    parts = []
    for e in ctx.exps:
        runs = ctx.runs[ctx.runs.experiment == e.experiment]
        trials = runs.groupby("strategy").trial.nunique()
        shas = sorted(set(runs.git_sha) - {""}) or ["unknown"]
        lo, hi = int(trials.min()), int(trials.max())
        count = f"{lo}" if lo == hi else f"{lo}-{hi}"
        parts.append(
            f"{e.experiment!r}: {len(runs)} runs, {len(trials)} strategies x {count} "
            f"trial{'s' if hi != 1 else ''}, commit {', '.join(shas)}"
        )
    text = f"Reference: {ctx.names[0]!r}. " + "; ".join(parts) + "."
    other = {e.metrics[ctx.task].key for e in ctx.exps}
    if len(other) > 1:
        text += f" The experiments log different metrics ({', '.join(sorted(other))})."
    return text


def compare_section(ctx: CompareContext) -> Section:
    """The task's whole comparison: an intro line, then every builder of
    :data:`COMPARE_SECTIONS`."""
    sec = Section(f"{ctx.task} ({ctx.metric.label}): {' vs '.join(ctx.names)}", [_intro(ctx)])
    for build in COMPARE_SECTIONS:
        sec.items += build(ctx)
    return sec
