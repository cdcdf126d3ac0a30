"""``albench report``: one MLflow experiment -> the paper's figures and tables, with paired
statistics, as PNG/SVG(/PDF) files, CSV tables, ``summary.md`` and an ``index.html`` that
opens from disk (DESIGN.md "Report"; Yoo & Kweon, CVPR 2019, Figs 4-8).

Layered so each part is tested on its own:

1. :mod:`albench.report.data` - MLflow (through :mod:`albench.tracking` only) -> one tidy
   frame (task, strategy, trial, cycle, labeled, metric, value, run_id), plus the runs it
   left out and why;
2. :mod:`albench.report.stats` - pure functions: frame -> tables (mean +/- std, paired
   tests, AUBC with bootstrap CI, label efficiency, ranking accuracy, cost, scatter sample);
3. :mod:`albench.report.figures` - pure functions: tables -> matplotlib figures;
4. :mod:`albench.report.render` - files on disk, and the directory logged back to MLflow as
   the artifacts of a run named ``report``.

:mod:`albench.report.reference` holds the paper's published numbers.
"""

from albench.report.data import ExperimentData, ExperimentNotFoundError, load_experiment
from albench.report.render import FORMATS, ReportResult, default_experiment, make_report

__all__ = [
    "FORMATS",
    "ExperimentData",
    "ExperimentNotFoundError",
    "ReportResult",
    "default_experiment",
    "load_experiment",
    "make_report",
]
