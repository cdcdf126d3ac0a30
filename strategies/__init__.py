"""Acquisition strategies (installed as ``albench.strategies``); importing registers them."""

from albench.strategies.base import Scan, Strategy, top_k
from albench.strategies.coreset import CoresetStrategy, k_center_greedy
from albench.strategies.entropy import EntropyStrategy
from albench.strategies.learn_loss import (
    LearnLossMSEStrategy,
    LearnLossStrategy,
    LossPredictionModule,
    ranking_loss,
)
from albench.strategies.random import RandomStrategy

__all__ = [
    "CoresetStrategy",
    "EntropyStrategy",
    "LearnLossMSEStrategy",
    "LearnLossStrategy",
    "LossPredictionModule",
    "RandomStrategy",
    "Scan",
    "Strategy",
    "k_center_greedy",
    "ranking_loss",
    "top_k",
]
