"""Ctrl-C and SIGTERM end a run the same way: running jobs mark their runs KILLED, a rerun
resumes them.

SIGTERM is what ``timeout``, Slurm and Kubernetes send before they kill. In the driver
:func:`on_terminate` turns it into a ``KeyboardInterrupt``, the path Ctrl-C takes, and
records it, so the command exits 143 (128 + SIGTERM) rather than 130; in a worker it
interrupts the job the same way. Either signal is acted on once: a second one (the process
group and the driver both sending it) is ignored while the runs are being marked.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "interrupt_on_terminate",
    "on_terminate",
    "reclaim",
    "terminated",
]

EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
_TERMINATED = threading.Event()
_ACTIVE = threading.Event()  # inside on_terminate's block


def _interrupt(signum: int, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _TERMINATED.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def on_terminate() -> Iterator[None]:
    """Within the block, SIGTERM interrupts this process (its main thread) like Ctrl-C, once;
    the previous handler comes back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _TERMINATED.clear()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    _ACTIVE.set()
    try:
        yield
    finally:
        _ACTIVE.clear()
        signal.signal(signal.SIGTERM, previous)


def reclaim() -> None:
    """Within :func:`on_terminate`'s block, install its SIGTERM handler again: a library that
    set its own meanwhile (Ray's core does, when it connects) gives it back."""
    if _ACTIVE.is_set() and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def interrupt_on_terminate() -> None:
    """In a worker process: SIGTERM interrupts the job it runs like Ctrl-C, once."""
    signal.signal(signal.SIGTERM, _interrupt)


def terminated() -> bool:
    """Whether this process was interrupted by SIGTERM (not Ctrl-C)."""
    return _TERMINATED.is_set()
