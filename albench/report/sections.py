"""One task's part of the report, section by section.

Each section is a builder: a short function that takes the task's :class:`TaskContext` and
returns its items (figures, tables, notes), writing their files through the context. The
builders run in the order of :data:`SECTIONS`; :func:`task_section` strings them together.
Everything comes from :class:`~albench.report.data.ReportData`, read beforehand: nothing
here reads the tracking store, and no strategy, task or scorer is named: baselines, display
names, the strategy order, which strategy selects by which score and the paper's numbers
are data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

import pandas as pd

from albench.report import figures as figs
from albench.report import stats
from albench.report.data import ReportData, StrategyInfo
from albench.report.document import Heading, Item, Notes, Section, Writer
from albench.schema import PICK_MEANS, PICKS, PLATEAU, QUALITIES, quality_key, quality_prefix
from albench.verdicts import Looks, looks_for, rounds

__all__ = [
    "SECTIONS",
    "TaskContext",
    "aubc_section",
    "common_note",
    "cost_section",
    "curve_section",
    "efficiency_section",
    "interval",
    "last_cycle_section",
    "paired_section",
    "paper_section",
    "picks_section",
    "scenario_section",
    "ranking_section",
    "scatter_models",
    "scatter_section",
    "scorer_order",
    "spread_section",
    "summary_section",
    "task_section",
    "verdict_section",
    "verdict_words",
]


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
        prefix = quality_prefix("rank_acc")
        logged = {k.removeprefix(prefix) for k in keys if k.startswith(prefix)}
        return logged | set(stats.score_columns(self.data.test_scores.get(run_id)))

    # derived tables, computed once and shared by the sections that show or cite them
    @cached_property
    def last(self) -> pd.DataFrame:
        paper = {(self.task, s): v for s, v in self.paper.get("metric", {}).items()}
        return stats.last_cycle_table(self.summary, paper, self.order)

    @cached_property
    def degenerate(self) -> pd.DataFrame:
        """Per (strategy, scorer): how many trials' test scores were degenerate."""
        spreads = stats.scorer_spreads(self.data.test_scores, self.runs)
        return stats.degenerate_table(spreads, self.order)

    @cached_property
    def degenerate_pairs(self) -> set[tuple[str, str]]:
        d = self.degenerate
        return set(zip(d.strategy[d.degenerate], d.scorer[d.degenerate], strict=True))

    @cached_property
    def blind_selectors(self) -> list[str]:
        """Strategies that select by a score degenerate on their own runs."""
        return [
            s
            for s in stats.strategy_order(self.runs.strategy.unique(), self.order)
            if any((s, sc) in self.degenerate_pairs for sc in self.info(s).scores)
        ]

    @cached_property
    def paired_aubc(self) -> pd.DataFrame:
        return stats.paired_aubc(self.rows, self.baselines, self.order)

    @cached_property
    def verdicts(self) -> pd.DataFrame:
        """Every comparison's verdict, AUBC and last cycle (:func:`stats.verdict_table`)."""
        metric = self.metric
        return stats.verdict_table(
            self.rows, self.baselines, {self.task: metric.equivalence_margin},
            {self.task: metric.max_trials}, self.order,
        )  # fmt: skip

    @cached_property
    def expectation_check(self) -> pd.DataFrame:
        """The scenario check (:func:`stats.expectation_table`) of the task's expectations."""
        metric = self.metric
        return stats.expectation_table(
            self.rows, {self.task: self.data.expectations.get(self.task, [])},
            {self.task: metric.equivalence_margin}, {self.task: metric.max_trials},
        )  # fmt: skip

    @property
    def looks(self) -> Looks:
        """When the task's comparisons were tested (one look, or its rounds)."""
        return looks_for(int(self.runs.trial.max()) + 1, self.metric.max_trials)

    @property
    def max_trials(self) -> int:
        return int(self.frame.groupby("strategy").trial.nunique().max())


# ------------------------------------------------------------------------------ formatting
def _num(v: Any, places: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer() and abs(v) >= 1:
        return str(int(v))
    return f"{v:.{places}f}" if isinstance(v, float) else str(v)


def _p_value(v: float) -> str:
    return "" if v is None or math.isnan(v) else f"{v:.3g}"


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}")


def _mean_std_cells(df: pd.DataFrame, mean: str = "mean") -> list[str]:
    return [_mean_std(m, s) for m, s in zip(df[mean], df["std"], strict=True)]


def _seconds(v: float) -> str:
    return "" if math.isnan(v) else f"{v:.2f}"


def _percent(v: float) -> str:
    return f"{100 * v:.3g} %" if math.isfinite(v) else ""


def _signed(v: float) -> str:
    return "" if math.isnan(v) else f"{v:+.4f}"


def interval(lo: float, hi: float, method: str, signed: bool = False) -> str:
    """An interval with its method: ``[a, b] 95 % t-CI`` or ``[a, b] range``."""
    if math.isnan(lo):
        return ""
    f = _signed if signed else (lambda v: f"{v:.4f}")
    name = {"t95": "95 % t-CI", "range": "range, no CI"}.get(method, method)
    return f"[{f(lo)}, {f(hi)}] {name}"


def _intervals(df: pd.DataFrame, signed: bool = False) -> list[str]:
    rows = zip(df.ci_low, df.ci_high, df.ci_method, strict=True)
    return [interval(lo, hi, m, signed) for lo, hi, m in rows]


def _code_list(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


INTERVAL_RULE = (
    f"Intervals: with n >= {stats.MIN_CI_TRIALS} trials the 95 % Student-t confidence "
    f"interval of the mean; with fewer, the range (min-max) of the trials, which is no "
    "confidence interval."
)
DEGENERATE_RULE = (
    "A scorer is degenerate on a run when its order of the test samples is rounding noise: "
    "it takes a single value, or the central 90 % of its test-set values (5th to 95th "
    f"percentile) span at most {stats.DEGENERATE_ULPS} units in the last place of a float32 "
    "at their magnitude; flagged when it is so on more than half of the trials. A spread "
    "that is small next to a large offset is no flag: the order is what a scorer gives."
)


# -------------------------------------------------------------------------------- sections
def _intro(ctx: TaskContext) -> str:
    n = ctx.frame.groupby("strategy").trial.nunique()
    lo, hi = int(n.min()), int(n.max())
    what = f"metric `eval/{ctx.metric.key}` on the test split after each cycle's last epoch."
    head = (
        f"{len(n)} strategies, {lo}-{hi} trials each; {what}"
        if lo != hi
        else f"{len(n)} strategies x {hi} trials; {what}"
    )
    if hi < stats.MIN_CI_TRIALS:
        head += (
            f" With {hi} trial{'s' if hi != 1 else ''} (fewer than {stats.MIN_CI_TRIALS}), "
            "intervals are ranges of the trials, not confidence intervals, and the tests "
            "below have little power: read the differences as descriptive."
        )
    return head


def verdict_words(verdict: str, needed: float, needed_verdict: str, at: int = 0) -> str:
    """A verdict as the summary says it: "better (decided at 10 trials)", "inconclusive,
    needs about 14 trials (to show better)", "inconclusive, more than 10,000 trials"."""
    if verdict != "inconclusive":
        return verdict + (f" (decided at {at} trials)" if at else "")
    if math.isnan(needed):
        return "inconclusive (too few trials to estimate)"
    if math.isinf(needed):
        return "inconclusive; no number of trials within 10,000 would decide it"
    return f"inconclusive, needs about {needed:.0f} trials (to show {needed_verdict})"


def _best_vs_baselines(ctx: TaskContext, best: str) -> str:
    """The AUBC verdicts that involve ``best``, oriented as best minus other."""
    v = ctx.verdicts
    mine = v[(v.quantity == "aubc") & ((v.strategy == best) | (v.baseline == best))]
    flip = {"better": "worse", "worse": "better"}
    parts = []
    for r in mine.itertuples():
        sign = 1 if r.strategy == best else -1
        other = r.baseline if sign == 1 else r.strategy
        lo, hi = sorted((sign * r.ci_low, sign * r.ci_high))
        verdict = r.verdict if sign == 1 else flip.get(r.verdict, r.verdict)
        needed_verdict = (
            r.needed_verdict if sign == 1 else flip.get(r.needed_verdict, r.needed_verdict)
        )
        words = verdict_words(verdict, r.needed, needed_verdict, r.decided_at)
        parts.append(
            f"vs {ctx.label(other)} {_signed(sign * r.mean_diff)} "
            f"{interval(lo, hi, r.ci_method, True)} (t-test p = {_p_value(r.t_p)}, n = {r.n}): "
            f"**{words}**"
        )
    if not parts:
        return ""
    return f"AUBC verdicts, paired by trial: {'; '.join(parts)}."


def _tally(ctx: TaskContext) -> str:
    """How many comparisons ended in each verdict, per quantity, and where rounds stopped."""
    v = ctx.verdicts
    if v.empty:
        return ""
    parts = []
    for quantity, g in v.groupby("quantity", sort=False):
        counts = g.verdict.value_counts()
        said = ", ".join(
            f"{counts[k]} {k}"
            for k in ("better", "worse", "equivalent", "inconclusive")
            if k in counts
        )
        parts.append(f"{stats.QUANTITIES[quantity]}: {said}")
    return (
        f"Verdicts of the {int((v.quantity == 'aubc').sum())} comparisons with a baseline "
        f"(equivalence bounds ±{ctx.metric.equivalence_margin:g}; table 'Verdicts'): "
        f"{'; '.join(parts)}."
    )


def _rounds_note(ctx: TaskContext) -> str:
    """Where a task run in rounds (trials = "auto") stopped, and why."""
    limit = ctx.metric.max_trials
    if limit is None:
        return ""
    looks = ctx.looks
    aubc = ctx.verdicts[ctx.verdicts.quantity == "aubc"]
    done = bool(len(aubc)) and (aubc.verdict != "inconclusive").all()
    what = "every AUBC comparison was decided"
    if ctx.data.expectations.get(ctx.task):  # a scenario's rounds stop on its expectations
        check = ctx.expectation_check
        check = check[check.outcome != "not run"]
        done = bool(len(check)) and (check.outcome != "undecided").all()
        what = "every expectation of the scenario was decided"
    n = looks.at[-1]
    why = (
        what
        if done
        else f"max_trials = {limit} was reached"
        if n >= limit
        else "the comparisons were not all decided and max_trials was not reached: the run "
        "was stopped early or is unfinished"
    )
    return (
        f'Trials in rounds of {", ".join(map(str, rounds(limit)))} (trials = "auto"): '
        f"stopped after round {len(looks.at)} ({n} trials) because {why}."
    )


def _oracles_note(ctx: TaskContext) -> list[str]:
    """What the oracles' AUBC verdicts against the baselines say: whether the positive
    control (a look-ahead oracle, which picks by the test metric itself) was detected, and
    for every other oracle (which ranks by a quantity that real strategies can only
    estimate, as the true loss) whether estimating that quantity can pay on this task."""
    v = ctx.verdicts
    notes = []
    for name in dict.fromkeys(v.strategy):
        info = ctx.info(name)
        if not info.oracle:
            continue
        mine = v[(v.quantity == "aubc") & (v.strategy == name)]
        said = "; ".join(
            f"vs {ctx.label(r.baseline)} {_signed(r.mean_diff)} (n = {r.n}): "
            f"**{verdict_words(r.verdict, r.needed, r.needed_verdict, r.decided_at)}**"
            for r in mine.itertuples()
        )
        if not said:
            continue
        if info.lookahead:
            found = (
                "**detected**."
                if (mine.verdict == "better").all()
                else "**not detected**: these comparisons cannot yet tell a strategy that "
                "must win from the baselines."
            )
            notes.append(
                f"{ctx.label(name)}, the positive control (the next cycle's test metric "
                f"decides its picks; it must beat every baseline), AUBC: {said}. The control "
                f"was {found}"
            )
            continue
        first = mine.iloc[0]
        meaning = {
            "better": "picking by it exactly beats the baseline, so estimating it well can "
            "pay on this task",
            "worse": "picking by it exactly loses to the baseline: the ceiling of every "
            "strategy that estimates it lies below the baseline here, so none can win by "
            "estimating it more accurately",
            "equivalent": "picking by it exactly does no better than the baseline, so "
            "estimating it cannot pay here beyond the equivalence bounds",
        }.get(first.verdict, "the trials do not yet say what picking by it is worth")
        notes.append(
            f"{ctx.label(name)}, an oracle that ranks by the quantity itself that strategies "
            f"can only estimate, AUBC: {said}. Against {ctx.label(first.baseline)}, {meaning}."
        )
    return notes


def _test_items(ctx: TaskContext) -> int | None:
    """How many items the task's test split has (its runs' test_scores CSVs), if known."""
    sizes = {len(ctx.data.test_scores[r]) for r in ctx.runs.run_id
             if ctx.data.test_scores.get(r) is not None}  # fmt: skip
    return max(sizes) if sizes else None


def _highest(ctx: TaskContext, au: pd.DataFrame) -> str:
    """The highest mean AUBC (picked and tested on the same quantity as the verdicts), or a
    tie when the next differs by less than one test item's share of the metric."""
    best, label = au.iloc[0], ctx.metric.label
    n_test = _test_items(ctx)
    step = 1 / n_test if n_test else 0.0
    tied = [r for r in au.iloc[1:].itertuples() if best.aubc - r.aubc < step]
    last = ctx.last.set_index("strategy")
    at_last = ""
    if best.strategy in last.index:
        row = last.loc[best.strategy]
        at_last = f"; at the last cycle {_mean_std(row['mean'], row['std'])}"
    head = (
        f"Highest mean AUBC (the mean {label} over the budget, "
        f"{_num(best.labeled_from)}-{_num(best.labeled_to)} labels): "
        f"{ctx.label(best.strategy)}, {_num(best.aubc)} ({best.n} trials{at_last})"
    )
    if tied:
        names = _and([f"{ctx.label(r.strategy)} ({_num(r.aubc)})" for r in tied])
        return (
            f"{head}, a tie with {names}: they differ by less than one test item "
            f"(1/{n_test} = {step:.4f} of {label})."
        )
    versus = _best_vs_baselines(ctx, best.strategy)
    return f"{head}. {versus}".strip()


def _rank_acc_interval(ctx: TaskContext, strategy: str, scorer: str) -> tuple[float, float, str]:
    """The interval (:func:`stats.mean_ci`) of a scorer's last-cycle ranking accuracy over
    the strategy's trials."""
    f = ctx.frame
    mine = f[(f.strategy == strategy) & (f.metric == quality_key("rank_acc", scorer))]
    if mine.empty:
        return math.nan, math.nan, ""
    values = mine[mine.cycle == mine.cycle.max()].value.to_numpy(float)
    return stats.mean_ci(values)


PLATEAU_LIMIT = 0.1  # |train/plateau| above this: the loss still moved over the last epochs


def _plateau_note(ctx: TaskContext) -> str:
    """A warning when most cycles of the task ended before training reached a plateau."""
    f = ctx.frame
    values = f[f.metric == PLATEAU].value.abs()
    if values.empty:
        return ""
    share = float((values > PLATEAU_LIMIT).mean())
    if share <= 0.5:
        return ""
    return (
        f"Training had not reached a plateau: on {share:.0%} of the cycles the training loss "
        f"still moved by more than {PLATEAU_LIMIT:.0%} over the last 20 % of the epochs "
        "(|`train/plateau`|), so these curves compare models still learning; more epochs "
        "per cycle would compare them at convergence."
    )


def summary_section(ctx: TaskContext) -> list[Item]:
    """What the task's numbers say, in words: the highest last-cycle mean and whether the
    paired tests back it, the best loss ranking, the degenerate scorers. A degenerate
    scorer, and a strategy selecting by one, is left out of these statements."""
    notes: list[str] = []
    au = stats.aubc_table(ctx.rows, ctx.order)
    au = au[(au.task == ctx.task) & ~au.strategy.isin(ctx.blind_selectors)]
    au = au[~au.strategy.map(lambda s: ctx.info(s).oracle)]  # an oracle is never a winner
    if len(au):
        notes.append(_highest(ctx, au.sort_values("aubc", ascending=False)))
    notes += [n for n in (_tally(ctx), _rounds_note(ctx), _plateau_note(ctx)) if n]
    notes += _oracles_note(ctx)
    rank = stats.rank_acc_summary(ctx.frame, ctx.order)
    if len(rank):
        rl = stats.rank_acc_last(rank, {}, ctx.order)
        pairs = zip(rl.strategy, rl.scorer, strict=True)
        rl = rl[[pair not in ctx.degenerate_pairs for pair in pairs]]
        if len(rl):
            r = rl.loc[rl["mean"].idxmax()]
            note = (
                f"Best ranking of the test losses at the last cycle: the `{r.scorer}` score "
                f"of {ctx.label(r.strategy)}'s model, ranking accuracy "
                f"{_mean_std(r['mean'], r['std'])}"
            )
            lo, hi, method = _rank_acc_interval(ctx, r.strategy, r.scorer)
            if lo <= figs.CHANCE <= hi:
                note += (
                    f": at chance, {figs.CHANCE} lies within its "
                    f"{'range over trials' if method == 'range' else '95 % interval'} "
                    f"[{lo:.3f}, {hi:.3f}]"
                )
            notes.append(note + ".")
    d = ctx.degenerate[ctx.degenerate.degenerate]
    if len(d):
        who = "; ".join(
            f"the `{sc}` score of {', '.join(ctx.labels(g.strategy))}"
            for sc, g in d.groupby("scorer", sort=True)
        )
        note = f"Degenerate scorers, left out of these statements: {who}."
        if ctx.blind_selectors:
            note += (
                f" {_and([ctx.label(s) for s in ctx.blind_selectors])} select"
                f"{'s' if len(ctx.blind_selectors) == 1 else ''} by a degenerate score (its "
                "picks are arbitrary), so it is left out of the 'highest' statement."
            )
        notes.append(note)
    return [Notes("Summary", notes)] if notes else []


def curve_section(ctx: TaskContext) -> list[Item]:
    """Performance curves (paper Figs 4, 6, 7)."""
    fig = figs.curve_figure(ctx.summary, ctx.task, ctx.metric, ctx.styles)
    caption = (
        "Mean over trials with a ±1 std band (sample std, clipped to the metric's range "
        f"[{ctx.metric.low:g}, {ctx.metric.high:g}]); the legend counts the trials "
        "(paper Figs 4, 6, 7)."
    )
    if ctx.max_trials < stats.MIN_CI_TRIALS:
        caption += f" With {ctx.max_trials} trials the std itself is uncertain."
    return [ctx.figure(fig, "curve", f"{ctx.metric.label} vs labeled samples", caption)]


def last_cycle_section(ctx: TaskContext) -> list[Item]:
    """The metric at each strategy's last cycle, the paper's number beside it if any."""
    last = ctx.last
    disp = pd.DataFrame(
        {
            "strategy": ctx.labels(last.strategy),
            "labeled": last.labeled.map(_num),
            "trials": last.n,
            f"{ctx.metric.label} (mean ± std)": _mean_std_cells(last),
            "paper": last.paper.map(_num),
            "paper source": last.paper_source,
        }
    )
    if last.paper.notna().any():
        caption = "; the paper's number beside it (checked in 'Paper check')."
    else:
        disp = disp.drop(columns=["paper", "paper source"])
        caption = f"; the paper has no {ctx.task!r} experiment to compare with."
    caption = "The metric at each strategy's last cycle" + caption
    return [ctx.table(last, disp, Heading("last_cycle", "Last cycle", caption))]


def _quantity(ctx: TaskContext, q: str) -> str:
    if q == "metric":
        return f"{ctx.metric.label} (last cycle)"
    kind, _, scorer = q.partition("/")
    return f"{QUALITIES.get(kind, kind)} of the `{scorer}` score (last cycle)"


def scenario_section(ctx: TaskContext) -> list[Item]:
    """The scenario check (tasks whose runs logged expectations only): each known answer,
    its source, the verdict of its own comparison and whether it was confirmed; then what
    the strategies picked (the picks' diagnostics), which explains it."""
    if not ctx.data.expectations.get(ctx.task):
        return []
    check = ctx.expectation_check
    run = check.outcome != "not run"
    disp = pd.DataFrame(
        {
            "expected": [
                f"{ctx.label(s)} {v} {'to' if v == 'equivalent' else 'than'} {ctx.label(b)}"
                for s, v, b in zip(check.strategy, check.expected, check.baseline, strict=True)
            ],
            "quantity": check.quantity.map(stats.QUANTITIES),
            "source": check.source,
            "verdict": [
                verdict_words(r.verdict, r.needed, "", 0).replace(" (to show )", "")
                if r.outcome != "not run" else ""
                for r in check.itertuples()
            ],
            "n": check.get("n", pd.Series(dtype=float)).map(_num),
            "difference": check.get("mean_diff", pd.Series(dtype=float)).map(_signed),
            "outcome": check.outcome,
        }
    )  # fmt: skip
    said = check.outcome[run].value_counts()
    tally = [f"{said[k]} {k}" for k in ("confirmed", "contradicted", "undecided") if k in said]
    caption = (
        "Each known answer of the scenario (stated by the task with its source) decided by "
        "its own paired comparison, all of a quantity one family (Holm), with the rounds' "
        "alpha spending where the task ran in rounds: confirmed when the verdict is one "
        "expected, contradicted when decided otherwise, undecided when inconclusive, not run "
        "when a strategy of it has no runs. " + (", ".join(tally) or "None decided") + "."
    )
    return [ctx.table(check, disp, Heading("scenario_check", "Scenario check", caption))]


def picks_section(ctx: TaskContext) -> list[Item]:
    """What each strategy picked, not only how well it did (the mechanism behind a
    verdict): the picks' diagnostics per cycle, the class mix of the picks and how much
    the strategies' picks overlap; whatever the runs logged."""
    items: list[Item] = []
    picks = stats.pick_shares(ctx.frame)
    if len(picks):
        items.append(
            ctx.figure(
                figs.picks_figure(picks, ctx.task, ctx.styles), "picks",
                "What each strategy picked",
                "Per cycle, mean ± std over trials, of the cycle's picks: the share that are "
                "copies of another pick or of a labeled item (copy, where the pool has known "
                "copies), that carry a wrong label (honeypot), that are near-duplicates in "
                "the model's embedding (near: closer to another pick or a labeled item than "
                "the 10th percentile of the initial set's nearest-neighbour distances; "
                "a uniform draw's share is the chance level at each cycle), and the mean of each "
                "fact the task records per item (e.g. objects per image).",
            )
        )  # fmt: skip
        each = picks.groupby(["strategy", "metric"], sort=False)["mean"].mean().unstack()
        disp = _by_strategy(
            ctx, each[picks.metric.unique()],
            lambda v: _num2(v) if abs(v) < 100 else f"{v:.4g}",
            lambda m: m.removeprefix(PICK_MEANS).removeprefix(PICKS),
        )  # fmt: skip
        head = Heading(
            "picks_table", "What each strategy picked, over all cycles",
            "The figure's lines averaged over the cycles that select (the CSV has each "
            "cycle: mean, std and n over trials).",
        )  # fmt: skip
        items.append(ctx.table(picks, disp, head))
    mix = stats.class_mix(ctx.frame)
    if len(mix):
        classes = sorted(mix["class"].unique(), key=lambda c: (len(c), c))
        wide = mix.pivot(index="strategy", columns="class", values="share")[classes]
        disp = _by_strategy(ctx, wide, lambda v: f"{100 * v:.1f} %", lambda c: f"class {c}")
        head = Heading(
            "class_mix", "Class mix of the picks",
            "Share of all of a strategy's picks (every cycle and trial) of each true class. "
            "A uniform draw follows the pool's class shares.",
        )  # fmt: skip
        items.append(ctx.table(mix, disp, head))
    overlap = stats.label_overlap(ctx.runs, ctx.data.picks)
    if len(overlap):
        names = stats.strategy_order(set(overlap.strategy), ctx.order)
        wide = overlap.pivot(index="strategy", columns="other", values="mean")
        disp = _by_strategy(ctx, wide.reindex(index=names, columns=names), _num2, ctx.label)
        head = Heading(
            "overlap", "How alike the strategies' picks are",
            "Jaccard overlap |A ∩ B| / |A ∪ B| of the items two strategies picked over all "
            "cycles of the same trial (the shared initial set left out), mean over the "
            "trials both ran (the CSV has std and n). Two strategies that pick alike cannot "
            "differ much in what they reach.",
        )  # fmt: skip
        items.append(ctx.table(overlap, disp, head))
    return items


def _by_strategy(
    ctx: TaskContext, wide: pd.DataFrame, fmt: Callable[[Any], str], header: Callable[[Any], str]
) -> pd.DataFrame:
    """A display table of ``wide`` (one row per strategy, in the report's order): the
    strategy's label, then each column's values formatted by ``fmt``, headed ``header(col)``."""
    wide = wide.loc[stats.strategy_order(wide.index, ctx.order)]
    disp = pd.DataFrame({"strategy": ctx.labels(wide.index.to_series())})
    for col in wide.columns:
        disp[header(col)] = [fmt(v) for v in wide[col]]
    return disp.reset_index(drop=True)


def _num2(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.2f}"


def paper_section(ctx: TaskContext) -> list[Item]:
    """The paper's numbers beside the measured ones, a verdict per number, and whether the
    paper's ordering of the strategies holds under paired tests (tasks with
    ``paper_results`` only)."""
    if not ctx.paper:
        return []
    check = stats.paper_check(ctx.frame, ctx.metric.key, ctx.paper)
    disp = pd.DataFrame(
        {
            "quantity": [_quantity(ctx, q) for q in check.quantity],
            "strategy": ctx.labels(check.strategy),
            "paper": check.paper.map(lambda v: f"{v:.4g}"),
            "source": check.source,
            "labeled": check.labeled.map(_num),
            "trials": check.n,
            "measured (mean ± std)": _mean_std_cells(check, "measured"),
            "difference": check["diff"].map(_signed),
            "tolerance": check.tolerance.map(lambda v: f"±{v:.4f}"),
            "verdict": check.verdict,
        }
    )
    caption = (
        "Measured: mean and sample std over trials of each run's last cycle. Rule: within "
        "tolerance when |measured - paper| <= max(2 x std over trials, floor), floor "
        f"{stats.PAPER_TOLERANCE} for a number the paper gives exactly and "
        f"{stats.PAPER_TOLERANCE_APPROX} for one it gives as approximate ('about'); else "
        "above or below the paper. The paper reports its last cycle; compare the labeled "
        "column with its budget."
    )
    items: list[Item] = [ctx.table(check, disp, Heading("paper_check", "Paper check", caption))]
    published = {s: v for s, (v, _) in ctx.paper.get("metric", {}).items()}
    order = stats.paper_ordering(ctx.rows, published) if len(published) > 1 else None
    if order is None or order.empty:
        return items
    odisp = pd.DataFrame(
        {
            "paper says": [
                f"{ctx.label(a)} > {ctx.label(b)}"
                for a, b in zip(order.higher, order.lower, strict=True)
            ],
            "paper": [
                f"{a:.4f} vs {b:.4f}"
                for a, b in zip(order.paper_higher, order.paper_lower, strict=True)
            ],
            "n": order.n,
            "measured difference": order.mean_diff.map(_signed),
            "interval": _intervals(order, signed=True),
            "t-test p": order.t_p.map(_p_value),
            "Holm p": order.t_p_holm.map(_p_value),
            "verdict": order.verdict,
        }
    )
    held = int((order.verdict == "holds").sum())
    reversed_ = int(order.verdict.str.startswith("reversed").sum())
    chain = " > ".join(ctx.label(s) for s in sorted(published, key=lambda s: -published[s]))
    caption = (
        f"The paper's order {chain}: every pair tested on the last-cycle metric, paired t-test "
        f"by trial, Holm-corrected over the {len(order)} pairs. It holds for a pair when the "
        f"measured difference has the paper's sign and the corrected p < {stats.ALPHA}. "
        f"Here: {held} of {len(order)} pairs hold, {reversed_} reversed."
    )
    head = Heading("paper_ordering", "Does the paper's ordering hold?", caption)
    return [*items, ctx.table(order, odisp, head)]


def scorer_order(pairs: Iterable[tuple[str, str]], infos: Mapping[str, StrategyInfo]) -> list[str]:
    """Scorers from (strategy, scorer) pairs logged: first those only the strategies that
    select by them log, then those other strategies log too; each group alphabetically."""
    pairs = list(pairs)
    own = {s: set(i.scores) for s, i in infos.items()}
    shared = {sc for s, sc in pairs if sc not in own.get(s, set())}
    return sorted({sc for _, sc in pairs} - shared) + sorted(shared)


def _degenerate_flags(ctx: TaskContext, scorers: Iterable[str]) -> dict[str, str]:
    """scorer -> the warning of its ranking-accuracy panel (degenerate scorers only)."""
    out = {}
    d = ctx.degenerate
    for sc in scorers:
        mine = d[d.scorer == sc]
        bad = mine[mine.degenerate]
        if bad.empty:
            continue
        if len(bad) == len(mine):
            out[sc] = "DEGENERATE score (every strategy)"
        elif len(bad) <= 2:
            out[sc] = f"DEGENERATE for {' and '.join(ctx.labels(bad.strategy))}"
        else:
            out[sc] = f"DEGENERATE for {len(bad)} of {len(mine)} strategies"
    return out


def _flag_cells(ctx: TaskContext, strategies: Iterable[str], scorers: Iterable[str]) -> list[str]:
    d = ctx.degenerate.set_index(["strategy", "scorer"])
    out = []
    for key in zip(strategies, scorers, strict=True):
        if key in ctx.degenerate_pairs:
            row = d.loc[key]
            out.append(f"degenerate ({row.degenerate_trials} of {row.trials} trials)")
        else:
            out.append("")
    return out


def ranking_section(ctx: TaskContext) -> list[Item]:
    """Ranking accuracy of every scorer logged (paper Fig. 5), figure and last-cycle table,
    degenerate scorers flagged in both."""
    rank = stats.rank_acc_summary(ctx.frame, ctx.order)
    if rank.empty:
        return ["No `eval/rank_acc/*` metric logged: no ranking-accuracy figure."]
    scorers = scorer_order(zip(rank.strategy, rank.scorer, strict=True), ctx.data.exp.strategies)
    fig = ctx.figure(
        figs.rank_acc_figure(rank, ctx.task, scorers, ctx.styles, _degenerate_flags(ctx, scorers)),
        "rank_acc",
        "Loss-prediction quality: ranking accuracy",
        "Fraction of test pairs (distinct true losses) a score orders like the true "
        "loss, mean ±1 std over trials (clipped to [0, 1]), per scorer (paper Fig. 5). A "
        "degenerate scorer's panel says so in red.",
    )
    paper = {
        (ctx.task, s, q.removeprefix("rank_acc/")): v[0]
        for q, per in ctx.paper.items()
        if q.startswith("rank_acc/")
        for s, v in per.items()
    }
    rl = stats.rank_acc_last(rank, paper, ctx.order)
    columns = {
        "strategy": ctx.labels(rl.strategy),
        "scorer": rl.scorer,
        "labeled": rl.labeled.map(_num),
        "trials": rl.n,
        "ranking accuracy (mean ± std)": _mean_std_cells(rl),
        "paper": rl.paper.map(_num),
    }
    for kind, label in (("pearson", "Pearson r"), ("spearman", "Spearman ρ")):
        last = stats.rank_acc_last(stats.rank_acc_summary(ctx.frame, kind=kind), {})
        found = {
            (t, s): v
            for t, s, v in zip(last.strategy, last.scorer, _mean_std_cells(last), strict=True)
        }
        cells = [found.get(k, "") for k in zip(rl.strategy, rl.scorer, strict=True)]
        if any(cells):
            columns[f"{label} (mean ± std)"] = cells
    columns["scorer check"] = _flag_cells(ctx, rl.strategy, rl.scorer)
    disp = pd.DataFrame(columns)
    if rl.paper.isna().all():
        disp = disp.drop(columns="paper")
    if not any(disp["scorer check"]):
        disp = disp.drop(columns="scorer check")
    head = Heading(
        "ranking_accuracy",
        "Ranking accuracy at the last cycle",
        "With each scorer's Pearson and Spearman correlation with the true test loss.",
    )
    return [fig, ctx.table(rank, disp, head)]


def spread_section(ctx: TaskContext) -> list[Item]:
    """How much each scorer varies over the test set, and which are degenerate."""
    d = ctx.degenerate
    if d.empty:
        return ["No test_scores CSV among the runs' artifacts: no check of the scorers' spread."]
    disp = pd.DataFrame(
        {
            "strategy": ctx.labels(d.strategy),
            "scorer": d.scorer,
            "trials": d.trials,
            "5-95 % of the test set": [
                f"{a:.4g} to {b:.4g}" for a, b in zip(d.q05, d.q95, strict=True)
            ],
            "spread / magnitude": d.relative.map(_percent),
            "degenerate": [
                f"yes ({k} of {n} trials)" if flag else (f"no ({k} of {n})" if k else "no")
                for k, n, flag in zip(d.degenerate_trials, d.trials, d.degenerate, strict=True)
            ],
        }
    )
    caption = f"Medians over trials, last cycle. {DEGENERATE_RULE}"
    head = Heading("scorer_spread", "Scorer spread over the test set", caption)
    return [ctx.table(d, disp, head)]


def scatter_models(ctx: TaskContext) -> list[tuple[str, tuple[str, ...]]]:
    """Fig. 8's figures: (run_id, scorers) per figure, from the runs of the scatter trial.

    One figure per loss-predicting strategy, in strategy order: a strategy with a score of
    its own (one of its class's ``scores`` that no other run logs). Its panels are that
    model's own scores, then the scores every job logs (a task-level uncertainty), from the same
    test_scores CSV: the same model's test samples, side by side. Without such a
    strategy, one figure of the first run, in strategy order, selecting by a score its CSV
    holds (else the first run with any score), with all of its scores.
    """
    runs = ctx.runs[ctx.runs.trial == ctx.trial]
    by_strategy = dict(zip(runs.strategy, runs.run_id, strict=True))
    ordered = stats.strategy_order(by_strategy, ctx.order)
    has = {s: ctx.scorers_of(by_strategy[s]) for s in ordered}
    own = {s: set(ctx.info(s).scores) for s in ordered}
    shared = {sc for s in ordered for sc in has[s] - own[s]}
    columns = {s: stats.score_columns(ctx.data.test_scores.get(by_strategy[s])) for s in ordered}
    out = []
    for s in ordered:
        mine = sorted(has[s] - shared)
        if mine:
            rest = sorted(sc for sc in columns[s] if sc in shared)
            out.append((by_strategy[s], (*mine, *rest)))
    if out:
        return out
    with_csv = [s for s in ordered if columns[s]]
    pick = next((s for s in with_csv if own[s] & set(columns[s])), None) or next(
        iter(with_csv), None
    )
    return [(by_strategy[pick], tuple(columns[pick]))] if pick else []


def _scatter_figure(ctx: TaskContext, run_id: str, scorers: tuple[str, ...]) -> Item:
    """One Fig. 8 figure of one run's model, or the note saying why there is none."""
    rows = ctx.frame[ctx.frame.run_id == run_id]
    run = ctx.runs[ctx.runs.run_id == run_id].iloc[0]
    cycle = int(rows.cycle.max())
    scores = ctx.data.test_scores.get(run_id)
    present = [sc for sc in scorers if sc in stats.score_columns(scores)]
    if scores is None or "loss" not in scores or not present:
        return (
            f"{run['name']}: no test_scores/cycle_{cycle:02d}.csv with {', '.join(scorers)} "
            "values among its artifacts, so no scatter figure for it"
        )
    panels = []
    for sc in present:
        points, n, pearson, spearman = stats.scatter_points(scores, sc)
        spread = stats.score_spread(scores[sc].to_numpy(float))
        why = ""
        if spread["degenerate"]:
            why = f"90 % of the test set within {spread['ulps']:.0f} float32 steps"
        panels.append(figs.ScatterPanel(sc, points, n, pearson, spearman, why))
    labeled = float(rows[rows.cycle == cycle].labeled.iloc[0])
    model = figs.ScatterModel(ctx.task, str(run.strategy), ctx.trial, cycle, labeled)
    fig = figs.scatter_figure(panels, model, ctx.styles)
    label = ctx.label(str(run.strategy))
    caption = (
        f"One model: run {run['name']} at cycle {cycle} ({_num(labeled)} labels), its test "
        f"samples' true loss against each score it has ({', '.join(present)}), so the "
        "correlations are comparable (paper Fig. 8). Log loss axis; at most "
        f"{stats.SCATTER_POINTS:,} randomly chosen test samples shown (fixed seed, the same "
        f"in every panel), grey underneath, the top {stats.SCATTER_TOP:.0%} of all test "
        "samples by the panel's score as coloured rings on top. Spearman's ρ compares orders "
        "(what a selection by the score uses, and what the log axis leaves unchanged), "
        "Pearson's r the raw values; both over all test samples."
    )
    if any(p.degenerate for p in panels):
        caption += f" A red title marks a degenerate score: {DEGENERATE_RULE}"
    title = f"True loss vs the scores of {label}'s model (trial {ctx.trial})"
    return ctx.figure(fig, f"scatter_{run.strategy}", title, caption)


def scatter_section(ctx: TaskContext) -> list[Item]:
    """True loss vs each score of one model at the last cycle (paper Fig. 8)."""
    return [_scatter_figure(ctx, run_id, sc) for run_id, sc in scatter_models(ctx)]


def aubc_section(ctx: TaskContext) -> list[Item]:
    """Normalised area under the budget curve per strategy, with its interval."""
    au = stats.aubc_table(ctx.rows, ctx.order)
    fig = ctx.figure(
        figs.aubc_figure(au, ctx.task, ctx.metric, ctx.styles),
        "aubc",
        "Area under the budget curve",
        "Normalised AUBC (trapezoid area under the curve / labeled range = mean "
        f"{ctx.metric.label} over the budget), mean over trials; solid bars: 95 % t-CI, "
        f"dotted bars: the range of fewer than {stats.MIN_CI_TRIALS} trials (no CI).",
    )
    labels = zip(au.labeled_from, au.labeled_to, strict=True)
    disp = pd.DataFrame(
        {
            "strategy": ctx.labels(au.strategy),
            "labels": [f"{_num(a)}-{_num(b)}" for a, b in labels],
            "trials": au.n,
            "AUBC (mean ± std)": _mean_std_cells(au, "aubc"),
            "interval": _intervals(au),
        }
    )
    head = Heading("aubc", "AUBC per strategy", INTERVAL_RULE)
    return [fig, ctx.table(au, disp, head)]


def _paired_display(ctx: TaskContext, df: pd.DataFrame, aubc: bool) -> pd.DataFrame:
    v = ctx.verdicts
    v = v[v.quantity == ("aubc" if aubc else "last")].set_index(["strategy", "baseline"])
    keys = zip(df.strategy, df.baseline, strict=True)
    out = {
        "strategy": ctx.labels(df.strategy),
        "vs": ctx.labels(df.baseline),
        "verdict": [v.verdict.get(k, "") for k in keys],
    }
    if not aubc:
        out["labeled"] = df.labeled.map(_num)
    out |= {
        "n": df.n,
        "mean diff": df.mean_diff.map(_signed),
        "interval of the diff": _intervals(df, signed=True),
        "t-test p": df.t_p.map(_p_value),
        "Holm": df.t_p_holm.map(_p_value),
        "Wilcoxon p": df.wilcoxon_p.map(_p_value),
        "Holm (W)": df.wilcoxon_p_holm.map(_p_value),
        "note": df.note,
    }
    return pd.DataFrame(out)


def paired_section(ctx: TaskContext) -> list[Item]:
    """Every strategy vs each baseline, paired by trial: over the whole curve and per cycle,
    each p-value beside its effect size and its Holm-corrected value."""
    pa = ctx.paired_aubc
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
        "Strategy minus baseline, paired by trial (trials share seeds across strategies, "
        "paper §4): the mean difference (the effect size) with its interval, then the paired "
        "t-test and Wilcoxon signed-rank p-values, raw and Holm-corrected over the "
        f"{len(pa)} comparisons of this task; the verdict column is that of table 'Verdicts'. "
        f"{INTERVAL_RULE}",
    )
    paired = stats.paired_cycles(ctx.rows, ctx.baselines, ctx.order)
    last_cycle = paired.groupby(["strategy", "baseline"]).cycle.transform("max")
    at_last = Heading(
        "paired_tests",
        "Paired tests at the last cycle",
        "As above, on the metric at the last cycle; Holm over the comparisons of the same "
        "cycle. The CSV holds every cycle.",
    )
    return [
        ctx.table(pa, *common_note(_paired_display(ctx, pa, aubc=True), whole)),
        ctx.table(
            paired,
            *common_note(
                _paired_display(ctx, paired[paired.cycle == last_cycle], aubc=False), at_last
            ),
        ),
    ]


VERDICT_RULE = (
    "Verdict: *better*/*worse* when the paired t-test rejects no difference after Holm's "
    "correction over the comparisons of the table (one family per quantity); *equivalent* "
    "when two one-sided paired t-tests (TOST) show the difference within the equivalence "
    "bounds, Holm-corrected the same way; else *inconclusive*, with the minimum detectable "
    "effect (MDE: the true difference a paired t-test at alpha / m detects with 80 % power "
    "at this n and spread) and the trials that would decide the observed difference with "
    "80 % power. Trials in rounds spend alpha over the rounds (alpha (n / max_trials)^2) "
    "and keep a verdict from the round that reached it."
)


def verdict_section(ctx: TaskContext) -> list[Item]:
    """Every comparison's verdict on the AUBC and at the last cycle, the numbers beside it."""
    v = ctx.verdicts
    if v.empty:
        return []
    disp = pd.DataFrame(
        {
            "quantity": v.quantity.map(stats.QUANTITIES),
            "strategy": ctx.labels(v.strategy),
            "vs": ctx.labels(v.baseline),
            "verdict": [
                w if not d else f"{w} at {d}" for w, d in zip(v.verdict, v.decided_at, strict=True)
            ],
            "n": v.n,
            "mean diff": v.mean_diff.map(_signed),
            "interval of the diff": _intervals(v, signed=True),
            "t-test p": v.t_p.map(_p_value),
            "TOST p": v.tost_p.map(_p_value),
            "Holm's first step": v.holm_level.map(_p_value),
            "MDE": v.mde.map(lambda x: "" if math.isnan(x) else f"{x:.4f}"),
            "trials needed": [
                "" if math.isnan(n) else "> 10,000" if math.isinf(n) else f"{n:.0f} ({w})"
                for n, w in zip(v.needed, v.needed_verdict, strict=True)
            ],
        }
    )
    caption = (
        f"Strategy minus baseline, paired by trial; equivalence bounds "
        f"±{ctx.metric.equivalence_margin:g} {ctx.metric.label} (the task's declared "
        "equivalence_margin; a benchmark file sets another with [tasks.NAME] "
        f"equivalence_margin). {VERDICT_RULE} {INTERVAL_RULE}"
    )
    return [ctx.table(v, disp, Heading("verdicts", "Verdicts", caption))]


def common_note(disp: pd.DataFrame, head: Heading) -> tuple[pd.DataFrame, Heading]:
    """A note every row shares moves from the table's note column into its caption."""
    notes = set(disp.note)
    if len(notes) != 1:
        return disp, head
    note = notes.pop()
    caption = head.caption + (f" Every row: {note}." if note else "")
    return disp.drop(columns="note"), Heading(head.name, head.title, caption)


def efficiency_section(ctx: TaskContext) -> list[Item]:
    """The first measured budget at which each strategy's mean reaches the first
    baseline's final mean (and the interpolation between budgets, labelled as such)."""
    if not ctx.baselines:
        return ["No baseline strategy: label efficiency needs a reference (`--baselines`)."]
    ref = ctx.baselines[0]
    eff = stats.label_efficiency(ctx.summary, ref, ctx.order)
    if eff.empty:
        return [f"No `{ref}` runs: label efficiency needs {ctx.label(ref)}'s final mean."]
    target, ref_labels = eff.target.iloc[0], eff.reference_labeled.iloc[0]
    disp = pd.DataFrame(
        {
            "strategy": ctx.labels(eff.strategy),
            "labels (first measured budget)": [
                f"{v:,.0f}" if r else "not reached"
                for v, r in zip(eff.labels_needed, eff.reached, strict=True)
            ],
            "interpolated (estimate)": [
                f"~{v:,.0f}" if r else ""
                for v, r in zip(eff.labels_interpolated, eff.reached, strict=True)
            ],
            f"saving vs {ctx.label(ref)}": [
                f"{s:.1%}" if r else "" for s, r in zip(eff.saving, eff.reached, strict=True)
            ],
        }
    )
    caption = (
        f"The first measured budget (labeled samples) at which the mean curve reaches "
        f"{ctx.label(ref)}'s final mean {ctx.metric.label} ({target:.4f} at {_num(ref_labels)} "
        "labels); the saving is of that budget. The interpolated column is a linear "
        "estimate between the two budgets around the crossing, not a measurement."
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
        | {f"{c.removesuffix('_s')} (s, all cycles)": per[c].map(_seconds) for c in parts}
    )
    head = Heading("cost", "Cost summed over cycles", "The CSV is per cycle.")
    return [fig, ctx.table(cost, disp, head)]


SECTIONS: tuple[Callable[[TaskContext], list[Item]], ...] = (
    summary_section,
    verdict_section,
    curve_section,
    last_cycle_section,
    paper_section,
    scenario_section,
    picks_section,
    ranking_section,
    spread_section,
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
