"""albench: a benchmark harness for deep active learning.

Reproduces Yoo & Kweon, "Learning Loss for Active Learning" (CVPR 2019) and compares its
strategy with entropy, core-set and random sampling on shared seeds. ``albench.run``,
``albench.plan``, ``albench.report`` and ``albench.load_results`` (:mod:`albench.api`) do
from Python what the ``albench`` command does. The documentation site (``docs/``,
``mkdocs serve``) describes the architecture (docs/layout.md) and the protocol;
``albench.tasks`` and ``albench.strategies`` are installed from the top-level ``tasks/`` and
``strategies/`` folders of the repository.
"""

__version__ = "0.1.0"

from albench.api import (
    Plan,
    RunOptions,
    RunResult,
    list_benchmarks,
    list_strategies,
    list_tasks,
    load_results,
    plan,
    report,
    run,
    support,
)
from albench.config import ALConfig, BenchmarkConfig, TaskConfig, TrainConfig, load_benchmark
from albench.errors import AlbenchError
from albench.registry import STRATEGIES, TASKS, Registry

__all__ = [
    "ALConfig",
    "AlbenchError",
    "BenchmarkConfig",
    "Plan",
    "Registry",
    "RunOptions",
    "RunResult",
    "STRATEGIES",
    "TASKS",
    "TaskConfig",
    "TrainConfig",
    "__version__",
    "list_benchmarks",
    "list_strategies",
    "list_tasks",
    "load_benchmark",
    "load_results",
    "plan",
    "report",
    "run",
    "support",
]
