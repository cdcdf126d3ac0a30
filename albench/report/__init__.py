"""``albench report``: one MLflow experiment -> the paper's figures and tables, with paired
statistics, as PNG/SVG(/PDF) files, CSV tables, ``summary.md`` and an ``index.html`` that
opens from disk (README "Reports"; Yoo & Kweon, CVPR 2019, Figs 4-8).

Layered so each part is tested on its own:

1. :mod:`albench.report.data` - MLflow (through :mod:`albench.tracking` only) -> one tidy
   frame (task, strategy, trial, cycle, labeled, metric, value, run_id), the runs it left
   out and why, and everything else the report shows: strategies' display names and roles,
   metrics' names and ranges, the paper's numbers (declared by the task classes), the
   scatter plots' test scores;
2. :mod:`albench.report.stats` - pure functions: frame -> tables (mean +/- std, paired
   tests, AUBC with bootstrap CI, label efficiency, ranking accuracy, cost, scatter sample);
3. :mod:`albench.report.figures` - pure functions: tables -> matplotlib figures;
4. :mod:`albench.report.sections` - one builder per section of a task (curve, last cycle,
   ranking accuracy, scatter, AUBC, paired tests, label efficiency, cost);
5. :mod:`albench.report.render` - files on disk (``index.html`` from
   ``templates/index.html.j2``), then the directory logged back to MLflow as the artifacts
   of a run named ``report``.

No module here names a task or a strategy: they come from the runs' tags and the registries.
"""

from albench.report.data import ExperimentData, ExperimentNotFoundError, load_experiment
from albench.report.options import FORMATS, ReportOptions
from albench.report.render import ReportResult, default_experiment, make_report

__all__ = [
    "FORMATS",
    "ExperimentData",
    "ExperimentNotFoundError",
    "ReportOptions",
    "ReportResult",
    "default_experiment",
    "load_experiment",
    "make_report",
]
