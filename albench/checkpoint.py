"""A job's state, which is also its checkpoint, for crash-safe resume (README "Resume").

After every cycle a job writes one file, ``<state-dir>/<experiment>/<config-hash>.pt``, holding
its :class:`JobState`: the MLflow run id, the last completed cycle, the labeled indices, the
model's and the strategy module's weights (no optimiser: it restarts every cycle), and that
cycle's metric rows and artifacts, which are logged only after the state is safely on disk (so
a resume can finish logging them without duplicating a step). No random state is saved: every
random stream of a trial is reseeded from the trial seed, the stream and the cycle before use
(:func:`albench.loop.derive_seed`), so a resumed job is bit-equal to an uninterrupted one.

Writes are atomic: the bytes go to a temporary file in the same folder, are flushed to disk,
then ``os.replace`` swaps it in. A kill at any moment leaves either the previous state or the
new one, never a torn file. :meth:`JobState.load` with ``clean=True`` (the job itself) removes
stray temporary files; ``albench plan`` reads with :meth:`JobState.peek`, which touches nothing.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["JobState", "state_dir_for"]

_VERSION = 2


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
        """Write to ``path`` atomically (temp file + fsync + rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {k: getattr(self, k) for k in self.__dataclass_fields__}
        payload["labeled"] = torch.as_tensor(self.labeled, dtype=torch.int64)
        payload["version"] = _VERSION
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(payload, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> JobState | None:
        """The state at ``path`` (None if there is none); stray temp files are removed."""
        for stray in path.parent.glob(f".{path.name}.*.tmp") if path.parent.exists() else []:
            stray.unlink(missing_ok=True)
        return cls.peek(path)

    @classmethod
    def peek(cls, path: Path) -> JobState | None:
        """Read the state at ``path`` without touching any file (None if there is none)."""
        if not path.exists():
            return None
        p = torch.load(path, map_location="cpu", weights_only=False)
        p.pop("version", None)
        p.pop("rng", None)  # written by version 1, never needed (see the module docstring)
        p["labeled"] = p["labeled"].numpy()
        p["rows"] = [tuple(r) for r in p["rows"]]
        return cls(**{k: v for k, v in p.items() if k in cls.__dataclass_fields__})


def state_dir_for(uri: str) -> Path:
    """Default state folder: beside a sqlite tracking database, else ``./albench-state``."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :]).resolve().parent / "albench-state"
    return Path("albench-state").resolve()
