"""Per-cycle job checkpoints for crash-safe resume (DESIGN.md "Runner").

After every cycle a job writes one file, ``<state-dir>/<experiment>/<config-hash>.pt``, with
what the next cycle needs and nothing else: the labeled indices, the model and loss-module
state (no optimiser: it restarts every cycle), the RNG states (Python, NumPy, torch CPU and
CUDA), the completed cycle, the MLflow run id, and that cycle's metric rows and artifacts,
which are logged only after the checkpoint is safely on disk (so a resume can finish logging
them without duplicating a step).

Writes are atomic: the bytes go to a temporary file in the same folder, are flushed to disk,
then ``os.replace`` swaps it in. A kill at any moment leaves either the previous checkpoint
or the new one, never a torn file; stray temporary files are ignored and cleaned up.
"""

from __future__ import annotations

import os
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["Checkpoint", "capture_rng", "load", "restore_rng", "save", "state_dir_for"]


@dataclass
class Checkpoint:
    run_id: str
    config_hash: str
    cycle: int  # the last completed cycle
    labeled: np.ndarray  # pool indices labeled for the next cycle
    model: dict[str, torch.Tensor]
    aux: dict[str, torch.Tensor] | None
    rng: dict[str, Any]
    rows: list[tuple[str, float, int]] = field(default_factory=list)  # metrics of `cycle`
    artifacts: dict[str, Any] = field(default_factory=dict)  # name -> array / column dict


def state_dir_for(uri: str) -> Path:
    """Default state folder: beside a sqlite tracking database, else ``./albench-state``."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :]).resolve().parent / "albench-state"
    return Path("albench-state").resolve()


def capture_rng() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": _np_state_to_plain(np.random.get_state()),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(_to_tuple(state["python"]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _np_state_to_plain(state: tuple) -> tuple:
    name, keys, pos, has_gauss, cached = state
    return (name, keys.tolist(), int(pos), int(has_gauss), float(cached))


def _to_tuple(x: Any) -> Any:
    return tuple(_to_tuple(v) for v in x) if isinstance(x, list | tuple) else x


def save(path: Path, ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to ``path`` atomically (temp file + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "version": 1,
        "run_id": ckpt.run_id,
        "config_hash": ckpt.config_hash,
        "cycle": ckpt.cycle,
        "labeled": torch.as_tensor(ckpt.labeled, dtype=torch.int64),
        "model": ckpt.model,
        "aux": ckpt.aux,
        "rng": ckpt.rng,
        "rows": ckpt.rows,
        "artifacts": ckpt.artifacts,
    }
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


def load(path: Path) -> Checkpoint | None:
    """The checkpoint at ``path``, or None if there is none; stray temp files are removed."""
    for stray in path.parent.glob(f".{path.name}.*.tmp") if path.parent.exists() else []:
        stray.unlink(missing_ok=True)
    if not path.exists():
        return None
    p = torch.load(path, map_location="cpu", weights_only=False)
    return Checkpoint(
        run_id=p["run_id"],
        config_hash=p["config_hash"],
        cycle=p["cycle"],
        labeled=p["labeled"].numpy(),
        model=p["model"],
        aux=p["aux"],
        rng=p["rng"],
        rows=[tuple(r) for r in p["rows"]],
        artifacts=p["artifacts"],
    )
