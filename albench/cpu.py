"""Reproducible CPU mode: the same numbers on any x86-64 machine of the last decade.

PyTorch's CPU kernels pick the widest instruction set the processor has at run time: ATen's
vectorised kernels (AVX-512, AVX2 or plain), oneDNN's convolutions and MKL's BLAS. Each width
sums in another order, so the same job, seed and commit give different weights after a few
epochs on an AVX-512 machine and on an AVX2 one, and different selections after that. This
mode pins all three to AVX2, which every x86-64 CPU since 2013-2015 has:

- ``ATEN_CPU_CAPABILITY=avx2``: ATen's dispatch (read when torch is imported);
- ``ONEDNN_MAX_CPU_ISA=AVX2``: oneDNN's kernels (read when oneDNN first runs);
- ``MKL_CBWR=AVX2,STRICT``: MKL's conditional numerical reproducibility (read at MKL's start).

They must be in the environment before torch is imported in the job's process: the command
line sets them right after reading the benchmark (which imports no torch), so the driver,
the forkserver and every worker start with them. Together with a fixed thread count per job
(``train.threads``) the results do not depend on the machine's instruction set or on
``--jobs``. The cost on the 2-core AVX-512 build machine is measured in the README ("Speed").
On a CPU without AVX2 ATen falls back to its plain kernels and results may differ.
"""

from __future__ import annotations

import os
import sys

__all__ = ["PINS", "pin", "pinned_now"]

PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2,STRICT",
}


def pin() -> bool:
    """Put the pins in this process's environment (inherited by its workers). Returns False
    when torch was imported already: this process's kernels are chosen and stay as they are."""
    os.environ.update(PINS)
    return "torch" not in sys.modules


def pinned_now() -> dict[str, str]:
    """What this process's kernels run with (logged as ``cpu.*`` run params)."""
    import torch

    state = {k: os.environ.get(k, "") for k in PINS}
    state["capability"] = torch.backends.cpu.get_cpu_capability()
    return state
