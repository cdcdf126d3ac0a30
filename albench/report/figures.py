"""Pure figure functions: tables in, :class:`matplotlib.figure.Figure` out (no files, no
pyplot state), drawn in seaborn's paper style.

The figures of Yoo & Kweon, CVPR 2019: performance curves (Figs 4, 6, 7: the task's metric
vs labeled samples, mean +/- 1 std over trials), ranking accuracy of every scorer (Fig. 5),
true loss against the per-sample scores of *one* model at the last cycle with the top 20 %
by score highlighted (Fig. 8), plus the normalised area under each curve, the time each
cycle took, and the curves of several experiments side by side (comparison reports).

Rules every figure keeps (``tests/report/test_report_figures.py`` checks them on the saved
figures' artists):

- **legends never cover data**: they sit outside the axes, below them (one legend per
  figure, :func:`_legend_below`);
- **ranges**: a std band is clipped to the metric's declared range and so is the y axis
  (:func:`_clip_y`): an accuracy never shows above 1;
- **overlapping curves stay visible**: each strategy has its own colour, marker *and* line
  style (a grey-scale print still tells them apart); strategies earlier in the order are
  drawn first with wider lines and larger markers, later ones on top of them, thinner,
  smaller and broken (dash-dot, dotted), so a curve under an identical one shows through
  its gaps and around its markers;
- **oracles** are dashed with hollow markers; **colours** are fixed per strategy across
  every figure and task of a report (:func:`strategy_styles`, from the report's whole
  strategy list);
- axis labels with units; text as paths in SVG (no font needed to view it).

No strategy, task or scorer is named here: display names and ranges come in with the data
(:class:`Style`, :class:`~albench.report.data.MetricInfo`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure  # used without pyplot: no GUI backend, no global state
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from albench.report.data import MetricInfo, StrategyInfo
from albench.schema import PICK_MEANS, PICKS

__all__ = [
    "ScatterModel",
    "ScatterPanel",
    "Style",
    "aubc_figure",
    "compare_curve_figure",
    "cost_figure",
    "curve_figure",
    "rank_acc_figure",
    "scatter_figure",
    "scorer_label",
    "strategy_styles",
    "style",
]

X_LABEL = "labeled training samples (count)"
# Seaborn's "colorblind" palette (Wong, Nature Methods 2011), slots in the order strategies
# get them: blue, orange, green, vermillion, purple, sky, brown, pink, yellow, grey.
_COLOUR_SLOTS = (0, 1, 2, 3, 4, 9, 5, 6, 8, 7)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
ORACLE_LINESTYLE = "--"  # oracle strategies: dashed (and hollow markers), apart from the rest
# The other strategies, by position: solid first, then dash-dot, dotted, dash-dot-dot and
# long-dash-dot patterns (never plain dashes): a curve drawn on top of an identical one lets
# the one beneath show through its gaps.
LINESTYLES = (
    "-",
    (0, (5, 1.5, 1.5, 1.5)),
    (0, (1.5, 1.2)),
    (0, (5, 1.5, 1.5, 1.5, 1.5, 1.5)),
    (0, (9, 1.5, 1.5, 1.5)),
)
# Comparison reports: experiment i of a strategy's panel (the colour stays the strategy's).
EXPERIMENT_LINESTYLES = ("-", ":", "-.", (0, (5, 1.5, 1, 1.5)))
EXPERIMENT_MARKERS = ("o", "s", "^", "D")
BAND_ALPHA = 0.16  # +/- 1 std band over trials
DPI = 150  # PNG resolution: sharp on screen, small enough to inline in index.html
PANEL = (4.2, 3.2)  # inches per panel: two fit a column of a paper at full size
WIDEST, NARROWEST = 3.0, 1.2  # line widths (pt): the first strategy's, the last one's
LARGEST, SMALLEST = 8.5, 4.5  # marker sizes (pt), likewise
DEGENERATE_COLOUR = "#b00000"  # titles of a degenerate scorer's panel
CHANCE = 0.5  # ranking accuracy of an uninformative or constant score


def scorer_label(scorer: str) -> str:
    """How figures name a scorer, apart from a strategy of the same name: "<name> score"."""
    return f"{scorer} score"


# every figure names its own layout; a matplotlibrc's automatic one would redo it
NO_LAYOUT = {"figure.autolayout": False, "figure.constrained_layout.use": False}
STYLE = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("paper", font_scale=1.1),
    "font.family": "DejaVu Sans",  # bundled with matplotlib: same glyphs on every machine
    "svg.fonttype": "path",  # SVG text as paths: no font needed to view it
    "svg.hashsalt": "albench-report",  # fixed ids in SVG: byte-for-byte reproducible files
    "pdf.fonttype": 42,
    "legend.frameon": False,
    "axes.titlesize": "medium",
    **NO_LAYOUT,
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The report's matplotlib settings, for drawing and saving alike."""
    with matplotlib.rc_context(STYLE):
        yield


@dataclass(frozen=True)
class Style:
    """How one strategy is drawn in every figure of a report."""

    label: str  # legend and axis text
    colour: tuple[float, ...]
    marker: str
    linestyle: str | tuple = "-"
    width: float = 1.6  # line width (pt)
    size: float = 5.0  # marker size (pt)
    oracle: bool = False  # dashed, hollow markers

    def line(self, **kw) -> dict:
        """Keyword arguments of ``Axes.plot`` for this strategy (``kw`` overrides)."""
        return {
            "color": self.colour,
            "marker": self.marker,
            "ls": self.linestyle,
            "lw": self.width,
            "ms": self.size,
            "mfc": "white" if self.oracle else self.colour,
            "mec": self.colour if self.oracle else "white",
            "mew": 1.2 if self.oracle else 0.6,
        } | kw


def _spread(i: int, n: int, first: float, last: float) -> float:
    """The i-th of n values from ``first`` to ``last`` (``first`` when n == 1)."""
    return first if n <= 1 else first + (last - first) * i / (n - 1)


def strategy_styles(strategies: Sequence[StrategyInfo]) -> dict[str, Style]:
    """strategy name -> :class:`Style`, colours, markers and line styles by position in
    ``strategies`` (given in strategy order), line widths and marker sizes shrinking along
    it (drawn in that order, a later curve lies on an earlier one without hiding it),
    oracles dashed with hollow markers."""
    palette = sns.color_palette("colorblind", 10)
    out = {}
    n = len(strategies)
    real = [s.name for s in strategies if not s.oracle]
    for i, info in enumerate(strategies):
        colour = (
            palette[_COLOUR_SLOTS[i]]
            if i < len(_COLOUR_SLOTS)
            else sns.color_palette("husl", 20)[i % 20]
        )
        out[info.name] = Style(
            label=info.label,
            colour=tuple(colour),
            marker=_MARKERS[i % len(_MARKERS)],
            linestyle=ORACLE_LINESTYLE
            if info.oracle
            else LINESTYLES[real.index(info.name) % len(LINESTYLES)],
            width=round(_spread(i, n, WIDEST, NARROWEST), 3),
            size=round(_spread(i, n, LARGEST, SMALLEST), 3),
            oracle=info.oracle,
        )
    return out


def _trials(n: pd.Series) -> str:
    lo, hi = int(n.min()), int(n.max())
    count = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return f"{count} trial{'s' if hi != 1 else ''}"


def _in_order(names: Iterable[str], styles: Mapping[str, Style]) -> list[str]:
    """``names`` in the order of ``styles`` (strategy order)."""
    present = set(names)
    return [s for s in styles if s in present]


# ------------------------------------------------------------------ legends and ranges
def _legend_below(
    fig: Figure, axes: Sequence, ncols: int = 3, styles: Mapping[str, Style] | None = None
) -> None:
    """One legend for the whole figure, outside and below every axes (never over data):
    the labelled artists of ``axes``, each label once; strategies in the order of
    ``styles`` (a label starting with a strategy's display name is that strategy's), then
    the other artists in drawing order."""
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    if styles:
        names = [st.label for st in styles.values()]

        def rank(i: int) -> int:
            hits = [
                k for k, n in enumerate(names) if labels[i] == n or labels[i].startswith(n + " (")
            ]
            return hits[-1] if hits else len(names)

        keep = sorted(range(len(labels)), key=lambda i: (rank(i), i))
        handles, labels = [handles[i] for i in keep], [labels[i] for i in keep]
    ncols = min(ncols, len(labels))
    while handles:  # as many columns as fit the figure's width: never cut at its edges
        legend = fig.legend(
            handles, labels, loc="outside lower center", ncols=ncols,
            fontsize="small", markerscale=0.9, handlelength=2.6,
        )  # fmt: skip
        width = legend.get_window_extent().width  # needs no canvas of a backend
        if width <= 0.98 * fig.bbox.width or ncols == 1:
            return
        legend.remove()
        ncols -= 1


def _clip_y(ax, limits: tuple[float, float], values: Iterable[float]) -> None:
    """The y axis around ``values`` with a margin, never beyond ``limits`` (the metric's
    declared range)."""
    lo, hi = limits
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    if not len(v):
        ax.set_ylim(lo, hi)
        return
    vmin, vmax = float(v.min()), float(v.max())
    pad = 0.06 * (vmax - vmin) if vmax > vmin else 0.02 * (hi - lo)
    ax.set_ylim(max(lo, vmin - pad), min(hi, vmax + pad))


def _band_lines(
    ax, summary: pd.DataFrame, styles: Mapping[str, Style], limits: tuple[float, float]
) -> list[float]:
    """One line per strategy: mean with markers, a +/- 1 std band clipped to ``limits``
    (the metric's range), trial counts in the label. Returns every y drawn."""
    ys: list[float] = []
    for strat in _in_order(summary.strategy.unique(), styles):
        s = summary[summary.strategy == strat].sort_values("labeled")
        st = styles[strat]
        x, m, sd = s.labeled.to_numpy(), s["mean"].to_numpy(), s["std"].to_numpy()
        label = f"{st.label} ({_trials(s.n)})"
        ax.plot(x, m, label=label, **st.line())
        ys += list(m)
        if np.isfinite(sd).any():
            sd = np.nan_to_num(sd)
            lo, hi = np.clip(m - sd, *limits), np.clip(m + sd, *limits)
            ax.fill_between(x, lo, hi, color=st.colour, alpha=BAND_ALPHA, lw=0)
            ys += list(lo) + list(hi)
    return ys


def _budget_axis(ax, labeled: Iterable[float]) -> None:
    """The x-axis of a curve against labeled samples: its label, and ticks at the measured
    budgets (every k-th when there are more than 12, the first and the last kept)."""
    ax.set_xlabel(X_LABEL)
    ticks = sorted({float(x) for x in labeled if np.isfinite(x)})
    if not ticks:
        return
    step = math.ceil(len(ticks) / 12)
    shown = ticks[::step] if ticks[::step][-1] == ticks[-1] else [*ticks[::step], ticks[-1]]
    ax.set_xticks(shown, [f"{t:g}" for t in shown])


def curve_figure(
    summary: pd.DataFrame, task: str, metric: MetricInfo, styles: Mapping[str, Style]
) -> Figure:
    """Paper Figs 4, 6, 7: the task's metric vs labeled samples (mean +/- 1 std)."""
    fig = Figure(figsize=(PANEL[0] * 1.5, PANEL[1] * 1.45), layout="constrained")
    ax = fig.add_subplot()
    ys = _band_lines(ax, summary, styles, (metric.low, metric.high))
    _clip_y(ax, (metric.low, metric.high), ys)
    _budget_axis(ax, summary.labeled)
    ax.set_ylabel(f"test {metric.label}")
    ax.set_title(f"{task}: {metric.label} vs labeled samples (mean ± 1 std over trials)")
    _legend_below(fig, [ax], styles=styles)
    return fig


def picks_figure(picks: pd.DataFrame, task: str, styles: Mapping[str, Style]) -> Figure:
    """What the strategies picked: one panel per diagnostic of the picks (``picks/...``
    metrics, :func:`albench.report.stats.pick_shares`), mean +/- 1 std over trials; shares
    on 0..1, the facts' means (``picks/mean/<fact>``) on their own scale."""
    kinds = list(dict.fromkeys(picks.metric))
    cols = min(len(kinds), 4)
    rows = math.ceil(len(kinds) / cols)
    fig = Figure(figsize=(PANEL[0] * cols, PANEL[1] * (rows + 0.45)), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).reshape(-1)
    for ax, kind in zip(axes, kinds, strict=False):
        share = kind.endswith("_share")
        limits = (0.0, 1.0) if share else (-math.inf, math.inf)
        ys = _band_lines(ax, picks[picks.metric == kind], styles, limits)
        if share:
            _clip_y(ax, (0.0, 1.0), [0.0, *ys])
            what = kind.removeprefix(PICKS).removesuffix("_share")
            ax.set_title(f"{task}: share of the picks, {what}")
        else:
            ax.set_title(f"{task}: mean over the picks, {kind.removeprefix(PICK_MEANS)}")
        _budget_axis(ax, picks.labeled)
    for ax in axes[len(kinds) :]:
        ax.set_visible(False)
    _legend_below(fig, axes[: len(kinds)], ncols=4, styles=styles)
    return fig


def rank_acc_figure(
    summary: pd.DataFrame,
    task: str,
    scorers: Sequence[str],
    styles: Mapping[str, Style],
    flags: Mapping[str, str] | None = None,
) -> Figure:
    """Paper Fig. 5: ranking accuracy of each scorer vs labeled samples, one panel per
    scorer (in the order of ``scorers``), one line per strategy that logged it. ``flags``:
    scorer -> a warning shown in red under its panel's title (a degenerate scorer)."""
    flags = flags or {}
    fig = Figure(figsize=(PANEL[0] * len(scorers), PANEL[1] * 1.45), layout="constrained")
    axes = fig.subplots(1, len(scorers), sharey=True, squeeze=False)[0]
    ys: list[float] = [CHANCE]
    for ax, scorer in zip(axes, scorers, strict=True):
        ys += _band_lines(ax, summary[summary.scorer == scorer], styles, (0.0, 1.0))
        ax.axhline(CHANCE, color="0.35", lw=0.9, ls=":", label=f"chance ({CHANCE})", zorder=0)
        title = f"{task}: ranking accuracy of the {scorer_label(scorer)}"
        if scorer in flags:
            ax.set_title(f"{title}\n{flags[scorer]}", color=DEGENERATE_COLOUR)
        else:
            ax.set_title(title)
        _budget_axis(ax, summary.labeled)
    _clip_y(axes[0], (0.0, 1.0), ys)  # shared y: one range for every panel
    axes[0].set_ylabel("ranking accuracy (fraction of test pairs)")
    _legend_below(fig, axes, ncols=4, styles=styles)
    return fig


# ------------------------------------------------------------------------------ Fig. 8
@dataclass(frozen=True)
class ScatterPanel:
    """One Fig. 8 panel: a score of the model against the true loss."""

    scorer: str
    points: pd.DataFrame  # score, loss, top (bool): the shown sample (<= 2,000 points)
    n_test: int  # test samples the correlations are computed over
    pearson: float
    spearman: float
    degenerate: str = ""  # why the score is degenerate ("": it is not)


@dataclass(frozen=True)
class ScatterModel:
    """The model the panels of one Fig. 8 come from: one run at one cycle."""

    task: str
    strategy: str
    trial: int
    cycle: int
    labeled: float


def _plain(value: float, _position: object = None) -> str:
    """A tick label as a plain number (0.005, 0.01, 2, 50), never 5×10⁻³."""
    return f"{value:g}"


def _loss_scale(ax, losses: np.ndarray) -> str:
    """Log scale for the true loss when it is positive, else symlog, linear below the
    smallest positive loss; ticks at 1, 2 and 5 times the powers of ten, labelled as plain
    numbers, the minor ones unlabelled. Returns the axis label's scale note."""
    positive = losses[losses > 0]
    if len(positive) and len(positive) == len(losses):
        ax.set_yscale("log")
        note = "log scale"
    else:
        thresh = float(positive.min()) if len(positive) else 1e-3
        ax.set_yscale("symlog", linthresh=thresh, linscale=0.3)
        note = f"symlog, linear below {thresh:.2g}"
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8))
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    ax.yaxis.set_minor_formatter(NullFormatter())
    return note


def _below_zero(scores: np.ndarray) -> str:
    """A panel's note on scores below 0, where no loss lies ("": none is)."""
    below = int((scores < 0).sum())
    if not below:
        return ""
    return (
        f"\n{below:,} of the {len(scores):,} shown scores below 0,\n"
        "where no loss lies: the score is not on the loss's scale"
    )


def scatter_figure(
    panels: Sequence[ScatterPanel], model: ScatterModel, styles: Mapping[str, Style]
) -> Figure:
    """Paper Fig. 8 for one model: true test loss vs each of its scores, side by side.

    All shown points are visible: the others in grey (translucent, drawn first), the top
    20 % by the panel's score as hollow rings in the strategy's colour on top, so neither
    group hides the other. The loss axis is logarithmic (symlog when a loss is 0).
    """
    st = styles[model.strategy]
    cols = len(panels)
    fig = Figure(figsize=(PANEL[0] * 1.1 * cols, PANEL[1] * 1.45), layout="constrained")
    axes = fig.subplots(1, cols, sharey=True, squeeze=False)[0]
    losses = np.concatenate([p.points.loss.to_numpy(float) for p in panels])
    for ax, p in zip(axes, panels, strict=True):
        rest, top = p.points[~p.points.top], p.points[p.points.top]
        ax.scatter(
            rest.score, rest.loss, s=7, color="0.45", alpha=0.35, lw=0, zorder=2,
            label="other test samples",
        )  # fmt: skip
        ax.scatter(
            top.score, top.loss, s=16, facecolors="none", edgecolors=[st.colour], alpha=0.9,
            lw=0.8, zorder=3, label="top 20 % by the panel's score",
        )  # fmt: skip
        corr = (
            f"Spearman ρ = {p.spearman:.3f} (order), Pearson r = {p.pearson:.3f} (values)\n"
            f"n = {p.n_test:,} test samples ({len(p.points):,} shown)"
            f"{_below_zero(p.points.score.to_numpy(float))}"
        )
        name = scorer_label(p.scorer)
        if p.degenerate:
            title = f"{name}: DEGENERATE ({p.degenerate})\n{corr}"
            ax.set_title(title, color=DEGENERATE_COLOUR, fontsize="small")
        else:
            ax.set_title(f"{name}\n{corr}", fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.set_xlabel(f"{name} of the model")
    scale = _loss_scale(axes[0], losses)
    axes[0].set_ylabel(f"true test loss per sample ({scale})")
    fig.suptitle(
        f"{model.task}: one model, {st.label}, trial {model.trial}, cycle {model.cycle} "
        f"({int(model.labeled):,} labels)"
    )
    _legend_below(fig, axes)
    return fig


# ------------------------------------------------------------------- AUBC, cost, compare
def aubc_figure(
    table: pd.DataFrame, task: str, metric: MetricInfo, styles: Mapping[str, Style]
) -> Figure:
    """Normalised area under the budget curve per strategy with its interval: a 95 %
    t-interval (solid bar) or, with fewer than 5 trials, the range of the trials (dotted)."""
    t = table.reset_index(drop=True)
    fig = Figure(figsize=(PANEL[0] * 1.4, PANEL[1] * 1.1), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(t))[::-1]
    xs: list[float] = []
    for yi, row in zip(y, t.itertuples(), strict=True):
        st = styles[row.strategy]
        err = [[row.aubc - row.ci_low], [row.ci_high - row.aubc]]
        err = np.nan_to_num(np.asarray(err, float))
        face = "none" if st.oracle else st.colour  # oracles hollow
        bars = ax.errorbar(
            row.aubc, yi, xerr=err, fmt=st.marker, color=st.colour, mfc=face, capsize=3, ms=6
        )
        if row.ci_method == "range":
            bars[2][0].set_linestyle(":")
        xs += [row.aubc, row.ci_low, row.ci_high]
    labels = [f"{styles[s].label} (n={n})" for s, n in zip(t.strategy, t.n, strict=True)]
    ax.set_yticks(y, labels)
    lo, hi = metric.low, metric.high
    v = [x for x in xs if math.isfinite(x)]
    if v:
        pad = 0.08 * (max(v) - min(v)) if max(v) > min(v) else 0.02 * (hi - lo)
        ax.set_xlim(max(lo, min(v) - pad), min(hi, max(v) + pad))
    ax.set_xlabel(f"normalised AUBC: mean {metric.label} over the budget")
    methods = set(t.ci_method)
    if methods == {"range"}:
        whiskers = "dotted: min-max range of the trials (fewer than 5: no interval)"
    elif "range" in methods:
        whiskers = "solid: 95 % t-interval; dotted: min-max range (fewer than 5 trials)"
    else:
        whiskers = "whiskers: 95 % t-interval of the mean"
    ax.set_title(f"{task}: AUBC, mean over trials\n{whiskers}", fontsize="small")
    return fig


def cost_figure(cost: pd.DataFrame, task: str, styles: Mapping[str, Style]) -> Figure:
    """Seconds per cycle of training, pool scan and selection vs labeled samples."""
    parts = [c for c in ("train_s", "scan_s", "select_s") if c in cost]
    names = {"train_s": "training", "scan_s": "pool scan", "select_s": "selection"}
    fig = Figure(figsize=(PANEL[0] * len(parts), PANEL[1] * 1.35), layout="constrained")
    axes = fig.subplots(1, len(parts), squeeze=False)[0]
    for ax, part in zip(axes, parts, strict=True):
        for strat in _in_order(cost.strategy.unique(), styles):
            s = cost[cost.strategy == strat].dropna(subset=[part]).sort_values("labeled")
            st = styles[strat]
            ax.plot(s.labeled, s[part], label=st.label, **st.line())
        ax.set_title(f"{task}: {names[part]} time")
        _budget_axis(ax, cost.labeled)
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("seconds per cycle (s, mean over trials)")
    _legend_below(fig, axes, ncols=5, styles=styles)
    return fig


def compare_curve_figure(
    summary: pd.DataFrame,
    task: str,
    metric: MetricInfo,
    styles: Mapping[str, Style],
    experiments: Sequence[str],
) -> Figure:
    """Comparison reports: one panel per strategy, one curve per experiment (mean +/- 1
    std, clipped to the metric's range); the strategy keeps its colour, the experiment is
    told by line style and marker (hollow for every experiment after the first)."""
    strategies = _in_order(summary.strategy.unique(), styles)
    cols = min(3, len(strategies))
    rows = math.ceil(len(strategies) / cols)
    size = (PANEL[0] * 1.05 * cols, PANEL[1] * 1.05 * rows + 0.5)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False).ravel()
    ys: list[float] = []
    for ax, strat in zip(axes, strategies, strict=False):
        st = styles[strat]
        for i, exp in enumerate(experiments):
            s = summary[(summary.strategy == strat) & (summary.experiment == exp)]
            if s.empty:
                continue
            s = s.sort_values("labeled")
            x, m, sd = s.labeled.to_numpy(), s["mean"].to_numpy(), s["std"].to_numpy()
            kw = st.line(
                ls=EXPERIMENT_LINESTYLES[i % len(EXPERIMENT_LINESTYLES)],
                marker=EXPERIMENT_MARKERS[i % len(EXPERIMENT_MARKERS)],
                mfc=st.colour if i == 0 else "white", mec=st.colour, lw=2.0, ms=6,
            )  # fmt: skip
            ax.plot(x, m, **kw)
            ys += list(m)
            if np.isfinite(sd).any():
                sd = np.nan_to_num(sd)
                limits = (metric.low, metric.high)
                lo, hi = np.clip(m - sd, *limits), np.clip(m + sd, *limits)
                ax.fill_between(x, lo, hi, color=st.colour, alpha=BAND_ALPHA * 0.8, lw=0)
                ys += list(lo) + list(hi)
        oracle = " (oracle)" if st.oracle else ""
        ax.set_title(f"{st.label}{oracle}", color=st.colour)
        _budget_axis(ax, summary.labeled)
    for ax in axes[len(strategies) :]:
        ax.set_visible(False)
    _clip_y(axes[0], (metric.low, metric.high), ys)
    for r in range(rows):
        axes[r * cols].set_ylabel(f"test {metric.label}")
    handles = [
        Line2D(
            [],
            [],
            color="0.2",
            ls=EXPERIMENT_LINESTYLES[i % len(EXPERIMENT_LINESTYLES)],
            marker=EXPERIMENT_MARKERS[i % len(EXPERIMENT_MARKERS)],
            mfc="0.2" if i == 0 else "white",
            lw=2.0,
            ms=6,
        )  # fmt: skip
        for i in range(len(experiments))
    ]
    fig.legend(
        handles, [f"experiment {e}" for e in experiments], loc="outside lower center",
        ncols=min(4, len(experiments)), fontsize="small", handlelength=3,
    )  # fmt: skip
    fig.suptitle(f"{task}: {metric.label} vs labeled samples per strategy, by experiment")
    return fig
