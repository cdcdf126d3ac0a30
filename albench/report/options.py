"""What ``albench report`` is asked for: :class:`ReportOptions`, and the check of its formats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from albench.errors import ConfigError

__all__ = ["DEFAULT_FORMATS", "FORMATS", "ReportOptions", "check_formats"]

FORMATS = ("png", "svg", "pdf")
DEFAULT_FORMATS = ("png", "svg")  # PDF on request (--format png,svg,pdf)


@dataclass(frozen=True)
class ReportOptions:
    """The choices of one report; every field has the command line's default.

    One experiment gives the full report of it; several (``experiment`` a sequence) give a
    comparison report of the tasks they share.

    ``tasks``/``strategies`` filter the experiment (None: all of them); ``baselines`` are the
    strategies every other is compared with, the first also label efficiency's reference
    (None: the strategies whose runs are tagged as baselines, in strategy order); ``trial`` is
    the scatter plots' trial (None: each task's first).
    """

    experiment: str | Sequence[str] | None = None  # None: the only experiment with runs;
    # two or more names: a comparison report of those experiments
    out: str | Path | None = None  # None: reports/<experiment> (reports/<A>-vs-<B> for several)
    tasks: Sequence[str] | None = None
    strategies: Sequence[str] | None = None
    baselines: Sequence[str] | None = None
    trial: int | None = None
    formats: Sequence[str] = DEFAULT_FORMATS
    command: str = ""  # how the report was asked for, written under "How this was made"
    log_to_mlflow: bool = True  # log the directory as the artifacts of a run named "report"

    def experiment_names(self) -> list[str]:
        """The experiments named, each once, in the order given ([]: none named)."""
        if self.experiment is None:
            return []
        names = [self.experiment] if isinstance(self.experiment, str) else self.experiment
        return list(dict.fromkeys(names))


def check_formats(formats: Sequence[str]) -> list[str]:
    """The figure formats, each once, in the order given; a one-line error for a bad one."""
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(
            f"--format {','.join(formats)!r}: valid formats are {', '.join(FORMATS)} "
            "(comma-separated, e.g. png,svg,pdf)"
        )
    return list(dict.fromkeys(formats))
