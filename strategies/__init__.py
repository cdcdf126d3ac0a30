"""Acquisition strategies (installed as ``albench.strategies``): the contract and the built-ins.

The contract comes from :mod:`albench.contracts`; the built-in strategies and their pure
algorithms are imported on first access (the registry, :data:`albench.registry.STRATEGIES`,
lists them without importing them).
"""

from __future__ import annotations

import importlib
from typing import Any

from albench.contracts import Scan, Strategy, top_k

_LAZY = {
    "RandomStrategy": "albench.strategies.random",
    "EntropyStrategy": "albench.strategies.entropy",
    "CoresetStrategy": "albench.strategies.coreset",
    "k_center_greedy": "albench.strategies.coreset",
    "LearnLossStrategy": "albench.strategies.learn_loss",
    "LearnLossMSEStrategy": "albench.strategies.learn_loss",
    "LossPredictionModule": "albench.strategies.learn_loss",
    "ranking_loss": "albench.strategies.learn_loss",
    "mse_loss_prediction_loss": "albench.strategies.learn_loss",
    "LeastConfidenceStrategy": "albench.strategies.uncertainty",
    "MarginStrategy": "albench.strategies.uncertainty",
    "BaldStrategy": "albench.strategies.bald",
    "MCEntropyStrategy": "albench.strategies.bald",
    "BadgeStrategy": "albench.strategies.badge",
    "EGLStrategy": "albench.strategies.egl",
    "KMeansStrategy": "albench.strategies.kmeans",
    "LearnLossDiverseStrategy": "albench.strategies.learn_loss_diverse",
    "VAALStrategy": "albench.strategies.vaal",
    "TAVAALStrategy": "albench.strategies.vaal",
    "OracleLossStrategy": "albench.strategies.oracle",
    "LookaheadOracleStrategy": "albench.strategies.lookahead",
    "greedy_groups": "albench.strategies.lookahead",
}

__all__ = ["Scan", "Strategy", "top_k", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'albench.strategies' has no attribute {name!r}")
