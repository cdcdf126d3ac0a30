"""Pools with a known flaw, for scenarios whose outcome the literature reports.

Each function builds one property into a task's pool, deterministically from a generator,
and returns what the task needs to build it and what the loop needs to measure it (the
mechanism: which picks were copies, which came from the honeypot). A task exposes them as
parameters, off by default (``digits``: ``copies``, ``honeypot``, ``imbalance``; ``shapes``
and ``stickmen``: ``copies``, whole scenes repeated):

- :func:`redundant`: every pool item ``copies`` times (Kirsch et al., *BatchBALD*,
  NeurIPS 2019, Repeated MNIST), each copy with noise of its own (:func:`noisy_copies`).
- :func:`honeypot`: a share of the pool, drawn from a few classes, whose labels are wrong
  (Werner et al., CDALBench 2024, "Honeypot"; Karamcheti et al., ACL 2021); the test split
  stays clean.
- :func:`long_tail`: a pool whose class counts fall geometrically to 1 / ``ratio`` of the
  largest (Lüth et al., NeurIPS 2023, pitfall P1); the test split stays as it is.
"""

from __future__ import annotations

import numpy as np

from albench.config import ALConfig
from albench.contracts import Expectation
from albench.errors import ConfigError
from albench.registry import STRATEGIES, missing_capabilities

__all__ = [
    "HONEYPOT_SOURCE",
    "IMBALANCE_SOURCE",
    "LOW_BUDGET_SOURCE",
    "REDUNDANT_SOURCE",
    "check_copies",
    "honeypot",
    "long_tail",
    "low_budget_expectations",
    "noisy_copies",
    "redundant",
    "redundant_expectations",
]

REDUNDANT_SOURCE = "Kirsch et al., BatchBALD, NeurIPS 2019 (Repeated MNIST)"
HONEYPOT_SOURCE = "Werner et al., CDALBench 2024 (Honeypot); Karamcheti et al., ACL 2021"
LOW_BUDGET_SOURCE = "Hacohen et al., ICML 2022 (the low-budget regime)"
IMBALANCE_SOURCE = "Ertekin et al., CIKM 2007; Aggarwal et al. 2020; Lüth et al., NeurIPS 2023"


def redundant(n: int, copies: int, rng: np.random.Generator) -> np.ndarray:
    """The source item of each of the ``n * copies`` items of a redundant pool: every item
    0..n-1 exactly ``copies`` times, in a random order (so that an index says nothing of
    its copies)."""
    if not isinstance(copies, int) or copies < 1:
        raise ConfigError(f"copies = {copies!r} is invalid: expected a whole number >= 1")
    return rng.permutation(np.repeat(np.arange(n), copies))


TOP_K = ("entropy", "least_confidence", "margin", "bald", "learn_loss")  # top-K by a score
DIVERSE = ("coreset", "badge", "kmeans", "learn_loss_diverse")  # a batch spread out


def check_copies(task: str, copies: int, noise: float) -> tuple[int, float]:
    """``(copies, noise)`` of a redundant pool, or a ConfigError naming the bad value."""
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise ConfigError(
            f"tasks.{task}.params.copies = {copies!r} is invalid: expected a whole number >= 1"
        )
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 1:
        raise ConfigError(
            f"tasks.{task}.params.copy_noise = {noise!r} is invalid: expected a std in [0, 1]"
        )
    return copies, float(noise)


def redundant_expectations(copies: int, provides: frozenset[str]) -> tuple[Expectation, ...]:
    """A redundant pool's known answers (none when ``copies`` is 1): each diversity-aware
    strategy better than each top-K one on the AUBC, for the pairs a task with capabilities
    ``provides`` runs (``albench list``)."""
    if copies <= 1:
        return ()
    runs = {
        name
        for name in (*TOP_K, *DIVERSE)
        if not missing_capabilities(provides, STRATEGIES.capabilities(name))
    }
    return tuple(
        Expectation(
            diverse, top, ("better",), REDUNDANT_SOURCE,
            "top-K by a score spends its budget on near-copies; a diverse batch does not",
        )
        for diverse in DIVERSE
        for top in TOP_K
        if diverse in runs and top in runs
    )  # fmt: skip


def low_budget_expectations(al: ALConfig | None, classes: int) -> tuple[Expectation, ...]:
    """The low-budget regime's known answers when the schedule ``al`` is one: a balanced
    initial set of at most one label per class (``al.balanced_initial``) and at most one
    label per class per cycle. Uncertainty needs a model good enough to know what it does
    not know: entropy is not better than random there (equivalent or worse); a batch that
    covers the data (k-means) is not worse."""
    if al is None or not al.balanced_initial or max(al.initial, al.budget) > classes:
        return ()
    return (
        Expectation(
            "entropy", "random", ("equivalent", "worse"), LOW_BUDGET_SOURCE,
            "with a label or two per class the model's uncertainty is not yet informative",
        ),
        Expectation(
            "kmeans", "random", ("better", "equivalent"), LOW_BUDGET_SOURCE,
            "with few labels, covering the data's modes pays; k-means picks one per cluster",
        ),
    )  # fmt: skip


def noisy_copies(
    images: np.ndarray, source: np.ndarray, std: float, top: float, rng: np.random.Generator
) -> np.ndarray:
    """``images[source]``, each with its own Gaussian noise of ``std`` x ``top`` (the value
    range is 0..``top``), clipped to that range and in the images' dtype (rounded when it is
    an integer type)."""
    if not 0.0 <= std <= 1.0:
        raise ConfigError(f"copy_noise = {std!r} is invalid: expected a std in [0, 1]")
    noise = rng.standard_normal((len(source), *images.shape[1:]))
    out = np.clip(images[source].astype(np.float64) + std * top * noise, 0, top)
    return (out.round() if np.issubdtype(images.dtype, np.integer) else out).astype(images.dtype)


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
