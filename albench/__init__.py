"""albench: a benchmark harness for deep active learning.

Reproduces Yoo & Kweon, "Learning Loss for Active Learning" (CVPR 2019) and compares its
strategy with entropy, core-set and random sampling on shared seeds. README.md describes the
architecture and docs/protocol.md the protocol; ``albench.tasks`` and ``albench.strategies``
are installed from the top-level ``tasks/`` and ``strategies/`` folders of the repository.
"""

__version__ = "0.1.0"

from albench.config import ALConfig, BenchmarkConfig, TaskConfig, TrainConfig, load_benchmark
from albench.errors import AlbenchError
from albench.registry import STRATEGIES, TASKS, Registry

__all__ = [
    "ALConfig",
    "AlbenchError",
    "BenchmarkConfig",
    "Registry",
    "STRATEGIES",
    "TASKS",
    "TaskConfig",
    "TrainConfig",
    "__version__",
    "load_benchmark",
]
