"""What every speed benchmark records beside its figures (STYLE.md 10): the command, the
commit, the machine or device, and the torch version. Standard library only; torch is
imported lazily, so the wall-clock benchmark of the CLI stays free of it."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["commit", "device_name", "write"]


def commit() -> str:
    """The checked-out commit, with ``+dirty`` when the tree has uncommitted changes."""
    here = Path(__file__).resolve().parent
    sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=here)
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=here
    )
    return (sha.stdout.strip() or "unknown") + ("+dirty" if dirty.stdout.strip() else "")


def device_name(device: Any = None) -> str:
    """The CUDA device's name, else the CPU model and core count."""
    if device is not None and getattr(device, "type", str(device)) == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {cpu}, {os.cpu_count()} cores"


def write(path: Path | None, device: Any = None, **figures: Any) -> dict[str, Any]:
    """The result record; written as JSON to ``path`` when given."""
    record: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "commit": commit(),
        "device": device_name(device),
        "python": platform.python_version(),
    }
    if "torch" in sys.modules:
        record["torch"] = sys.modules["torch"].__version__
    record.update(figures)
    if path is not None:
        Path(path).write_text(json.dumps(record, indent=2) + "\n")
    return record
