"""One task's part of the report, section by section.

Each section is a builder: a short function that takes the task's :class:`TaskContext` and
returns its items (figures, tables, notes), writing their files through the context. The
builders run in the order of :data:`SECTIONS`; :func:`task_section` strings them together.
Everything comes from :class:`~albench.report.data.ReportData`, read beforehand: nothing
here reads the tracking store, and no strategy, task or scorer is named: baselines, display
names, the strategy order and which strategy selects by which score are data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from albench.report import figures as figs
from albench.report import stats
from albench.report.data import ReportData, StrategyInfo
from albench.report.document import Heading, Item, Section, Writer

__all__ = [
    "SECTIONS",
    "TaskContext",
    "aubc_section",
    "cost_section",
    "curve_section",
    "efficiency_section",
    "last_cycle_section",
    "paired_section",
    "ranking_section",
    "scatter_choices",
    "scatter_section",
    "scorer_order",
    "task_section",
]

NON_SCORE_COLUMNS = ("index", "loss")  # the other columns of a test_scores CSV are scores


class TaskContext:
    """One task's share of the report's data, its derived tables, and where its files go."""

    def __init__(self, data: ReportData, task: str, styles: Mapping[str, figs.Style], out: Writer):
        exp = data.exp
        self.task, self.data, self.styles, self.out = task, data, styles, out
        self.metric = exp.metrics[task]
        self.order = exp.order
        self.baselines = data.baselines
        self.trial = data.trials[task]
        self.paper = exp.paper.get(task, {})
        self.frame = exp.frame[exp.frame.task == task]
        self.runs = exp.runs[exp.runs.task == task]
        self.rows = stats.metric_rows(self.frame, exp.task_metrics)
        self.summary = stats.summarize(self.rows)

    def info(self, strategy: str) -> StrategyInfo:
        return self.data.exp.strategies.get(strategy) or StrategyInfo(strategy, strategy)

    def label(self, strategy: str) -> str:
        return self.info(strategy).label

    def labels(self, strategies: pd.Series) -> pd.Series:
        return strategies.map(self.label)

    def figure(self, fig: Any, name: str, title: str, caption: str) -> Item:
        return self.out.figure(fig, self.task, Heading(name, title, caption))

    def table(self, full: pd.DataFrame, display: pd.DataFrame, head: Heading) -> Item:
        return self.out.table(full, display, self.task, head)

    def scorers_of(self, run_id: str) -> set[str]:
        """The scores a run has: its ``eval/rank_acc/<scorer>`` metrics and the columns of
        its last-cycle test_scores CSV that hold a value."""
        keys = self.frame.metric[self.frame.run_id == run_id]
        logged = {k.removeprefix("eval/rank_acc/") for k in keys if k.startswith("eval/rank_acc/")}
        return logged | _score_columns(self.data.test_scores.get(run_id))


# ------------------------------------------------------------------------------ formatting
def _num(v: Any, places: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer() and abs(v) >= 1:
        return str(int(v))
    return f"{v:.{places}f}" if isinstance(v, float) else str(v)


def _p(v: float) -> str:
    return "" if v is None or math.isnan(v) else f"{v:.3g}"


def _pm(mean: float, std: float) -> str:
    return f"{mean:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}")


def _pms(df: pd.DataFrame, mean: str = "mean") -> list[str]:
    return [_pm(m, s) for m, s in zip(df[mean], df["std"], strict=True)]


def _sec(v: float) -> str:
    return "" if math.isnan(v) else f"{v:.2f}"


def _ci(lo: float, hi: float) -> str:
    return "" if math.isnan(lo) else f"[{lo:.4f}, {hi:.4f}]"


def _code_list(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


# -------------------------------------------------------------------------------- sections
def _intro(ctx: TaskContext) -> str:
    n = ctx.frame.groupby("strategy").trial.nunique()
    lo, hi = int(n.min()), int(n.max())
    what = f"metric `eval/{ctx.metric.key}` on the test split after each cycle's last epoch."
    if lo != hi:
        return f"{len(n)} strategies, {lo}-{hi} trials each; {what}"
    return f"{len(n)} strategies x {hi} trials; {what}"


def curve_section(ctx: TaskContext) -> list[Item]:
    """Performance curves (paper Figs 4, 6, 7)."""
    fig = figs.curve_figure(ctx.summary, ctx.task, ctx.metric, ctx.styles)
    caption = (
        "Mean over trials with a ±1 std band; the legend counts the trials (paper Figs 4, 6, 7)."
    )
    return [ctx.figure(fig, "curve", f"{ctx.metric.label} vs labeled samples", caption)]


def last_cycle_section(ctx: TaskContext) -> list[Item]:
    """The metric at each strategy's last cycle, the paper's number beside it if any."""
    paper = {(ctx.task, s): v for s, v in ctx.paper.get("metric", {}).items()}
    last = stats.last_cycle_table(ctx.summary, paper, ctx.order)
    disp = pd.DataFrame(
        {
            "strategy": ctx.labels(last.strategy),
            "labeled": last.labeled.map(_num),
            "trials": last.n,
            f"{ctx.metric.label} (mean ± std)": _pms(last),
            "paper": last.paper.map(_num),
            "paper source": last.paper_source,
        }
    )
    if last.paper.notna().any():
        caption = "; the paper's number beside it (Yoo & Kweon 2019, at 10,000 labels)."
    else:
        disp = disp.drop(columns=["paper", "paper source"])
        caption = f"; the paper has no {ctx.task!r} experiment to compare with."
    caption = "The metric at each strategy's last cycle" + caption
    return [ctx.table(last, disp, Heading("last_cycle", "Last cycle", caption))]


def scorer_order(pairs: Iterable[tuple[str, str]], infos: Mapping[str, StrategyInfo]) -> list[str]:
    """Scorers from (strategy, scorer) pairs logged: first those only the strategies that
    select by them log, then those other strategies log too; each group alphabetically."""
    pairs = list(pairs)
    own = {s: set(i.scores) for s, i in infos.items()}
    shared = {sc for s, sc in pairs if sc not in own.get(s, set())}
    return sorted({sc for _, sc in pairs} - shared) + sorted(shared)


def ranking_section(ctx: TaskContext) -> list[Item]:
    """Ranking accuracy of every scorer logged (paper Fig. 5), figure and last-cycle table."""
    rank = stats.rank_acc_summary(ctx.frame, ctx.order)
    if rank.empty:
        return ["No `eval/rank_acc/*` metric logged: no ranking-accuracy figure."]
    scorers = scorer_order(zip(rank.strategy, rank.scorer, strict=True), ctx.data.exp.strategies)
    fig = ctx.figure(
        figs.rank_acc_figure(rank, ctx.task, scorers, ctx.styles),
        "rank_acc",
        "Loss-prediction quality: ranking accuracy",
        "Fraction of test pairs (distinct true losses) a score orders like the true "
        "loss, mean ±1 std over trials, per scorer (paper Fig. 5).",
    )
    paper = {
        (ctx.task, s, q.removeprefix("rank_acc/")): v[0]
        for q, per in ctx.paper.items()
        if q.startswith("rank_acc/")
        for s, v in per.items()
    }
    rl = stats.rank_acc_last(rank, paper, ctx.order)
    disp = pd.DataFrame(
        {
            "strategy": ctx.labels(rl.strategy),
            "scorer": rl.scorer,
            "labeled": rl.labeled.map(_num),
            "trials": rl.n,
            "ranking accuracy (mean ± std)": _pms(rl),
            "paper": rl.paper.map(_num),
        }
    )
    if rl.paper.isna().all():
        disp = disp.drop(columns="paper")
    head = Heading("ranking_accuracy", "Ranking accuracy at the last cycle")
    return [fig, ctx.table(rank, disp, head)]


def _score_columns(scores: pd.DataFrame | None) -> set[str]:
    """The columns of a test_scores CSV that hold scores with at least one value."""
    if scores is None:
        return set()
    return {
        str(c)
        for c in scores.columns
        if c not in NON_SCORE_COLUMNS and pd.api.types.is_numeric_dtype(scores[c])
        and scores[c].notna().any()
    }  # fmt: skip


def scatter_choices(ctx: TaskContext) -> list[tuple[str, str]]:
    """(run_id, scorer) panels of Fig. 8 from the runs of the scatter trial, in two groups.

    A score that only strategies selecting by it log (their ``scores``) is their own signal:
    one panel per such run, runs in strategy order. A score that other runs log too (a
    task-level uncertainty every job records) is shown once, from the first run in strategy
    order whose strategy selects by it, else the first run that has it; these come last,
    alphabetically. A run's scores: its ``eval/rank_acc/<scorer>`` metrics and the
    non-empty score columns of its last-cycle test_scores CSV.
    """
    runs = ctx.runs[ctx.runs.trial == ctx.trial]
    by_strategy = dict(zip(runs.strategy, runs.run_id, strict=True))
    ordered = stats.strategy_order(by_strategy, ctx.order)
    has = {s: ctx.scorers_of(by_strategy[s]) for s in ordered}
    own = {s: set(ctx.info(s).scores) for s in ordered}
    shared = {sc for s in ordered for sc in has[s] - own[s]}
    out = [(by_strategy[s], sc) for s in ordered for sc in sorted(has[s] - shared)]
    for sc in sorted(shared):
        with_it = [s for s in ordered if sc in has[s]]
        src = next((s for s in with_it if sc in own[s]), with_it[0])
        out.append((by_strategy[src], sc))
    return out


def _scatter_panel(ctx: TaskContext, run_id: str, scorer: str) -> figs.ScatterPanel | str:
    """One Fig. 8 panel, or the note saying why there is none."""
    rows = ctx.frame[ctx.frame.run_id == run_id]
    run = ctx.runs[ctx.runs.run_id == run_id].iloc[0]
    cycle = int(rows.cycle.max())
    scores = ctx.data.test_scores.get(run_id)
    if scores is None or "loss" not in scores or scorer not in _score_columns(scores):
        return (
            f"{run['name']}: no test_scores/cycle_{cycle:02d}.csv with {scorer!r} values "
            "among its artifacts, so no scatter panel for it"
        )
    points, n, pearson, spearman = stats.scatter_points(scores, scorer)
    labeled = float(rows[rows.cycle == cycle].labeled.iloc[0])
    return figs.ScatterPanel(
        strategy=str(run.strategy),
        scorer=scorer,
        trial=ctx.trial,
        cycle=cycle,
        labeled=labeled,
        points=points,
        n_test=n,
        pearson=pearson,
        spearman=spearman,
    )


def scatter_section(ctx: TaskContext) -> list[Item]:
    """True loss vs each score at the last cycle of one trial (paper Fig. 8)."""
    made = [_scatter_panel(ctx, run_id, sc) for run_id, sc in scatter_choices(ctx)]
    notes: list[Item] = [m for m in made if isinstance(m, str)]
    panels = [m for m in made if not isinstance(m, str)]
    if not panels:
        return notes
    caption = (
        f"At most {stats.SCATTER_POINTS:,} randomly chosen test samples (fixed seed); "
        f"the top {stats.SCATTER_TOP:.0%} by score in colour; Pearson and Spearman over all "
        "test samples (paper Fig. 8). A score only the strategies that select by it log gets "
        "a panel per run; a score other runs log too gets one, from the first strategy that "
        "selects by it."
    )
    fig = figs.scatter_figure(panels, ctx.task, ctx.styles)
    title = f"True loss vs score at the last cycle (trial {ctx.trial})"
    return [*notes, ctx.figure(fig, "scatter", title, caption)]


def aubc_section(ctx: TaskContext) -> list[Item]:
    """Normalised area under the budget curve per strategy, with a bootstrap CI."""
    au = stats.aubc_table(ctx.rows, ctx.order)
    fig = ctx.figure(
        figs.aubc_figure(au, ctx.task, ctx.metric, ctx.styles),
        "aubc",
        "Area under the budget curve",
        "Normalised AUBC (trapezoid area under the curve / labeled range = mean "
        f"{ctx.metric.label} over the budget) with a 95 % percentile-bootstrap CI over trials.",
    )
    labels = zip(au.labeled_from, au.labeled_to, strict=True)
    disp = pd.DataFrame(
        {
            "strategy": ctx.labels(au.strategy),
            "labels": [f"{_num(a)}-{_num(b)}" for a, b in labels],
            "trials": au.n,
            "AUBC (mean ± std)": _pms(au, "aubc"),
            "95 % CI": [_ci(lo, hi) for lo, hi in zip(au.ci_low, au.ci_high, strict=True)],
        }
    )
    return [fig, ctx.table(au, disp, Heading("aubc", "AUBC per strategy"))]


def _paired_display(ctx: TaskContext, df: pd.DataFrame, aubc: bool) -> pd.DataFrame:
    out = {
        "strategy": ctx.labels(df.strategy),
        "vs": ctx.labels(df.baseline),
        "n": df.n,
        "mean diff": df.mean_diff.map(lambda v: "" if math.isnan(v) else f"{v:+.4f}"),
    }
    if aubc:
        out["95 % CI"] = [_ci(lo, hi) for lo, hi in zip(df.ci_low, df.ci_high, strict=True)]
    else:
        out["labeled"] = df.labeled.map(_num)
    out |= {
        "t": df.t.map(lambda v: _num(v, 3)),
        "t-test p": df.t_p.map(_p),
        "Wilcoxon p": df.wilcoxon_p.map(_p),
        "note": df.note,
    }
    return pd.DataFrame(out)


def paired_section(ctx: TaskContext) -> list[Item]:
    """Every strategy vs each baseline, paired by trial: over the whole curve and per cycle."""
    pa = stats.paired_aubc(ctx.rows, ctx.baselines, ctx.order)
    if pa.empty:
        if not ctx.baselines:
            return [
                "No paired comparison: no baseline strategy (none of the runs is tagged "
                "`albench.strategy_baseline`; name them with `--baselines`)."
            ]
        return [
            f"No paired comparison: the task has no runs of {_code_list(ctx.baselines)} "
            "besides the strategy itself."
        ]
    whole = Heading(
        "paired_aubc",
        "Paired comparison over the whole curve (AUBC difference)",
        "Strategy minus baseline, paired by trial (trials share seeds across "
        "strategies, paper §4): mean difference with a 95 % bootstrap CI, paired "
        "t-test and Wilcoxon signed-rank p-values; the note says when n is too "
        "small for a p-value to mean anything.",
    )
    paired = stats.paired_cycles(ctx.rows, ctx.baselines, ctx.order)
    last_cycle = paired.groupby(["strategy", "baseline"]).cycle.transform("max")
    last = _paired_display(ctx, paired[paired.cycle == last_cycle], aubc=False)
    at_last = Heading(
        "paired_tests", "Paired tests at the last cycle", "The CSV holds every cycle."
    )
    return [
        ctx.table(pa, _paired_display(ctx, pa, aubc=True), whole),
        ctx.table(paired, last, at_last),
    ]


def efficiency_section(ctx: TaskContext) -> list[Item]:
    """The fewest labels at which each strategy's mean reaches the first baseline's final
    mean."""
    if not ctx.baselines:
        return ["No baseline strategy: label efficiency needs a reference (`--baselines`)."]
    ref = ctx.baselines[0]
    eff = stats.label_efficiency(ctx.summary, ref, ctx.order)
    if eff.empty:
        return [f"No `{ref}` runs: label efficiency needs {ctx.label(ref)}'s final mean."]
    target, ref_labels = eff.target.iloc[0], eff.reference_labeled.iloc[0]
    reached = zip(eff.labels_needed, eff.reached, strict=True)
    saving = zip(eff.saving, eff.reached, strict=True)
    disp = pd.DataFrame(
        {
            "strategy": ctx.labels(eff.strategy),
            "labels to reach it": [
                (f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}") if r else "not reached"
                for v, r in reached
            ],
            f"saving vs {ctx.label(ref)}": [f"{s:.1%}" if r else "" for s, r in saving],
        }
    )
    caption = (
        f"The fewest labeled samples at which the mean curve reaches {ctx.label(ref)}'s final "
        f"mean {ctx.metric.label} ({target:.4f} at {_num(ref_labels)} labels), linearly "
        "interpolated between cycles."
    )
    return [ctx.table(eff, disp, Heading("label_efficiency", "Label efficiency", caption))]


def cost_section(ctx: TaskContext) -> list[Item]:
    """Seconds of training, pool scan and selection per cycle (the ``time/*`` metrics)."""
    cost = stats.cost_table(ctx.frame, ctx.order)
    if cost.empty:
        return ["No `time/*` metrics logged: no cost figure."]
    fig = ctx.figure(
        figs.cost_figure(cost, ctx.task, ctx.styles),
        "cost",
        "Cost per cycle",
        "Seconds of training, pool scan and selection per cycle, mean over trials "
        "(the last cycle selects nothing). Times depend on the machine and on "
        "other jobs sharing it.",
    )
    parts = [c for c in ("train_s", "scan_s", "select_s", "total_s") if c in cost]
    per = cost.groupby("strategy", sort=False)[parts].sum(min_count=1)
    disp = pd.DataFrame(
        {"strategy": ctx.labels(per.index.to_series())}
        | {f"{c.removesuffix('_s')} (s, all cycles)": per[c].map(_sec) for c in parts}
    )
    head = Heading("cost", "Cost summed over cycles", "The CSV is per cycle.")
    return [fig, ctx.table(cost, disp, head)]


SECTIONS: tuple[Callable[[TaskContext], list[Item]], ...] = (
    curve_section,
    last_cycle_section,
    ranking_section,
    scatter_section,
    aubc_section,
    paired_section,
    efficiency_section,
    cost_section,
)


def task_section(ctx: TaskContext) -> Section:
    """The task's whole section: an intro line, then every builder of :data:`SECTIONS`."""
    sec = Section(f"{ctx.task} ({ctx.metric.label})", [_intro(ctx)])
    for build in SECTIONS:
        sec.items += build(ctx)
    return sec
