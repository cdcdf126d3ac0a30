"""Errors a user can fix: each names the bad value, the valid options and the fix.

The command line turns every :class:`AlbenchError` into one line on stderr and exit code 2
(docs/cli.md); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = [
    "AlbenchError",
    "BudgetTooLargeError",
    "ConfigError",
    "DatasetMissingError",
    "PluginError",
    "PoolExhaustedError",
    "UnknownNameError",
    "UnsupportedPairError",
    "did_you_mean",
    "masked",
]

USERINFO = re.compile(r"([A-Za-z][\w+.-]*://)[^/@\s]+@")  # scheme://user:password@


def masked(text: str) -> str:
    """``text`` with the credentials of every URI in it (``scheme://user:password@``)
    replaced by ``***``: no message, log line or report shows a tracking password."""
    return USERINFO.sub(r"\1***@", text)


class AlbenchError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""

    exit_code = 2


class ConfigError(AlbenchError):
    """A benchmark file or a --set override that does not fit the config schema."""


class UnknownNameError(AlbenchError):
    """A task, strategy, benchmark or config key that does not exist."""


class PluginError(AlbenchError):
    """A third-party task or strategy raised while being imported."""


class UnsupportedPairError(AlbenchError):
    """A strategy requires a capability that a task does not provide."""


class BudgetTooLargeError(AlbenchError):
    """The active-learning schedule asks for more labels than the pool holds."""


class PoolExhaustedError(AlbenchError):
    """A selection was asked for more items than are left to choose from."""


class DatasetMissingError(AlbenchError):
    """A data set is not on disk; the message says where it was looked for and how to get it."""


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a valid name is close to ``name``, else ''."""
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown(kind: str, name: str, valid: Iterable[str], fix: str = "") -> UnknownNameError:
    """The standard 'unknown X' error: the bad name, a did-you-mean and the valid names."""
    valid = sorted(valid)
    msg = f"unknown {kind} {name!r}{did_you_mean(name, valid)}; valid: {', '.join(valid)}"
    return UnknownNameError(msg + (f"; {fix}" if fix else ""))
