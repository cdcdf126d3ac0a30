"""``albench report``: one MLflow experiment -> the paper's figures and tables, with paired
statistics, as PNG/SVG(/PDF) files, CSV tables, ``summary.md`` and an ``index.html`` that
opens from disk (docs/reports.md; Yoo & Kweon, CVPR 2019, Figs 4-8); several experiments
-> a comparison report of the tasks they share.

Layered so each part is tested on its own:

1. :mod:`albench.report.data` - MLflow (through :mod:`albench.tracking` only) -> one tidy
   frame (task, strategy, trial, cycle, labeled, metric, value, run_id), the runs it left
   out and why, and everything else the report shows: strategies' display names and roles,
   metrics' names and ranges, the paper's numbers (declared by the task classes), every
   run's last-cycle test scores;
2. :mod:`albench.report.stats` - pure functions: frame -> tables (mean +/- std, intervals
   with their method, paired tests with effect sizes and Holm's correction, AUBC, label
   efficiency, ranking accuracy, scorer spread and degenerate scorers, the paper check,
   cost, Fig. 8's sample);
3. :mod:`albench.report.figures` - pure functions: tables -> matplotlib figures (legends
   off the data, bands and axes in the metric's range, one style per strategy);
4. :mod:`albench.report.sections` - one builder per section of a task (summary, curve,
   last cycle, paper check, ranking accuracy, scorer spread, Fig. 8, AUBC, paired tests,
   label efficiency, cost); :mod:`albench.report.compare` - the same for a comparison;
5. :mod:`albench.report.render` - files on disk (``index.html`` from
   ``templates/index.html.j2``), no absolute local path in them
   (:mod:`albench.report.paths`), then the directory logged back to MLflow as the
   artifacts of a run named ``report``.

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
