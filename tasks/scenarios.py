"""Pools with a known flaw, for scenarios whose outcome the literature reports.

Each function builds one property into a task's pool, deterministically from a generator,
and returns what the task needs to build it and what the loop needs to measure it (the
mechanism: which picks were copies, which came from the honeypot). A task exposes them as
parameters, off by default (``digits``: ``copies``, ``honeypot``, ``imbalance``):

- :func:`redundant`: every pool item ``copies`` times (Kirsch et al., *BatchBALD*,
  NeurIPS 2019, Repeated MNIST); the task adds independent noise to each copy.
- :func:`honeypot`: a share of the pool, drawn from a few classes, whose labels are wrong
  (Werner et al., CDALBench 2024, "Honeypot"; Karamcheti et al., ACL 2021); the test split
  stays clean.
- :func:`long_tail`: a pool whose class counts fall geometrically to 1 / ``ratio`` of the
  largest (Lüth et al., NeurIPS 2023, pitfall P1); the test split stays as it is.
"""

from __future__ import annotations

import numpy as np

from albench.errors import ConfigError

__all__ = [
    "HONEYPOT_SOURCE",
    "IMBALANCE_SOURCE",
    "REDUNDANT_SOURCE",
    "honeypot",
    "long_tail",
    "redundant",
]

REDUNDANT_SOURCE = "Kirsch et al., BatchBALD, NeurIPS 2019 (Repeated MNIST)"
HONEYPOT_SOURCE = "Werner et al., CDALBench 2024 (Honeypot); Karamcheti et al., ACL 2021"
IMBALANCE_SOURCE = "Ertekin et al., CIKM 2007; Aggarwal et al. 2020; Lüth et al., NeurIPS 2023"


def redundant(n: int, copies: int, rng: np.random.Generator) -> np.ndarray:
    """The source item of each of the ``n * copies`` items of a redundant pool: every item
    0..n-1 exactly ``copies`` times, in a random order (so that an index says nothing of
    its copies)."""
    if not isinstance(copies, int) or copies < 1:
        raise ConfigError(f"copies = {copies!r} is invalid: expected a whole number >= 1")
    return rng.permutation(np.repeat(np.arange(n), copies))


def honeypot(
    labels: np.ndarray,
    share: float,
    classes: tuple[int, ...],
    num_classes: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, mask)``: ``round(share * len(labels))`` items drawn from ``classes`` get a
    wrong label, uniform over the other classes; ``mask`` marks them (the honeypot)."""
    labels = np.asarray(labels, dtype=np.int64)
    if not 0.0 <= share < 1.0:
        raise ConfigError(f"honeypot = {share!r} is invalid: expected a share in [0, 1)")
    size = round(share * len(labels))
    region = np.flatnonzero(np.isin(labels, classes))
    if size > len(region):
        raise ConfigError(
            f"honeypot = {share!r} asks {size} items from classes {list(classes)}, which have "
            f"{len(region)}: lower the share or name more honeypot_classes"
        )
    mask = np.zeros(len(labels), dtype=bool)
    mask[rng.choice(region, size=size, replace=False)] = True
    noisy = labels.copy()
    noisy[mask] = (labels[mask] + rng.integers(1, num_classes, size=size)) % num_classes
    return noisy, mask


def long_tail(labels: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """The pool items kept (sorted) for a long tail of imbalance ``ratio``: class c of C
    keeps ``max(1, round(n * ratio ** (-c / (C - 1))))`` of its items, drawn at random,
    where n is the smallest class count (so the largest class has n items, the smallest
    n / ratio)."""
    labels = np.asarray(labels, dtype=np.int64)
    if not ratio >= 1.0:
        raise ConfigError(f"imbalance = {ratio!r} is invalid: expected a ratio >= 1")
    classes = np.unique(labels)
    n = min(int((labels == c).sum()) for c in classes)
    keep = []
    for rank, c in enumerate(classes):
        count = max(1, round(n * ratio ** (-rank / max(len(classes) - 1, 1))))
        keep.append(rng.choice(np.flatnonzero(labels == c), size=count, replace=False))
    return np.sort(np.concatenate(keep))
