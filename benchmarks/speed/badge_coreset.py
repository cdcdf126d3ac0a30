"""BADGE and core-set selection at the paper's CIFAR scale: time and peak extra memory, albench
against a straightforward reference.

Scale (Yoo & Kweon 2019, §4.1): M = 10,000 candidates (the subset S_M), D = 512 (ResNet-18's
embedding), C = 10 classes, K = 1,000 picks; core-set also gets L labeled centres (1,000: the
first selection; ``--labeled``). Inputs are float32 normals (logits scaled by 3 so that the
softmax is neither flat nor one-hot).

Methods, each run in a fresh Python process (``--worker METHOD``) so that its memory is its own:

- ``badge``: :func:`albench.strategies.badge.badge_select` (factorised distances, float64,
  (M, 1) blocks);
- ``badge_reference``: the explicit gradient embeddings G = (p - onehot) (x) h, an (M, C x D)
  float32 matrix, and textbook k-means++ (``((G - G[i]) ** 2).sum(1)`` per step) with the same
  first pick and the same inverse-CDF draws, so the picks can be compared;
- ``coreset``: :func:`albench.strategies.coreset.k_center_greedy`;
- ``coreset_reference``: the NumPy k-center loop of ``kcenter.py`` (one row of distances per
  labeled centre, then one per pick).

Memory: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the process's peak resident set, which
sees torch's and NumPy's allocations alike, unlike tracemalloc) after the method, minus the
resident set measured (``/proc/self/statm``) just before it, after the inputs were made and
torch and albench imported. The inputs are generated directly in float32, so nothing before
the method peaks above that resident set (the worker checks it: ``pre_peak_excess_mb``).
Time: wall clock of the selection alone. Threads: ``--threads`` (default 1) for torch and for
NumPy's BLAS alike (OMP/OpenBLAS/MKL variables set before the worker imports them), so that
the figures do not depend on what else the machine runs.

    python benchmarks/speed/badge_coreset.py --out badge_coreset.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _record
import numpy as np

METHODS = ("badge", "badge_reference", "coreset", "coreset_reference")


def _inputs(args: argparse.Namespace) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "logits": 3.0 * rng.standard_normal((args.candidates, args.classes), dtype=np.float32),
        "embedding": rng.standard_normal((args.candidates, args.dim), dtype=np.float32),
        "labeled": rng.standard_normal((args.labeled, args.dim), dtype=np.float32),
    }


def badge_reference(logits: np.ndarray, emb: np.ndarray, k: int, rng) -> list[int]:
    """Explicit (M, C x D) gradient embeddings and textbook k-means++ (module docstring)."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    a = p - np.eye(p.shape[1], dtype=p.dtype)[p.argmax(axis=1)]
    g = (a[:, :, None] * emb[:, None, :]).reshape(len(a), -1)  # (M, C x D) float32
    picks = [int(np.argmax((g * g).sum(axis=1)))]
    d2 = ((g - g[picks[0]]) ** 2).sum(axis=1).astype(np.float64)
    d2[picks[0]] = 0
    for _ in range(1, k):
        cum = np.cumsum(d2)
        i = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
        picks.append(i)
        d2 = np.minimum(d2, ((g - g[i]) ** 2).sum(axis=1))
        d2[i] = 0
    return picks


def _rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def worker(method: str, args: argparse.Namespace) -> dict:
    """Run one method in this process; its seconds, peak extra memory and picks."""
    import torch
    from kcenter import numpy_k_center

    torch.set_num_threads(args.threads)

    from albench.strategies.badge import badge_select
    from albench.strategies.coreset import k_center_greedy

    def run(data: dict[str, np.ndarray], picks: int) -> list[int]:
        t = {k: torch.from_numpy(v) for k, v in data.items()}  # shares the arrays
        rng = np.random.default_rng(1)
        if method == "badge":
            return badge_select(t["logits"], t["embedding"], picks, rng).tolist()
        if method == "badge_reference":
            return badge_reference(data["logits"], data["embedding"], picks, rng)
        if method == "coreset":
            return k_center_greedy(t["embedding"], t["labeled"], picks).tolist()
        return numpy_k_center(data["embedding"], data["labeled"], picks)

    # warm-up on a tiny input: lazily loaded kernels and thread pools are not the method's
    tiny = argparse.Namespace(**{**vars(args), "candidates": 64, "labeled": 8})
    run(_inputs(tiny), 4)
    data = _inputs(args)
    before, pre_peak = _rss_bytes(), _peak_bytes()
    start = time.perf_counter()
    picks = run(data, args.picks)
    seconds = time.perf_counter() - start
    return {
        "method": method,
        "seconds": seconds,
        "peak_extra_mb": (_peak_bytes() - before) / 1e6,
        "pre_peak_excess_mb": max(0, pre_peak - before) / 1e6,
        "picks": picks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--picks", type=int, default=1_000)
    parser.add_argument("--labeled", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    if args.worker:
        args.result.write_text(json.dumps(worker(args.worker, args)))
        return
    rows = []
    sizes = [f"--{k}={getattr(args, k)}" for k in ("candidates", "dim", "classes", "picks")]
    sizes += [f"--labeled={args.labeled}", f"--threads={args.threads}"]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    for method in args.methods:
        with tempfile.TemporaryDirectory() as tmp:
            result = Path(tmp) / "result.json"
            cmd = [sys.executable, __file__, "--worker", method, "--result", str(result), *sizes]
            subprocess.run(cmd, check=True, cwd=Path(__file__).parent, env=env)
            rows.append(json.loads(result.read_text()))
    picks = {r["method"]: r.pop("picks") for r in rows}
    for method, ref in (("badge", "badge_reference"), ("coreset", "coreset_reference")):
        if method in picks and ref in picks:
            same = sum(a == b for a, b in zip(picks[method], picks[ref], strict=True))
            for r in rows:
                if r["method"] in (method, ref):
                    r["picks_equal_to_the_other"] = f"{same}/{len(picks[method])} in order"
    print(f"{'method':18s} {'seconds':>8s} {'peak extra MB':>14s}  picks")
    for r in rows:
        print(
            f"{r['method']:18s} {r['seconds']:8.2f} {r['peak_extra_mb']:14.1f}  "
            f"{r.get('picks_equal_to_the_other', '')}"
        )
    _record.write(args.out, None, sizes=sizes, rows=rows)


if __name__ == "__main__":
    main()
