"""Reproducible CPU mode: the same numbers on any x86-64 CPU with AVX2, Intel or AMD.

A CPU job's numbers come from five libraries that each choose their code at run time, by
instruction set, by vendor or by cache size, and each choice sums in its own order: the same
job, seed and commit then give different weights after a few epochs on two machines, and
different selections after that. This mode fixes every choice:

- ATen (torch's own kernels) dispatches by instruction set: ``ATEN_CPU_CAPABILITY=avx2``,
  read when torch is imported, is the same code on every AVX2 CPU, Intel or AMD.
- MKL (``nn.Linear``, ``matmul``, ``cdist``) dispatches its BLAS by vendor:
  its ``AVX2`` branch (revision 1's pin) holds on Intel CPUs only and falls back to the
  automatic branch on any other. ``MKL_CBWR=COMPATIBLE`` (SSE2 code) is MKL's branch for
  identical results on Intel and non-Intel processors.
- oneDNN (convolutions) dispatches by instruction set: ``ONEDNN_MAX_CPU_ISA=AVX2``. Its
  kernels (direct JIT, GEMM-based, brgemm, 1x1) gave the same bits on three processors whose
  caches differ (2 MB, 4 MB and 512 KB of L2), so convolutions stay in oneDNN, the fast path.
- MKL's vector math (``torch.sqrt`` of a float tensor) is not correctly rounded in the
  ``COMPATIBLE`` branch and differs under emulation: :func:`settle` computes the square
  root as ``1 / rsqrt(x)`` instead, from IEEE operations.
- numpy (the pose heatmaps' ``exp``, the scores' statistics) dispatches to AVX2 or AVX-512
  code: ``NPY_DISABLE_CPU_FEATURES`` keeps it at its x86-64-v2 baseline.
- OpenBLAS (numpy's products) picks a kernel per processor family:
  ``OPENBLAS_CORETYPE=Haswell``, one thread.

The variables must be in the environment before torch and numpy are imported in the job's
process: the command line sets them right after reading the benchmark (which imports
neither), so the driver, the forkserver and every worker start with them; :func:`settle`
runs at the start of every pinned job (``run_job``). Together with a fixed thread count per job
(``train.threads``) the results depend neither on the CPU nor on ``--jobs``.

What is proven, how, and what is not covered: docs/reproducibility.md. The proof is
``benchmarks/cpu_vendors.py``, which runs a small job of every task family natively and
under emulated Intel and AMD processors (``qemu-x86_64 -cpu``) and compares every per-cycle
metric and pick bit for bit (a test in CI).
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from pathlib import Path

__all__ = [
    "NUMPY_ABOVE_BASELINE",
    "PINS",
    "PREVIOUS_PINS",
    "REVISION",
    "describe",
    "machine",
    "mkl_branch",
    "pin",
    "pinned",
    "require_pins",
    "settle",
]

# numpy's dispatch targets above its x86-64-v2 baseline: numpy 2.4's names, then older ones
NUMPY_ABOVE_BASELINE = (
    "X86_V3 X86_V4 AVX512_ICL AVX512_SPR AVX F16C FMA3 AVX2 AVX512F AVX512CD AVX512_KNL "
    "AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL"
)
PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "COMPATIBLE",
    "NPY_DISABLE_CPU_FEATURES": NUMPY_ABOVE_BASELINE,
    "OPENBLAS_CORETYPE": "Haswell",
    "OPENBLAS_NUM_THREADS": "1",
}
PREVIOUS_PINS = {  # revision 1: equal results across instruction sets of Intel CPUs only
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2,STRICT",
}
# Part of every pinned job's configuration (and so of its hash): a job run under other pins
# (revision 1 pinned MKL to its Intel-only AVX2 branch) is another job, never skipped as
# finished or resumed from a state of the old numbers.
REVISION = 2

# MKL's CNR branch codes (mkl_cbwr_get(MKL_CBWR_BRANCH); mkl_service.h)
_MKL_BRANCHES = {
    0: "OFF", 1: "BRANCH_OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3",
    7: "SSE4_1", 8: "SSE4_2", 9: "AVX", 10: "AVX2", 12: "AVX512", 14: "AVX512_E1",
}  # fmt: skip
_MKL_CBWR_BRANCH = 1  # what mkl_cbwr_get reports: the branch in effect


def pin() -> bool:
    """Put the pins in this process's environment (inherited by its workers). Returns False
    when torch or numpy was imported already: this process's kernels are chosen and stay as
    they are."""
    os.environ.update(PINS)
    return not {"torch", "numpy"} & set(sys.modules)


def require_pins(job: str) -> None:
    """Fail before a job in the reproducible CPU mode trains in a process that started without
    the pins (a worker of a Ray cluster started by hand, say): its numbers would differ from
    the same job's elsewhere while its configuration hash says they are the same job."""
    from albench.errors import AlbenchError

    missing = sorted(k for k, v in PINS.items() if os.environ.get(k) != v)
    if missing:
        raise AlbenchError(
            f"job {job} runs in the reproducible CPU mode, but its process started without "
            f"{', '.join(missing)}; albench puts them in its workers' environment (and Ray's "
            "runtime environment): start the job through albench, or set "
            "train.reproducible_cpu=false"
        )


_SQRT_KERNELS: list = []  # the torch.library registration, kept alive once made


def sqrt_from_rsqrt(x):
    """sqrt(x) as 1 / rsqrt(x): two IEEE operations that every x86-64 CPU rounds alike
    (``rsqrt`` is a correctly rounded division by a correctly rounded square root in ATen's
    kernels). Within 1 ulp of sqrt(x); 0, -0, inf and NaN come out as sqrt's."""
    import torch

    return torch.reciprocal(torch.rsqrt(x))


def settle() -> None:
    """In the job's process, once torch is imported: the one kernel choice no environment
    variable makes. ``torch.sqrt`` on the CPU (Adam's and RMSprop's denominators, distances)
    is computed as ``1 / rsqrt(x)``: ATen hands a float tensor's square root to MKL's vector
    math library, whose ``COMPATIBLE`` code is not correctly rounded (19 % of random inputs)
    and does not give the same bits under an emulated Intel or AMD processor as on
    the machine itself, while ATen's ``rsqrt`` and ``reciprocal`` are IEEE square roots and
    divisions, rounded alike by every x86-64 CPU. Process-wide and idempotent."""
    import warnings

    import torch

    if _SQRT_KERNELS:
        return
    lib = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():  # "overriding a previously registered kernel": intended
        warnings.simplefilter("ignore")
        lib.impl("sqrt", sqrt_from_rsqrt, "CPU")
        lib.impl("sqrt_", lambda x: x.copy_(sqrt_from_rsqrt(x)), "CPU")
        lib.impl("sqrt.out", lambda x, *, out: out.copy_(sqrt_from_rsqrt(x)), "CPU")
    _SQRT_KERNELS.append(lib)


def machine() -> dict[str, str]:
    """The CPU this process runs on: vendor and model (``/proc/cpuinfo`` on Linux; under
    ``qemu-user`` that file is the host's, not the emulated model's)."""
    info = {"vendor": "", "model": platform.processor() or platform.machine()}
    try:
        lines = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        return info
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "vendor_id" and not info["vendor"]:
            info["vendor"] = value.strip()
        elif key.strip() == "model name":
            info["model"] = value.strip()
            break
    return info


def mkl_branch() -> str:
    """The MKL code branch in effect in this process ('COMPATIBLE' when pinned; 'AUTO' where
    a requested branch is not available on this CPU), or 'unknown' where torch's build does
    not expose MKL's service functions."""
    import torch

    try:
        lib = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        get = lib.mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return "unknown"
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    return _MKL_BRANCHES.get(get(_MKL_CBWR_BRANCH), str(get(_MKL_CBWR_BRANCH)))


def numpy_simd() -> str:
    """numpy's dispatch targets in effect above its baseline ('baseline' when pinned)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return ",".join(f for f in __cpu_dispatch__ if __cpu_features__.get(f)) or "baseline"


def openblas_kernel() -> str:
    """The kernel family numpy's OpenBLAS runs ('Haswell' when pinned), from threadpoolctl."""
    from threadpoolctl import threadpool_info

    info = threadpool_info()
    kernels = {i.get("architecture", "") for i in info if i["internal_api"] == "openblas"}
    return ",".join(sorted(kernels)) or "none"


def describe() -> dict[str, str]:
    """What this process's kernels run with, and on which CPU (logged as ``cpu.*`` params):
    the pins' variables as set, the capability ATen dispatches to, MKL's branch in effect,
    whether convolutions run in oneDNN, numpy's SIMD targets and OpenBLAS's kernels, the
    CPU's vendor and model, torch's version."""
    import torch

    state = {k: os.environ.get(k, "") for k in PINS}
    state["capability"] = torch.backends.cpu.get_cpu_capability()
    state["mkl_branch"] = mkl_branch()
    state["mkldnn"] = str(torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled)
    state["sqrt"] = "1/rsqrt" if _SQRT_KERNELS else "aten"
    state["numpy_simd"] = numpy_simd()
    state["openblas"] = openblas_kernel()
    state |= machine()
    state["torch"] = torch.__version__
    state["pins_revision"] = str(REVISION)
    return state


def pinned(state: dict[str, str]) -> bool:
    """Whether the pins took effect in the process ``state`` describes: ATen dispatches to
    AVX2, MKL runs its vendor-independent branch, numpy its baseline, and the square root is
    settled."""
    return (
        state["capability"] == "AVX2"
        and state["mkl_branch"] in ("COMPATIBLE", "unknown")
        and state["numpy_simd"] == "baseline"
        and state["sqrt"] == "1/rsqrt"
    )
