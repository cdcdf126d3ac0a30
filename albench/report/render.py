"""The renderer: tables and figures -> files under ``reports/<experiment>/``, and the report
directory logged back to MLflow as the artifacts of a run named ``report``.

:func:`make_report` runs three steps: read everything from the store
(:func:`~albench.report.data.load_report_data`), render it without touching the store
(:func:`render`: the task sections of :mod:`albench.report.sections`, ``summary.md``, and
``index.html`` from the Jinja2 template ``templates/index.html.j2``), then log the finished
directory (:func:`log_report`).

Layout of a report directory::

    index.html              opens from disk: figures inline (relative <img>), tables inline,
                            no script, no web font, no network; "how this was made" at the end
    summary.md              the same content as Markdown
    <task>/curve.{png,svg}  performance curves (Figs 4, 6, 7)
    <task>/rank_acc.*       ranking accuracy of every scorer (Fig. 5)
    <task>/scatter.*        true loss vs each per-sample score at the last cycle (Fig. 8)
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
import platform
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup, escape

from albench.provenance import git_sha
from albench.report import figures as figs
from albench.report.data import (
    REPORT_KIND_TAG,
    REPORT_RUN_NAME,
    ReportData,
    default_experiment,
    load_report_data,
)
from albench.report.document import Figure, Section, Table, Writer
from albench.report.options import DEFAULT_FORMATS, FORMATS, ReportOptions, check_formats
from albench.report.sections import TaskContext, task_section

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "ReportOptions",
    "ReportResult",
    "default_experiment",
    "log_report",
    "make_report",
    "render",
]

GENERATED = "generated"  # the one line that differs between two reports of the same runs
TEMPLATE = "index.html.j2"


@dataclass(frozen=True)
class ReportResult:
    out_dir: Path
    files: list[str]  # relative to out_dir, sorted
    run_id: str | None  # the MLflow run holding them as artifacts
    left_out: pd.DataFrame  # run_id, name, status, reason


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def _versions() -> str:
    import albench

    parts = {
        "albench": getattr(albench, "__version__", "?"),
        "python": platform.python_version(),
        "pandas": pd.__version__,
    } | {p: _version(p) for p in ("scipy", "matplotlib", "seaborn", "mlflow")}
    return ", ".join(f"{k} {v}" for k, v in parts.items())


# ---------------------------------------------------------------------------- documents
def _md_table(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in df.columns) + " |"]
    lines.append("|" + "---|" * len(df.columns))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(False)]
    return "\n".join(lines)


def _md_item(item: Figure | Table | str) -> list[str]:
    if isinstance(item, Figure):
        out = [f"### {item.title}", "", f"![{item.title}]({item.files[0]})", ""]
        return out + [f"{item.caption} Files: " + ", ".join(item.files), ""]
    if isinstance(item, Table):
        out = [f"### {item.title}", ""] + ([item.caption, ""] if item.caption else [])
        return out + [_md_table(item.display), "", f"Full table: {item.csv}", ""]
    return [item, ""]


def _markdown(page: dict[str, Any]) -> str:
    out = [f"# {page['title']}", "", *page["intro"], ""]
    for sec in page["sections"]:
        out += [f"## {sec.title}", ""]
        for item in sec.items:
            out += _md_item(item)
    out += ["## How this was made", ""]
    out += [f"- {k}: {v}" for k, v in page["made"]]
    return "\n".join(out) + "\n"


def _code(text: str) -> Markup:
    """Escaped text with Markdown's `code` spans as <code>."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def _frame_html(df: pd.DataFrame) -> Markup:
    return Markup(df.to_html(index=False, border=0, escape=True, na_rep=""))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("albench.report"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["code"] = _code
    env.filters["frame_html"] = _frame_html
    return env


def _html(page: dict[str, Any]) -> str:
    return _environment().get_template(TEMPLATE).render(page)


# ------------------------------------------------------------------------------- entry
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


def _page(data: ReportData, sections: list[Section], command: str) -> dict[str, Any]:
    """What summary.md and index.html show: title, intro, sections, how it was made."""
    exp = data.exp
    n_runs = len(exp.runs)
    tasks = sorted(exp.task_metrics)
    intro = [
        f"MLflow experiment {exp.experiment!r}: {n_runs} finished runs over "
        f"{len(tasks)} task(s) ({', '.join(tasks)}) and strategies {', '.join(exp.order)}."
    ]
    if len(exp.left_out):
        listed = "; ".join(f"{r.name} ({r.reason})" for r in exp.left_out.itertuples())
        intro.append(f"{len(exp.left_out)} run(s) left out: {listed}.")
    job_shas = sorted(set(exp.runs.git_sha) - {""}) or ["unknown"]
    made = [
        ("command", command or "albench.report.make_report(...)"),
        ("experiment", f"{exp.experiment} at {exp.tracking_uri}"),
        ("runs", f"{n_runs}: " + ", ".join(exp.runs.name)),
        ("left out", str(len(exp.left_out)) + " (see left_out.csv)"),
        ("commit of the runs", ", ".join(job_shas)),
        ("commit of the report", git_sha()),
        ("devices of the runs", ", ".join(sorted(set(exp.runs.device) - {""})) or "unknown"),
        ("versions", _versions()),
        (GENERATED, dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    title = f"albench report: {exp.experiment}"
    return {"title": title, "intro": intro, "sections": sections, "made": made}


def render(data: ReportData, out: Writer, command: str = "") -> list[str]:
    """Write the whole report of ``data`` through ``out``; return its files, sorted.

    Nothing here reads the tracking store: ``data`` holds all the report shows.
    """
    exp = data.exp
    styles = figs.strategy_styles(list(exp.strategies.values()))
    with figs.style():
        sections = [
            task_section(TaskContext(data, task, styles, out)) for task in sorted(exp.task_metrics)
        ]
    for name, frame in (("tidy", exp.frame), ("runs", exp.runs), ("left_out", exp.left_out)):
        out.text(f"{name}.csv", frame.to_csv(index=False, lineterminator="\n"))
    page = _page(data, sections, command)
    out.text("summary.md", _markdown(page))
    out.text("index.html", _html(page))
    out.text("manifest.txt", "\n".join(sorted(out.files)) + "\n")  # lists all but itself
    return sorted(out.files)


def make_report(options: ReportOptions | None = None, tracker: Any = None) -> ReportResult:
    """Write the report of one MLflow experiment and log it as the run ``report``.

    Every input is checked (experiment, tasks, strategies, baselines, trial, formats) and
    everything is read before a file is written or a run created; then the report is
    rendered, then logged.
    """
    from albench.tracking import Tracker

    options = options or ReportOptions()
    formats = check_formats(options.formats)
    tracker = tracker or Tracker()
    experiment = options.experiment or default_experiment(tracker)
    data = load_report_data(tracker, experiment, options)
    out_dir = Path(options.out) if options.out is not None else Path("reports") / experiment
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_previous(out_dir)
    files = render(data, Writer(out_dir, formats), options.command)
    run_id = None
    if options.log_to_mlflow:
        run_id = log_report(tracker, experiment, out_dir, files, options.command)
    return ReportResult(out_dir, files, run_id, data.exp.left_out)


def log_report(tracker: Any, experiment: str, out: Path, files: list[str], command: str) -> str:
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
