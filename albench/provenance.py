"""Where a result came from: the commit of the albench code that produced it.

Runs carry it as the ``albench.git_sha`` tag and reports in their "how this was made" block
(STYLE.md 10: a result says how it was obtained).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["git_sha"]


def git_sha() -> str:
    """The checked-out commit of the albench source tree, or "unknown" outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
