"""Pure figure functions: tables in, :class:`matplotlib.figure.Figure` out (no files, no
pyplot state), drawn in seaborn's paper style.

The figures of Yoo & Kweon, CVPR 2019: performance curves (Figs 4, 6, 7: the task's metric
vs labeled samples, mean +/- 1 std over trials), ranking accuracy of every scorer (Fig. 5),
true loss against each per-sample score at the last cycle with the top 20 % by score
highlighted (Fig. 8), plus the normalised area under each curve and the time
each cycle took.

Print-readable: seaborn's colour-blind-safe palette, one colour *and* marker per strategy,
the same in every figure of a report (so a grey-scale print still tells them apart), given
in strategy order; oracle strategies dashed; axis labels with units, text as paths in SVG
(no font needed to view it). No strategy, task or scorer is named here: display names and
ranges come in with the data (:class:`Style`, :class:`~albench.report.data.MetricInfo`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure  # used without pyplot: no GUI backend, no global state

from albench.report.data import MetricInfo, StrategyInfo

__all__ = [
    "ScatterPanel",
    "Style",
    "aubc_figure",
    "cost_figure",
    "curve_figure",
    "rank_acc_figure",
    "scatter_figure",
    "strategy_styles",
    "style",
]

X_LABEL = "labeled training samples (count)"
# Seaborn's "colorblind" palette (Wong, Nature Methods 2011), slots in the order strategies
# get them: blue, orange, green, vermillion, purple, sky, brown, pink, yellow, grey.
_COLOUR_SLOTS = (0, 1, 2, 3, 4, 9, 5, 6, 8, 7)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
ORACLE_LINESTYLE = "--"  # oracle strategies: dashed, apart from the real ones
BAND_ALPHA = 0.18  # +/- 1 std band over trials
DPI = 150  # PNG resolution: sharp on screen, small enough to inline in index.html
PANEL = (4.2, 3.2)  # inches per panel: two fit a column of a paper at full size

STYLE = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("paper", font_scale=1.1),
    "font.family": "DejaVu Sans",  # bundled with matplotlib: same glyphs on every machine
    "svg.fonttype": "path",  # SVG text as paths: no font needed to view it
    "svg.hashsalt": "albench-report",  # fixed ids in SVG: byte-for-byte reproducible files
    "pdf.fonttype": 42,
    "legend.frameon": True,
    "legend.framealpha": 0.9,
    "axes.titlesize": "medium",
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
    linestyle: str = "-"


def strategy_styles(strategies: Sequence[StrategyInfo]) -> dict[str, Style]:
    """strategy name -> :class:`Style`, colours and markers by position in ``strategies``
    (given in strategy order), oracles dashed."""
    palette = sns.color_palette("colorblind", 10)
    out = {}
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
            linestyle=ORACLE_LINESTYLE if info.oracle else "-",
        )
    return out


def _trials(n: pd.Series) -> str:
    lo, hi = int(n.min()), int(n.max())
    count = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return f"{count} trial{'s' if hi != 1 else ''}"


def _in_order(names: Sequence[str], styles: Mapping[str, Style]) -> list[str]:
    """``names`` in the order of ``styles`` (strategy order)."""
    present = set(names)
    return [s for s in styles if s in present]


def _band_lines(
    ax, summary: pd.DataFrame, styles: Mapping[str, Style], limits: tuple[float, float]
) -> None:
    """One line per strategy: mean with markers, a +/- 1 std band clipped to ``limits``
    (the metric's range), trial counts in the label."""
    for strat in _in_order(summary.strategy.unique(), styles):
        s = summary[summary.strategy == strat].sort_values("labeled")
        st = styles[strat]
        x, m, sd = s.labeled.to_numpy(), s["mean"].to_numpy(), s["std"].to_numpy()
        label = f"{st.label} ({_trials(s.n)})"
        ax.plot(x, m, color=st.colour, marker=st.marker, ms=4, lw=1.6, ls=st.linestyle, label=label)
        if np.isfinite(sd).any():
            sd = np.nan_to_num(sd)
            lo, hi = np.clip(m - sd, *limits), np.clip(m + sd, *limits)
            ax.fill_between(x, lo, hi, color=st.colour, alpha=BAND_ALPHA, lw=0)


def curve_figure(
    summary: pd.DataFrame, task: str, metric: MetricInfo, styles: Mapping[str, Style]
) -> Figure:
    """Paper Figs 4, 6, 7: the task's metric vs labeled samples (mean +/- 1 std)."""
    fig = Figure(figsize=(PANEL[0] * 1.4, PANEL[1] * 1.3), layout="constrained")
    ax = fig.add_subplot()
    _band_lines(ax, summary, styles, (metric.low, metric.high))
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(f"test {metric.label}")
    ax.set_title(f"{task}: {metric.label} vs labeled samples (mean ± 1 std over trials)")
    ax.legend(loc="lower right")
    return fig


def rank_acc_figure(
    summary: pd.DataFrame, task: str, scorers: Sequence[str], styles: Mapping[str, Style]
) -> Figure:
    """Paper Fig. 5: ranking accuracy of each scorer vs labeled samples, one panel per
    scorer (in the order of ``scorers``), one line per strategy that logged it."""
    fig = Figure(figsize=(PANEL[0] * len(scorers), PANEL[1] * 1.2), layout="constrained")
    axes = fig.subplots(1, len(scorers), sharey=True, squeeze=False)[0]
    for ax, scorer in zip(axes, scorers, strict=True):
        _band_lines(ax, summary[summary.scorer == scorer], styles, (0.0, 1.0))
        ax.axhline(0.5, color="0.4", lw=0.8, ls=":", label="chance (0.5)")
        ax.set_title(f"{task}: ranking accuracy of {scorer}")
        ax.set_xlabel(X_LABEL)
        ax.legend(loc="lower right", fontsize="small")
    axes[0].set_ylabel("ranking accuracy (fraction of test pairs)")
    return fig


@dataclass(frozen=True)
class ScatterPanel:
    """One Fig. 8 panel: a run's scorer against the true loss at one cycle."""

    strategy: str
    scorer: str
    trial: int
    cycle: int
    labeled: float
    points: pd.DataFrame  # score, loss, top (bool): the shown sample (<= 2,000 points)
    n_test: int  # test samples the correlations are computed over
    pearson: float
    spearman: float


def scatter_figure(panels: Sequence[ScatterPanel], task: str, styles: Mapping[str, Style]):
    """Paper Fig. 8: true test loss vs each score, top 20 % by score in colour."""
    cols = min(len(panels), 3)
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(PANEL[0] * cols, PANEL[1] * 1.15 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, p in zip(axes, panels, strict=False):
        colour = styles[p.strategy].colour
        rest, top = p.points[~p.points.top], p.points[p.points.top]
        ax.scatter(rest.score, rest.loss, s=6, color="0.65", alpha=0.6, lw=0, label="other 80 %")
        ax.scatter(top.score, top.loss, s=7, color=colour, alpha=0.85, lw=0, label="top 20 %")
        ax.set_title(
            f"{styles[p.strategy].label}, trial {p.trial}, {int(p.labeled)} labels: {p.scorer}\n"
            f"Pearson r = {p.pearson:.2f}, Spearman ρ = {p.spearman:.2f} (n = {p.n_test})"
        )
        ax.set_xlabel(f"{p.scorer} (score)")
        ax.set_ylabel("true test loss (task loss, per sample)")
        ax.legend(loc="upper left", fontsize="small", markerscale=2)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(f"{task}: loss vs score at the last cycle ({len(panels[0].points)} test samples)")
    return fig


def aubc_figure(
    table: pd.DataFrame, task: str, metric: MetricInfo, styles: Mapping[str, Style]
) -> Figure:
    """Normalised area under the budget curve per strategy with its 95 % bootstrap CI."""
    t = table.reset_index(drop=True)
    fig = Figure(figsize=(PANEL[0] * 1.3, PANEL[1]), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(t))[::-1]
    for yi, row in zip(y, t.itertuples(), strict=True):
        st = styles[row.strategy]
        err = [[row.aubc - row.ci_low], [row.ci_high - row.aubc]]
        err = np.nan_to_num(np.asarray(err, float))
        face = "none" if st.linestyle != "-" else st.colour  # oracles hollow
        ax.errorbar(
            row.aubc, yi, xerr=err, fmt=st.marker, color=st.colour, mfc=face, capsize=3, ms=6
        )
    labels = [f"{styles[s].label} (n={n})" for s, n in zip(t.strategy, t.n, strict=True)]
    ax.set_yticks(y, labels)
    ax.set_xlabel(f"normalised AUBC: mean {metric.label} over the budget")
    ax.set_title(f"{task}: AUBC, mean and 95 % bootstrap CI")
    return fig


def cost_figure(cost: pd.DataFrame, task: str, styles: Mapping[str, Style]) -> Figure:
    """Seconds per cycle of training, pool scan and selection vs labeled samples."""
    parts = [c for c in ("train_s", "scan_s", "select_s") if c in cost]
    names = {"train_s": "training", "scan_s": "pool scan", "select_s": "selection"}
    fig = Figure(figsize=(PANEL[0] * len(parts), PANEL[1]), layout="constrained")
    axes = fig.subplots(1, len(parts), squeeze=False)[0]
    for ax, part in zip(axes, parts, strict=True):
        for strat in _in_order(cost.strategy.unique(), styles):
            s = cost[cost.strategy == strat].dropna(subset=[part]).sort_values("labeled")
            st = styles[strat]
            ax.plot(
                s.labeled, s[part], color=st.colour, marker=st.marker, ms=4, lw=1.4,
                ls=st.linestyle, label=st.label,
            )  # fmt: skip
        ax.set_title(f"{task}: {names[part]} time")
        ax.set_xlabel(X_LABEL)
        ax.set_ylabel("seconds per cycle (s, mean over trials)")
    axes[0].legend(fontsize="small")
    return fig
