"""A job's state, which is also its checkpoint, for crash-safe resume (docs/running.md).

After every cycle a job writes one file, ``<state-dir>/<experiment>/<config-hash>.pt``, holding
its :class:`JobState`: the MLflow run id, the last completed cycle, the labeled indices, the
model's and the strategy module's weights (no optimiser: it restarts every cycle), and that
cycle's metric rows and artifacts, which are logged only after the state is safely on disk (so
a resume can finish logging them without duplicating a step). No random state is saved: every
random stream of a trial is reseeded from the trial seed, the stream and the cycle before use
(:func:`albench.loop.derive_seed`), so a resumed job is bit-equal to an uninterrupted one.

Writes are atomic and verified: the state is serialised in memory, prefixed with a magic line
and its SHA-256, written to a temporary file in the same folder, flushed to disk, and swapped
in with ``os.replace`` after the previous state has been moved to ``<name>.prev``. A kill at
any moment leaves the new state, or the previous one, never a torn file; a full or read-only
disk is one :class:`StateWriteError` naming the path, with the previous state intact.
:meth:`JobState.load` checks the checksum: a corrupt state (truncated, empty, flipped bytes)
is never loaded silently: it falls back to ``.prev`` with a warning naming the file, and
raises :class:`CorruptStateError` if both are bad. With ``clean=True`` (the job itself) stray
temporary files are removed; ``albench plan`` reads with :meth:`JobState.peek`, which touches
nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from albench.errors import AlbenchError

__all__ = [
    "CorruptStateError",
    "ForeignStateError",
    "JobState",
    "StateWriteError",
]

_VERSION = 3  # 3: data only (artifacts as tensors), read with weights_only=True
_MAGIC = b"albench-state 3 sha256 "  # + 64 hex digits + newline, then torch.save bytes


class CorruptStateError(AlbenchError):
    """A job's saved state and its previous copy both fail their checksum."""


class ForeignStateError(AlbenchError):
    """A state file holds another job's state (copied or swapped in): it is never loaded."""


class StateWriteError(AlbenchError):
    """A job's state could not be written (disk full, read-only, ...); the previous is intact."""


@dataclass
class JobState:
    """Where a job stands: enough to go on exactly as if it had never stopped."""

    run_id: str
    config_hash: str
    labeled: np.ndarray  # pool indices labeled for the next cycle
    cycle: int = -1  # the last completed cycle (-1: none yet)
    metric: float = float("nan")  # the task metric of that cycle
    model: dict[str, torch.Tensor] | None = None  # weights after that cycle
    aux: dict[str, torch.Tensor] | None = None  # the strategy module's weights
    rows: list[tuple[str, float, int]] = field(default_factory=list)  # metrics of `cycle`
    artifacts: dict[str, Any] = field(default_factory=dict)  # name -> array / column dict

    def save(self, path: Path) -> None:
        """Write to ``path`` atomically, keeping the previous state as ``<name>.prev``."""
        payload = {k: getattr(self, k) for k in self.__dataclass_fields__}
        payload["labeled"] = torch.as_tensor(self.labeled, dtype=torch.int64)
        payload["metric"] = float(self.metric)
        payload["rows"] = [(str(k), float(v), int(step)) for k, v, step in self.rows]
        payload["artifacts"] = {name: _to_data(v) for name, v in self.artifacts.items()}
        payload["version"] = _VERSION
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        body = buffer.getvalue()
        blob = _MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            if path.exists():
                os.replace(path, _previous(path))
            os.replace(tmp, path)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise StateWriteError(
                f"cannot write the job state {path}: {exc.strerror or exc}; the previous state "
                "is intact; free disk space or give a writable --state-dir, then rerun"
            ) from None
        except BaseException:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, job: str) -> JobState | None:
        """The state at ``path`` (None if there is none) of the job whose config hash is
        ``job``, verified; stray temp files are removed. A corrupt state falls back to the
        previous one with a warning; another job's state raises ForeignStateError."""
        for stray in path.parent.glob(f".{path.name}.*.tmp") if path.parent.exists() else []:
            stray.unlink(missing_ok=True)
        return cls.peek(path, job, warn=True)

    @classmethod
    def peek(cls, path: Path, job: str, warn: bool = False) -> JobState | None:
        """Read the state at ``path`` (or its previous copy) of the job whose config hash is
        ``job``, without touching any file."""
        files = [f for f in (path, _previous(path)) if f.exists()]  # newest first
        errors: list[str] = []
        for f in files:  # no `path` alone: killed between the two renames of save()
            try:
                state = _read(f)
            except (OSError, ValueError) as exc:
                errors.append(f"{f} ({exc})")
                continue
            if state.config_hash != job:
                raise ForeignStateError(
                    f"the job state {f} holds another job's state (config hash "
                    f"{str(state.config_hash)[:16]!r}, not {job!r}): it was copied or swapped "
                    f"in; delete {path.name}* in {path.parent} to start this job over"
                )
            if errors and warn:
                print(f"albench: warning: corrupt job state {errors[0]}; resuming from {f}",
                      file=sys.stderr)  # fmt: skip
            return state
        if not files:
            return None
        raise CorruptStateError(
            f"the saved state of this job is corrupt: {'; '.join(errors)}; delete "
            f"{path.name}* in {path.parent} to start the job over"
        )

    @staticmethod
    def remove(path: Path) -> None:
        """Delete the state and its previous copy (the job finished)."""
        path.unlink(missing_ok=True)
        _previous(path).unlink(missing_ok=True)


def _previous(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def _read(path: Path) -> JobState:
    """One state file, checksum verified; ValueError if it is not a valid state."""
    blob = path.read_bytes()
    head, _, body = blob.partition(b"\n")
    if head.startswith(b"albench-state ") and not head.startswith(_MAGIC):
        raise ValueError("written by another albench version, in another state format")
    if not head.startswith(_MAGIC) or len(head) != len(_MAGIC) + 64:
        raise ValueError("not an albench state file (truncated or empty?)")
    if hashlib.sha256(body).hexdigest().encode() != head[len(_MAGIC) :]:
        raise ValueError("checksum mismatch")
    try:  # data only: tensors and plain values, so a state file can never run code
        p = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    except Exception as exc:  # a body that passes the checksum but cannot be read
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot be read as data ({first[:200]})") from None
    if not isinstance(p, dict) or p.get("version") != _VERSION:
        raise ValueError(f"not a version-{_VERSION} albench state")
    p.pop("version", None)
    p["labeled"] = p["labeled"].numpy()
    p["rows"] = [tuple(r) for r in p["rows"]]
    p["artifacts"] = {name: _from_data(v) for name, v in p.get("artifacts", {}).items()}
    return JobState(**{k: v for k, v in p.items() if k in JobState.__dataclass_fields__})


def _to_data(value: Any) -> Any:
    """An artifact (an array, or a dict of columns) as tensors, which load as data only."""
    if isinstance(value, dict):
        return {str(k): torch.as_tensor(np.asarray(v)) for k, v in value.items()}
    return torch.as_tensor(np.asarray(value))


def _from_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v.numpy() for k, v in value.items()}
    return value.numpy()
