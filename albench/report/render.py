"""The renderer: tables and figures -> files under ``reports/<experiment>/``, and the report
directory logged back to MLflow as the artifacts of a run named ``report``.

:func:`make_report` runs three steps: read everything from the store
(:func:`~albench.report.data.load_report_data`), render it without touching the store
(:func:`render`: the task sections of :mod:`albench.report.sections`, ``summary.md``, and
``index.html`` from the Jinja2 template ``templates/index.html.j2``), then log the finished
directory (:func:`log_report`).

With two or more experiments (``--experiment A --experiment B``) the same steps make a
comparison report (:func:`render_comparison`, sections of :mod:`albench.report.compare`).

Layout of a report directory::

    index.html              opens from disk: figures inline (relative <img>), tables inline,
                            no script, no web font, no network; "how this was made" at the end
    summary.md              the same content as Markdown
    <task>/curve.{png,svg}  performance curves (Figs 4, 6, 7)
    <task>/rank_acc.*       ranking accuracy of every scorer (Fig. 5)
    <task>/scatter_<s>.*    one model's true loss vs each of its scores at the last cycle
                            (Fig. 8), one figure per loss-predicting strategy <s>
    <task>/aubc.*, cost.*   area under the budget curve; time per cycle
    <task>/*.csv            every table in full precision
    tidy.csv, runs.csv, left_out.csv, manifest.txt

A report is reproducible byte-for-byte except the "generated" timestamp line of
``index.html`` and ``summary.md``: rows are sorted, the scatter sample has a fixed seed, SVG
ids use a fixed salt, and no file records the time it was drawn (SVG ``Date`` and PDF
``CreationDate`` metadata are dropped; matplotlib's PNGs carry none).

No absolute local path goes into a report (:mod:`albench.report.paths`): the tracking URI
and any text that may hold a path are shown relative to the report's folder, or with the
home and temporary folders abbreviated, and "How this was made" says so. Its line
``report format`` (:data:`REPORT_FORMAT`) tells a report made this way from an older one.
MLflow's own "View run" lines (printed when a run ends on a tracking server) are kept off
stdout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import platform
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup, escape

from albench.errors import ConfigError
from albench.provenance import git_sha
from albench.report import figures as figs
from albench.report.compare import CompareContext, compare_section
from albench.report.data import (
    CompareData,
    ExperimentData,
    ReportData,
    default_experiment,
    load_compare_data,
    load_report_data,
)
from albench.report.document import Figure, Notes, Section, Table, Writer
from albench.report.options import DEFAULT_FORMATS, FORMATS, ReportOptions, check_formats
from albench.report.paths import PATH_NOTE, scrub, show_uri
from albench.report.sections import TaskContext, task_section
from albench.schema import REPORT, REPORT_RUN_NAME, Tag

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "ReportOptions",
    "ReportResult",
    "default_experiment",
    "log_report",
    "make_report",
    "render",
    "render_comparison",
]

GENERATED = "generated"  # the one line that differs between two reports of the same runs
TEMPLATE = "index.html.j2"
REPORT_FORMAT = "albench report v2"  # "report format" line: which code made the report


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


def _md_item(item: Figure | Table | Notes | str) -> list[str]:
    if isinstance(item, Notes):
        return [f"### {item.title}", "", *[f"- {line}" for line in item.lines], ""]
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


def _made(exps: list[ExperimentData], command: str, out: Path) -> list[tuple[str, str]]:
    """The "How this was made" list of a report of ``exps``, no absolute path in it."""
    runs = pd.concat([e.runs for e in exps], ignore_index=True)
    left = sum(len(e.left_out) for e in exps)
    job_shas = sorted(set(runs.git_sha) - {""}) or ["unknown"]
    where = "; ".join(f"{e.experiment} at {show_uri(e.tracking_uri, out)}" for e in exps)
    names = ", ".join(
        (f"{e.experiment}:" if len(exps) > 1 else "") + n for e in exps for n in e.runs.name
    )
    return [
        ("command", scrub(command, None) or "albench.report.make_report(...)"),
        ("experiment" if len(exps) == 1 else "experiments", f"{where} ({PATH_NOTE})"),
        ("runs", f"{len(runs)}: {names}"),
        ("left out", f"{left} (see left_out.csv)"),
        ("commit of the runs", ", ".join(job_shas)),
        ("commit of the report", git_sha()),
        ("devices of the runs", ", ".join(sorted(set(runs.device) - {""})) or "unknown"),
        ("versions", _versions()),
        ("report format", REPORT_FORMAT),
        (GENERATED, dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]


def _left_out_note(exps: list[ExperimentData], out: Path) -> list[str]:
    rows = [(e.experiment, r) for e in exps for r in e.left_out.itertuples()]
    if not rows:
        return []
    prefix = len(exps) > 1
    superseded = [r for _, r in rows if r.reason.startswith("superseded")]
    listed = [
        f"{(exp + ':') if prefix else ''}{r.name} ({scrub(r.reason, out)})"
        for exp, r in rows
        if not r.reason.startswith("superseded")
    ]
    if superseded:
        listed.append(
            f"{len(superseded)} run(s) superseded by a later run of the same job (left_out.csv "
            "lists them)"
        )
    return [f"{len(rows)} run(s) left out: {'; '.join(listed)}."]


def _page(data: ReportData, sections: list[Section], command: str, out: Path) -> dict[str, Any]:
    """What summary.md and index.html show: title, intro, sections, how it was made."""
    exp = data.exp
    tasks = sorted(exp.task_metrics)
    intro = [
        f"MLflow experiment {exp.experiment!r}: {len(exp.runs)} finished runs over "
        f"{len(tasks)} task(s) ({', '.join(tasks)}) and strategies {', '.join(exp.order)}."
    ]
    intro += _left_out_note([exp], out)
    title = f"albench report: {exp.experiment}"
    made = _made([exp], command, out)
    return {"title": title, "intro": intro, "sections": sections, "made": made}


def _write_tables(exps: list[ExperimentData], out: Writer) -> None:
    """tidy.csv, runs.csv and left_out.csv (with an experiment column when several)."""
    several = len(exps) > 1
    for name in ("frame", "runs", "left_out"):
        parts = [
            getattr(e, name).assign(experiment=e.experiment) if several else getattr(e, name)
            for e in exps
        ]
        frame = pd.concat(parts, ignore_index=True) if several else parts[0]
        if several:
            frame = frame[["experiment", *[c for c in frame if c != "experiment"]]]
        if name == "left_out":
            frame = frame.assign(reason=[scrub(str(r), out.out) for r in frame.reason])
        rel = {"frame": "tidy", "runs": "runs", "left_out": "left_out"}[name]
        out.text(f"{rel}.csv", frame.to_csv(index=False, lineterminator="\n"))


def _finish(page: dict[str, Any], out: Writer) -> list[str]:
    out.text("summary.md", _markdown(page))
    out.text("index.html", _html(page))
    out.text("manifest.txt", "\n".join(sorted(out.files)) + "\n")  # lists all but itself
    return sorted(out.files)


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
    _write_tables([exp], out)
    return _finish(_page(data, sections, command, out.out), out)


def render_comparison(data: CompareData, out: Writer, command: str = "") -> list[str]:
    """Write the comparison report of ``data`` (several experiments) through ``out``."""
    styles = figs.strategy_styles(list(data.strategies.values()))
    with figs.style():
        sections = [
            compare_section(CompareContext(data, task, styles, out)) for task in data.tasks()
        ]
    exps = list(data.exps)
    _write_tables(exps, out)
    names = data.names
    shared = data.tasks()
    intro = [
        f"Comparison of the MLflow experiments {', '.join(repr(n) for n in names)} on the "
        f"task(s) they share ({', '.join(shared)}); the reference is {names[0]!r}."
    ]
    alone = sorted({t for e in exps for t in e.task_metrics} - set(shared))
    if alone:
        intro.append(f"Tasks in only one experiment, not compared: {', '.join(alone)}.")
    intro += _left_out_note(exps, out.out)
    page = {
        "title": f"albench comparison: {' vs '.join(names)}",
        "intro": intro,
        "sections": sections,
        "made": _made(exps, command, out.out),
    }
    return _finish(page, out)


def _out_dir(options: ReportOptions, names: list[str]) -> Path:
    if options.out is not None:
        return Path(options.out)
    return Path("reports") / "-vs-".join(names)


def make_report(options: ReportOptions | None = None, tracker: Any = None) -> ReportResult:
    """Write the report of one MLflow experiment (a comparison report of several) and log
    it as the run ``report`` (of the first experiment).

    Every input is checked (experiment, tasks, strategies, baselines, trial, formats) and
    everything is read before a file is written or a run created; then the report is
    rendered, then logged.
    """
    from albench.tracking import Tracker

    options = options or ReportOptions()
    formats = check_formats(options.formats)
    tracker = tracker or Tracker()
    names = options.experiment_names() or [default_experiment(tracker)]
    if len(names) > 1:
        if options.baselines is not None or options.trial is not None:
            raise ConfigError(
                "--baselines and --trial apply to the report of one experiment; a comparison "
                "compares each experiment with the first, strategy by strategy"
            )
        cdata = load_compare_data(tracker, names, options)
        out_dir = _out_dir(options, names)
        out_dir.mkdir(parents=True, exist_ok=True)
        _clear_previous(out_dir)
        files = render_comparison(cdata, Writer(out_dir, formats), options.command)
        left = pd.concat(
            [e.left_out.assign(experiment=e.experiment) for e in cdata.exps], ignore_index=True
        )
    else:
        data = load_report_data(tracker, names[0], options)
        out_dir = _out_dir(options, names)
        out_dir.mkdir(parents=True, exist_ok=True)
        _clear_previous(out_dir)
        files = render(data, Writer(out_dir, formats), options.command)
        left = data.exp.left_out
    run_id = None
    if options.log_to_mlflow:
        run_id = log_report(tracker, names, out_dir, files, options.command)
    return ReportResult(out_dir, files, run_id, left)


def log_report(
    tracker: Any, experiments: list[str], out: Path, files: list[str], command: str
) -> str:
    """Log the report directory as the artifacts of a run named ``report`` in the first of
    ``experiments`` (a comparison's other experiments are in its tag
    ``albench.report.experiments``). It carries ``albench.kind = report`` and no
    ``albench.config_hash``: never read as a job run. MLflow's "View run" lines, printed
    on stdout when a run ends on a tracking server, are suppressed."""
    tags = {Tag.KIND: REPORT, Tag.GIT_SHA: git_sha()}
    if command:
        tags["albench.report.command"] = scrub(command, None)
    if len(experiments) > 1:
        tags["albench.report.experiments"] = ",".join(experiments)
    run_id = tracker.start_run(
        tracker.experiment_id(experiments[0], create=False), REPORT_RUN_NAME, tags, {}
    )
    try:
        for rel in files:
            folder = str(Path(rel).parent)
            tracker.log_artifact(run_id, out / rel, None if folder == "." else folder)
    except BaseException as exc:  # never leave the report run RUNNING
        with contextlib.redirect_stdout(io.StringIO()):
            tracker.end_run(run_id, "FAILED", f"{type(exc).__name__}: {exc}")
        raise
    with contextlib.redirect_stdout(io.StringIO()):  # MLflow's "View run ..." lines
        tracker.end_run(run_id, "FINISHED")
    return run_id
