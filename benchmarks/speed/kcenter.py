"""k-center greedy speed: albench (chunked torch) vs a straightforward NumPy implementation.

Both start from the distances of every candidate to its nearest labeled centre and then make
``--picks`` greedy picks. The NumPy reference is the textbook loop: the initial distances one
labeled centre (one row of distances) at a time, then one row of distances per pick
(``np.linalg.norm(X - X[i], axis=1)``). Both get the same float32 features; the picks must be
identical. Imports torch, numpy and albench's pure k-center function (no MLflow).

    python benchmarks/speed/kcenter.py --pool 10000 50000 --labeled 10000 --dim 512 --picks 1000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _record
import numpy as np
import torch

from albench.strategies.coreset import k_center_greedy  # torch + numpy; MLflow is not imported


def numpy_k_center(features: np.ndarray, centers: np.ndarray, picks: int) -> list[int]:
    min_dist = np.full(len(features), np.inf, dtype=np.float32)
    for c in centers:  # a row of distances per labeled centre
        min_dist = np.minimum(min_dist, np.linalg.norm(features - c, axis=1))
    chosen = []
    for _ in range(picks):  # a row of distances per pick
        i = int(np.argmax(min_dist))
        chosen.append(i)
        min_dist = np.minimum(min_dist, np.linalg.norm(features - features[i], axis=1))
        min_dist[i] = -1.0
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--labeled", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--picks", type=int, default=1000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--skip-numpy-above",
        type=int,
        default=10_000,
        help="pool sizes above this run albench only (the reference is slow)",
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(args.labeled, args.dim)).astype(np.float32)
    rows = []
    for pool in args.pool:
        feats = rng.normal(size=(pool, args.dim)).astype(np.float32)
        f_t, c_t = torch.from_numpy(feats).to(device), torch.from_numpy(centers).to(device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        ours = k_center_greedy(f_t, c_t, args.picks).tolist()  # ends with a host transfer
        t_ours = time.perf_counter() - start
        t_ref, same = None, None
        if pool <= args.skip_numpy_above:
            start = time.perf_counter()
            ref = numpy_k_center(feats, centers, args.picks)
            t_ref = time.perf_counter() - start
            same = ref == ours
        rows.append(
            {
                "pool": pool,
                "labeled": args.labeled,
                "dim": args.dim,
                "picks": args.picks,
                "albench_s": t_ours,
                "numpy_s": t_ref,
                "speedup": t_ref / t_ours if t_ref else None,
                "identical_picks": same,
            }
        )
    print(f"{'pool':>7s} {'albench s':>10s} {'numpy s':>9s} {'speed-up':>9s}  identical")
    for r in rows:
        ref = f"{r['numpy_s']:9.2f}" if r["numpy_s"] else f"{'-':>9s}"
        up = f"{r['speedup']:8.1f}x" if r["speedup"] else f"{'-':>9s}"
        print(f"{r['pool']:7d} {r['albench_s']:10.2f} {ref} {up}  {r['identical_picks']}")
    _record.write(args.out, device, rows=rows)


if __name__ == "__main__":
    main()
