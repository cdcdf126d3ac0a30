"""Acquisition strategies (installed as ``albench.strategies``): the contract and the built-ins.

The contract comes from :mod:`albench.contracts`; the built-in strategies and their pure
algorithms are imported on first access (the registry, :data:`albench.registry.STRATEGIES`,
lists them without importing them).
"""

from __future__ import annotations

import importlib
from typing import Any

from albench.contracts import Scan, Strategy, top_k
from albench.registry import builtin_classes

_HELPERS = {  # the pure algorithms behind the built-ins, for reuse
    "k_center_greedy": "albench.strategies.coreset",
    "LossPredictionModule": "albench.strategies.learn_loss",
    "ranking_loss": "albench.strategies.learn_loss",
    "mse_loss_prediction_loss": "albench.strategies.learn_loss",
    "greedy_groups": "albench.strategies.lookahead",
}

__all__ = ["Scan", "Strategy", "top_k", *sorted(_HELPERS)]


def __getattr__(name: str) -> Any:
    """A helper, or a built-in class (from the registry's index: each is declared once,
    with ``@builtin``), imported on first access."""
    where = _HELPERS | builtin_classes("strategy")
    if name in where:
        return getattr(importlib.import_module(where[name]), name)
    raise AttributeError(f"module 'albench.strategies' has no attribute {name!r}")
