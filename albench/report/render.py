"""The renderer: tables and figures -> files under ``reports/<experiment>/``, and the report
directory logged back to MLflow as the artifacts of a run named ``report``.

Layout of a report directory::

    index.html              opens from disk: figures inline (relative <img>), tables inline,
                            no script, no web font, no network; "how this was made" at the end
    summary.md              the same content as Markdown
    <task>/curve.{png,svg}  performance curves (Figs 4, 6, 7)
    <task>/rank_acc.*       ranking accuracy of every scorer (Fig. 5)
    <task>/scatter.*        true loss vs predicted loss / entropy at the last cycle (Fig. 8)
    <task>/aubc.*, cost.*   area under the budget curve; time per cycle
    <task>/*.csv            every table in full precision
    tidy.csv, runs.csv, left_out.csv, manifest.txt

A report is reproducible byte-for-byte except the "generated" timestamp line of
``index.html`` and ``summary.md``: rows are sorted, the bootstrap and the scatter sample
have fixed seeds, SVG ids use a fixed salt, and no file records the time it was drawn (SVG
``Date`` and PDF ``CreationDate`` metadata are dropped; matplotlib's PNGs carry none).
"""

from __future__ import annotations

import datetime as dt
import html
import math
import platform
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from albench.errors import ConfigError
from albench.provenance import git_sha
from albench.report import figures as figs
from albench.report import stats
from albench.report.data import (
    REPORT_KIND_TAG,
    REPORT_RUN_NAME,
    ExperimentData,
    load_experiment,
    load_test_scores,
)
from albench.report.reference import PAPER

__all__ = ["FORMATS", "ReportResult", "default_experiment", "make_report"]

FORMATS = ("png", "svg", "pdf")
DEFAULT_FORMATS = ("png", "svg")  # PDF on request (--format png,svg,pdf)
_METADATA = {  # no creation dates: reproducible files
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "ModDate": None},
}
GENERATED = "generated"  # the one line that differs between two reports of the same runs


# ------------------------------------------------------------------------- document model
@dataclass
class _Figure:
    name: str  # <task>/<name>.<format>
    title: str
    caption: str
    files: list[str] = field(default_factory=list)  # relative paths, first is PNG


@dataclass
class _Table:
    name: str
    title: str
    caption: str
    display: pd.DataFrame  # strings, for index.html and summary.md
    csv: str = ""  # relative path of the full-precision CSV
    collapsed: bool = False  # long tables fold away in index.html


@dataclass
class _Section:
    title: str
    items: list[Any] = field(default_factory=list)  # _Figure | _Table | str (a note)


@dataclass(frozen=True)
class ReportResult:
    out_dir: Path
    files: list[str]  # relative to out_dir, sorted
    run_id: str | None  # the MLflow run holding them as artifacts
    left_out: pd.DataFrame  # run_id, name, status, reason


# ----------------------------------------------------------------------------- formatting
def _num(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer() and abs(v) >= 1:
        return str(int(v))
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _p(v: float) -> str:
    return "" if v is None or math.isnan(v) else f"{v:.3g}"


def _pm(mean: float, std: float) -> str:
    return f"{mean:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}")


def _versions() -> str:
    import matplotlib
    import mlflow
    import scipy
    import seaborn

    import albench

    parts = {
        "albench": getattr(albench, "__version__", "?"),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
        "seaborn": seaborn.__version__,
        "mlflow": mlflow.__version__,
    }
    return ", ".join(f"{k} {v}" for k, v in parts.items())


# ------------------------------------------------------------------------ per-task content
def _paper_metric() -> dict[tuple[str, str], tuple[float, str]]:
    return {(t, s): (v.value, v.source) for (t, s, q), v in PAPER.items() if q == "metric"}


def _paper_rank() -> dict[tuple[str, str, str], float]:
    return {
        (t, s, q.removeprefix("rank_acc/")): v.value
        for (t, s, q), v in PAPER.items()
        if q.startswith("rank_acc/")
    }


def _scatter_choices(runs: pd.DataFrame, scorers: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(run_id, scorer) panels for Fig. 8 from the runs of one trial: each strategy's own
    scores (every scorer but entropy, e.g. learn-loss's predicted loss), then entropy from
    the entropy strategy's run as in the paper's bottom row (else the first run that has it)."""
    by_strategy = dict(zip(runs.strategy, runs.run_id, strict=True))
    order = stats.strategy_order(by_strategy)
    out = [
        (by_strategy[s], sc)
        for s in order
        for sc in sorted(scorers.get(by_strategy[s], set()) - {"entropy"})
    ]
    with_entropy = [s for s in order if "entropy" in scorers.get(by_strategy[s], set())]
    if with_entropy:
        src = "entropy" if "entropy" in with_entropy else with_entropy[0]
        out.append((by_strategy[src], "entropy"))
    return out


def _scatter_panels(
    tracker: Any, data: ExperimentData, task: str, trial: int
) -> tuple[list[figs.ScatterPanel], list[str]]:
    frame = data.frame[data.frame.task == task]
    runs = data.runs[(data.runs.task == task) & (data.runs.trial == trial)]
    scorers: dict[str, set[str]] = {}
    for run_id, metric in zip(frame.run_id, frame.metric, strict=True):
        if metric.startswith("eval/rank_acc/"):
            scorers.setdefault(run_id, set()).add(metric.removeprefix("eval/rank_acc/"))
    panels, notes = [], []
    cache: dict[str, pd.DataFrame | None] = {}
    for run_id, scorer in _scatter_choices(runs, scorers):
        rows = frame[frame.run_id == run_id]
        cycle = int(rows.cycle.max())
        run = runs[runs.run_id == run_id].iloc[0]
        if run_id not in cache:
            cache[run_id] = load_test_scores(tracker, run_id, cycle)
        scores = cache[run_id]
        if scores is None or scorer not in scores or "loss" not in scores:
            notes.append(
                f"{run['name']}: no test_scores/cycle_{cycle:02d}.csv with a {scorer!r} column "
                "among its artifacts, so no scatter panel for it"
            )
            continue
        points, n, pearson, spearman = stats.scatter_points(scores, scorer)
        labeled = float(rows[rows.cycle == cycle].labeled.iloc[0])
        panels.append(
            figs.ScatterPanel(
                str(run.strategy), scorer, trial, cycle, labeled, points, n, pearson, spearman
            )
        )
    return panels, notes


def _task_section(
    tracker: Any,
    data: ExperimentData,
    task: str,
    trial: int,
    styles: dict,
    draw: Callable[[Any, str, str, str, str], _Figure],
    table: Callable[..., _Table],
) -> _Section:
    metric = data.task_metrics[task]
    frame = data.frame[data.frame.task == task]
    rows = stats.metric_rows(frame, data.task_metrics)
    summary = stats.summarize(rows)
    sec = _Section(f"{task} ({metric})")
    n_trials = frame.groupby("strategy").trial.nunique()
    sec.items.append(
        f"{len(n_trials)} strategies, {int(n_trials.min())}-{int(n_trials.max())} trials each; "
        f"metric `eval/{metric}` on the test split after each cycle's last epoch."
        if n_trials.min() != n_trials.max()
        else f"{len(n_trials)} strategies x {int(n_trials.max())} trials; metric `eval/{metric}` "
        "on the test split after each cycle's last epoch."
    )

    # 1. performance curves
    sec.items.append(
        draw(
            figs.curve_figure(summary, task, metric, styles),
            task,
            "curve",
            f"{metric} vs labeled samples",
            "Mean over trials with a ±1 std band; the legend counts the trials "
            "(paper Figs 4, 6, 7).",
        )
    )
    # 4. last-cycle table with the paper's numbers
    last = stats.last_cycle_table(summary, _paper_metric())
    disp = pd.DataFrame(
        {
            "strategy": last.strategy,
            "labeled": last.labeled.map(_num),
            "trials": last.n,
            f"{metric} (mean ± std)": [
                _pm(m, s) for m, s in zip(last["mean"], last["std"], strict=True)
            ],
            "paper": last.paper.map(_num),
            "paper source": last.paper_source,
        }
    )
    has_paper = last.paper.notna().any()
    if not has_paper:
        disp = disp.drop(columns=["paper", "paper source"])
    sec.items.append(
        table(
            last,
            disp,
            task,
            "last_cycle",
            "Last cycle",
            "The metric at each strategy's last cycle"
            + (
                "; the paper's number beside it (Yoo & Kweon 2019, at 10,000 labels)."
                if has_paper
                else f"; the paper has no {task!r} experiment to compare with."
            ),
        )
    )
    # 2. ranking accuracy of every scorer
    rank = stats.rank_acc_summary(frame)
    if rank.empty:
        sec.items.append("No `eval/rank_acc/*` metric logged: no ranking-accuracy figure.")
    else:
        sec.items.append(
            draw(
                figs.rank_acc_figure(rank, task, styles),
                task,
                "rank_acc",
                "Loss-prediction quality: ranking accuracy",
                "Fraction of test pairs (distinct true losses) a score orders like the true "
                "loss, mean ±1 std over trials, per scorer (paper Fig. 5).",
            )
        )
        rl = stats.rank_acc_last(rank, _paper_rank())
        rdisp = pd.DataFrame(
            {
                "strategy": rl.strategy,
                "scorer": rl.scorer,
                "labeled": rl.labeled.map(_num),
                "trials": rl.n,
                "ranking accuracy (mean ± std)": [
                    _pm(m, s) for m, s in zip(rl["mean"], rl["std"], strict=True)
                ],
                "paper": rl.paper.map(_num),
            }
        )
        if rl.paper.isna().all():
            rdisp = rdisp.drop(columns="paper")
        sec.items.append(
            table(rank, rdisp, task, "ranking_accuracy", "Ranking accuracy at the last cycle", "")
        )
    # 3. scatter plots at the last cycle of one trial
    panels, notes = _scatter_panels(tracker, data, task, trial)
    sec.items += notes
    if panels:
        sec.items.append(
            draw(
                figs.scatter_figure(panels, task, styles),
                task,
                "scatter",
                f"True loss vs score at the last cycle (trial {trial})",
                f"At most {stats.SCATTER_POINTS:,} randomly chosen test samples (fixed seed); "
                f"the top {stats.SCATTER_TOP:.0%} by score in colour; Pearson and Spearman "
                "over all test samples (paper Fig. 8: predicted loss of learn-loss, entropy "
                "of the entropy strategy).",
            )
        )
    # 5. paired statistics: per cycle and over the whole curve (AUBC)
    au = stats.aubc_table(rows)
    sec.items.append(
        draw(
            figs.aubc_figure(au, task, metric, styles),
            task,
            "aubc",
            "Area under the budget curve",
            "Normalised AUBC (trapezoid area under the curve / labeled range = mean "
            f"{metric} over the budget) with a 95 % percentile-bootstrap CI over trials.",
        )
    )
    au_disp = pd.DataFrame(
        {
            "strategy": au.strategy,
            "labels": [
                f"{_num(a)}-{_num(b)}" for a, b in zip(au.labeled_from, au.labeled_to, strict=True)
            ],
            "trials": au.n,
            "AUBC (mean ± std)": [_pm(m, s) for m, s in zip(au.aubc, au["std"], strict=True)],
            "95 % CI": [_ci(lo, hi) for lo, hi in zip(au.ci_low, au.ci_high, strict=True)],
        }
    )
    sec.items.append(table(au, au_disp, task, "aubc", "AUBC per strategy", ""))
    pa = stats.paired_aubc(rows)
    paired = stats.paired_cycles(rows)
    if pa.empty:
        sec.items.append(
            "No paired comparison: the task has neither `random` nor `learn_loss` runs "
            "besides the strategy itself."
        )
    else:
        sec.items.append(
            table(
                pa,
                _paired_display(pa, aubc=True),
                task,
                "paired_aubc",
                "Paired comparison over the whole curve (AUBC difference)",
                "Strategy minus baseline, paired by trial (trials share seeds across "
                "strategies, paper §4): mean difference with a 95 % bootstrap CI, paired "
                "t-test and Wilcoxon signed-rank p-values; the note says when n is too "
                "small for a p-value to mean anything.",
            )
        )
        last_cycle = paired.groupby(["strategy", "baseline"]).cycle.transform("max")
        at_last = paired[paired.cycle == last_cycle]
        sec.items.append(
            table(
                paired,
                _paired_display(at_last, aubc=False),
                task,
                "paired_tests",
                "Paired tests at the last cycle",
                "The CSV holds every cycle.",
            )
        )
    # 6. label efficiency
    eff = stats.label_efficiency(summary)
    if eff.empty:
        sec.items.append("No `random` runs: label efficiency needs random's final mean.")
    else:
        target, ref = eff.target.iloc[0], eff.reference_labeled.iloc[0]
        edisp = pd.DataFrame(
            {
                "strategy": eff.strategy,
                "labels to reach it": [
                    (f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}") if r else "not reached"
                    for v, r in zip(eff.labels_needed, eff.reached, strict=True)
                ],
                "saving vs random": [
                    f"{s:.1%}" if r else "" for s, r in zip(eff.saving, eff.reached, strict=True)
                ],
            }
        )
        sec.items.append(
            table(
                eff,
                edisp,
                task,
                "label_efficiency",
                "Label efficiency",
                f"The fewest labeled samples at which the mean curve reaches random's final "
                f"mean {metric} ({target:.4f} at {_num(ref)} labels), linearly interpolated "
                "between cycles.",
            )
        )
    # 7. cost
    cost = stats.cost_table(frame)
    if cost.empty:
        sec.items.append("No `time/*` metrics logged: no cost figure.")
    else:
        sec.items.append(
            draw(
                figs.cost_figure(cost, task, styles),
                task,
                "cost",
                "Cost per cycle",
                "Seconds of training, pool scan and selection per cycle, mean over trials "
                "(the last cycle selects nothing). Times depend on the machine and on "
                "other jobs sharing it.",
            )
        )
        parts = [c for c in ("train_s", "scan_s", "select_s", "total_s") if c in cost]
        per = cost.groupby("strategy", sort=False)[parts].sum(min_count=1)
        cdisp = pd.DataFrame(
            {"strategy": per.index}
            | {f"{c.removesuffix('_s')} (s, all cycles)": per[c].map(_sec) for c in parts}
        )
        sec.items.append(
            table(cost, cdisp, task, "cost", "Cost summed over cycles", "The CSV is per cycle.")
        )
    return sec


def _sec(v: float) -> str:
    return "" if math.isnan(v) else f"{v:.2f}"


def _ci(lo: float, hi: float) -> str:
    return "" if math.isnan(lo) else f"[{lo:.4f}, {hi:.4f}]"


def _paired_display(df: pd.DataFrame, aubc: bool) -> pd.DataFrame:
    out = {
        "strategy": df.strategy,
        "vs": df.baseline,
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


# ---------------------------------------------------------------------------- writing
class _Writer:
    """Writes figures and tables under ``out`` and remembers every file it wrote."""

    def __init__(self, out: Path, formats: Sequence[str]):
        self.out, self.formats, self.files = out, list(formats), []

    def _path(self, rel: str) -> Path:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self.files.append(rel)
        return path

    def figure(self, fig: Any, task: str, name: str, title: str, caption: str) -> _Figure:
        item = _Figure(name, title, caption)
        for fmt in self.formats:
            rel = f"{task}/{name}.{fmt}"
            fig.savefig(self._path(rel), format=fmt, dpi=figs.DPI, metadata=_METADATA[fmt])
            item.files.append(rel)
        return item

    def table(
        self, full: pd.DataFrame, display: pd.DataFrame, task: str, name: str, title: str, cap
    ) -> _Table:
        rel = f"{task}/{name}.csv" if task else f"{name}.csv"
        self.text(rel, full.to_csv(index=False, lineterminator="\n"))
        return _Table(name, title, cap, display.reset_index(drop=True), rel, len(display) > 12)

    def text(self, rel: str, content: str) -> None:
        self._path(rel).write_text(content, encoding="utf-8")


def _md_table(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in df.columns) + " |"]
    lines.append("|" + "---|" * len(df.columns))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(False)]
    return "\n".join(lines)


def _markdown(title: str, intro: list[str], sections: list[_Section], made: list[tuple]) -> str:
    out = [f"# {title}", "", *intro, ""]
    for sec in sections:
        out += [f"## {sec.title}", ""]
        for item in sec.items:
            if isinstance(item, _Figure):
                out += [f"### {item.title}", "", f"![{item.title}]({item.files[0]})", ""]
                out += [f"{item.caption} Files: " + ", ".join(item.files), ""]
            elif isinstance(item, _Table):
                out += [f"### {item.title}", ""]
                if item.caption:
                    out += [item.caption, ""]
                out += [_md_table(item.display), "", f"Full table: {item.csv}", ""]
            else:
                out += [item, ""]
    out += ["## How this was made", ""]
    out += [f"- {k}: {v}" for k, v in made]
    return "\n".join(out) + "\n"


_CSS = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .caption { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.left { background: #fff4e5; padding: 0.5em 1em; border-left: 4px solid #e69f00; }
dl.made dt { font-weight: bold; } dl.made dd { margin: 0 0 0.5em 1.5em; font-family: monospace; }
"""


def _html_table(t: _Table) -> str:
    body = t.display.to_html(index=False, border=0, escape=True, na_rep="")
    link = f'<a href="{html.escape(t.csv)}">{html.escape(t.csv)}</a>'
    cap = f'<p class="caption">{html.escape(t.caption)} Full table: {link}</p>'
    if t.collapsed:
        body = f"<details><summary>{len(t.display)} rows</summary>{body}</details>"
    return f"<h3>{html.escape(t.title)}</h3>\n{cap}\n{body}"


def _code(escaped: str) -> str:
    """Markdown's `code` spans as <code> in already escaped text."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _html(title: str, intro: list[str], sections: list[_Section], made: list[tuple]) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    out += [f'<p class="{"left" if "left out" in p else "intro"}">{_code(e(p))}</p>' for p in intro]
    out.append("<nav><ul>")
    out += [f'<li><a href="#s{i}">{e(s.title)}</a></li>' for i, s in enumerate(sections)]
    out.append('<li><a href="#made">How this was made</a></li></ul></nav>')
    for i, sec in enumerate(sections):
        out.append(f'<h2 id="s{i}">{e(sec.title)}</h2>')
        for item in sec.items:
            if isinstance(item, _Figure):
                links = " · ".join(
                    f'<a href="{e(f)}">{e(f.rsplit(".", 1)[1])}</a>' for f in item.files
                )
                out.append(
                    f"<h3>{e(item.title)}</h3><figure>"
                    f'<img src="{e(item.files[0])}" alt="{e(item.title)}">'
                    f"<figcaption>{e(item.caption)} Files: {links}</figcaption></figure>"
                )
            elif isinstance(item, _Table):
                out.append(_html_table(item))
            else:
                out.append(f"<p>{_code(e(item))}</p>")
    out.append('<h2 id="made">How this was made</h2><dl class="made">')
    out += [f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in made]
    out.append("</dl></body></html>")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------- entry
def default_experiment(tracker: Any) -> str:
    """The experiment to report on when none is named: the only one that holds runs."""
    from albench.report.data import ExperimentNotFoundError

    names = [n for n in tracker.experiment_names() if tracker.runs(n)]
    if len(names) == 1:
        return names[0]
    listed = ", ".join(repr(n) for n in names) or "none"
    why = "no experiment with runs" if not names else "several experiments"
    raise ExperimentNotFoundError(
        f"{why} in {tracker.uri} ({listed}); name one with --experiment NAME"
    )


def _check_formats(formats: Sequence[str]) -> list[str]:
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(
            f"--format {','.join(formats)!r}: valid formats are {', '.join(FORMATS)} "
            "(comma-separated, e.g. png,svg,pdf)"
        )
    return list(dict.fromkeys(formats))


def _trial_for(data: ExperimentData, trial: int | None) -> dict[str, int]:
    """The scatter plots' trial per task: ``trial`` if every task has it, else the first."""
    out = {}
    for task, g in data.runs.groupby("task", sort=True):
        trials = sorted(g.trial.unique())
        if trial is None:
            out[task] = int(trials[0])
        elif trial in trials:
            out[task] = trial
        else:
            raise ConfigError(
                f"--trial {trial}: task {task!r} has trials {', '.join(map(str, trials))}; "
                "pick one of those"
            )
    return out


def _clear_previous(out: Path) -> None:
    """Remove the files a previous report listed in its manifest (and nothing else)."""
    manifest = out / "manifest.txt"
    if not manifest.exists():
        return
    root = out.resolve()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        path = (out / line.strip()).resolve()
        if line.strip() and path.is_file() and path.is_relative_to(root):
            path.unlink()
            if path.parent != root and not any(path.parent.iterdir()):
                path.parent.rmdir()  # a task's folder the new report may not have
    manifest.unlink()


def make_report(
    experiment: str | None = None,
    out: str | Path | None = None,
    tasks: Sequence[str] | None = None,
    strategies: Sequence[str] | None = None,
    trial: int | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    command: str = "",
    tracker: Any = None,
    log_to_mlflow: bool = True,
) -> ReportResult:
    """Write the report of one MLflow experiment and log it as the run ``report``.

    Every input is checked (experiment, tasks, strategies, trial, formats) before a file is
    written or a run created.
    """
    from albench.tracking import Tracker

    formats = _check_formats(formats)
    tracker = tracker or Tracker()
    experiment = experiment or default_experiment(tracker)
    data = load_experiment(tracker, experiment, tasks, strategies)
    trials = _trial_for(data, trial)
    out_dir = Path(out) if out is not None else Path("reports") / experiment
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_previous(out_dir)

    writer = _Writer(out_dir, formats)
    styles = figs.strategy_styles(sorted(data.runs.strategy.unique()))

    def draw(fig: Any, task: str, name: str, title: str, caption: str) -> _Figure:
        return writer.figure(fig, task, name, title, caption)

    with figs.style():
        sections = [
            _task_section(tracker, data, task, trials[task], styles, draw, writer.table)
            for task in sorted(data.task_metrics)
        ]

    writer.text("tidy.csv", data.frame.to_csv(index=False, lineterminator="\n"))
    writer.text("runs.csv", data.runs.to_csv(index=False, lineterminator="\n"))
    writer.text("left_out.csv", data.left_out.to_csv(index=False, lineterminator="\n"))

    n_runs = len(data.runs)
    intro = [
        f"MLflow experiment {experiment!r}: {n_runs} finished runs over "
        f"{len(data.task_metrics)} task(s) ({', '.join(sorted(data.task_metrics))}) and "
        f"strategies {', '.join(stats.strategy_order(data.runs.strategy.unique()))}."
    ]
    if len(data.left_out):
        listed = "; ".join(f"{r.name} ({r.reason})" for r in data.left_out.itertuples())
        intro.append(f"{len(data.left_out)} run(s) left out: {listed}.")
    job_shas = sorted(set(data.runs.git_sha) - {""}) or ["unknown"]
    made = [
        ("command", command or "albench.report.make_report(...)"),
        ("experiment", f"{experiment} at {data.tracking_uri}"),
        ("runs", f"{n_runs}: " + ", ".join(data.runs.name)),
        ("left out", str(len(data.left_out)) + " (see left_out.csv)"),
        ("commit of the runs", ", ".join(job_shas)),
        ("commit of the report", git_sha()),
        ("devices of the runs", ", ".join(sorted(set(data.runs.device) - {""})) or "unknown"),
        ("versions", _versions()),
        (GENERATED, dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    title = f"albench report: {experiment}"
    writer.text("summary.md", _markdown(title, intro, sections, made))
    writer.text("index.html", _html(title, intro, sections, made))
    files = sorted(writer.files)
    writer.text("manifest.txt", "\n".join(files) + "\n")
    files = sorted(writer.files)

    run_id = _log_report(tracker, experiment, out_dir, files, command) if log_to_mlflow else None
    return ReportResult(out_dir, files, run_id, data.left_out)


def _log_report(tracker: Any, experiment: str, out: Path, files: list[str], command: str) -> str:
    """Log the report directory as the artifacts of a run named ``report``. It carries
    ``albench.kind = report`` and no ``albench.config_hash``: never read as a job run."""
    tags = {REPORT_KIND_TAG: "report", "albench.git_sha": git_sha()}
    if command:
        tags["albench.report.command"] = command
    run_id = tracker.start_run(
        tracker.experiment_id(experiment, create=False), REPORT_RUN_NAME, tags, {}
    )
    try:
        for rel in files:
            folder = str(Path(rel).parent)
            tracker.log_artifact(run_id, out / rel, None if folder == "." else folder)
    except BaseException as exc:  # never leave the report run RUNNING
        tracker.end_run(run_id, "FAILED", f"{type(exc).__name__}: {exc}")
        raise
    tracker.end_run(run_id, "FINISHED")
    return run_id
