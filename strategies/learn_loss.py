"""Learning loss for active learning (Yoo & Kweon, CVPR 2019, §3.2-3.3) and its MSE variant.

A loss-prediction module (Fig. 2) reads the target model's taps: per tap global average
pooling -> FC(128) -> ReLU, the branches concatenated, FC -> one scalar, the predicted loss.
It is trained jointly with the target model (Eq. 3) by the pairwise ranking loss (Eq. 2):
sample i of a batch is paired with sample B-1-i, the target ``1(l_i, l_j)`` is +1 when
l_i > l_j and -1 otherwise, the hinge has margin xi = 1 and the loss is the mean over the
B/2 pairs; the true losses are always detached. From the task's stop-gradient epoch on the
taps are detached before the module, so its gradient no longer reaches the target model.

``learn_loss_mse`` replaces Eq. 2 by (l_hat - l)^2 with lambda = 0.1 (§4.1, "learn loss mse").
The predicted loss is an unnormalised score: the K highest are selected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from albench.contracts import LOSS, TAPS, Scan, Strategy, top_k
from albench.registry import builtin

__all__ = [
    "LearnLossMSEStrategy",
    "LearnLossStrategy",
    "LossPredictionModule",
    "mse_loss_prediction_loss",
    "ranking_loss",
]


class LossPredictionModule(nn.Module):
    """Paper Fig. 2: GAP -> FC(hidden) -> ReLU per tap, concatenated, FC -> (B,) loss."""

    def __init__(self, tap_channels: Sequence[int], hidden: int = 128):
        super().__init__()
        # ModuleList, not a plain list: the branches must be registered parameters.
        self.branches = nn.ModuleList(nn.Linear(c, hidden) for c in tap_channels)
        self.head = nn.Linear(hidden * len(tap_channels), 1)

    def forward(self, taps: Sequence[Tensor]) -> Tensor:
        feats = []
        for fc, tap in zip(self.branches, taps, strict=True):
            pooled = tap.float().flatten(2).mean(dim=2) if tap.dim() > 2 else tap.float()
            feats.append(F.relu(fc(pooled)))  # (B, C, H, W) -> (B, C) -> (B, hidden)
        return self.head(torch.cat(feats, dim=1)).view(-1)  # (B, 1) -> (B,), never (B, B)


def ranking_loss(pred: Tensor, target: Tensor, margin: float = 1.0) -> Tensor:
    """Eq. 2 averaged over the B/2 pairs (i, B-1-i); an odd last sample is dropped.

    ``pred`` and ``target`` are (B,); ``target`` (the true loss) is detached here.
    """
    b = (pred.shape[0] // 2) * 2
    if b == 0:
        return pred.sum() * 0.0
    pred, target = pred[:b].float(), target[:b].detach().float()
    half = b // 2
    p_i, p_j = pred[:half], pred[:b].flip(0)[:half]  # pairs (i, B-1-i)
    l_i, l_j = target[:half], target[:b].flip(0)[:half]
    sign = torch.where(l_i > l_j, 1.0, -1.0)  # 1(l_i, l_j): +1 if l_i > l_j else -1
    return torch.clamp(margin - sign * (p_i - p_j), min=0).mean()


def mse_loss_prediction_loss(pred: Tensor, target: Tensor) -> Tensor:
    """(l_hat - l)^2 averaged over the batch, true loss detached (§3.3, "learn loss mse")."""
    return (pred.float() - target.detach().float()).pow(2).mean()


@builtin("learn_loss", rank=3)
class LearnLossStrategy(Strategy):
    """Learning loss (Yoo & Kweon 2019): top-K predicted loss, ranking loss Eq. 2."""

    display_name = "learning loss"
    baseline = True  # the paper's method: every other strategy is compared with it too
    requires = frozenset({LOSS, TAPS})
    pairs_in_batch = True  # Eq. 2 pairs sample i with B-1-i
    scores = ("predicted_loss",)
    term = "ranking"  # name of the logged loss term, train/loss/<term>

    def __init__(self, weight: float = 1.0, margin: float = 1.0, hidden: int = 128):
        self.weight = weight  # lambda, Eq. 3 (1 for CIFAR-10 and VOC, 1e-4 for MPII)
        self.margin = margin  # xi, Eq. 2; §4 sets it to 1
        self.hidden = hidden  # width of each FC branch, §4: 128

    def auxiliary(self, task) -> nn.Module:
        return LossPredictionModule(task.tap_channels, self.hidden)

    def prediction_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return ranking_loss(pred, target, self.margin)

    def extra_losses(self, out, aux, *, detach_taps: bool) -> dict[str, Tensor]:
        # Reassign, not just call .detach(): the module must read the detached tensors.
        taps = [t.detach() for t in out.taps] if detach_taps else out.taps
        pred = aux(taps)  # (B,)
        return {self.term: self.weight * self.prediction_loss(pred, out.loss)}

    def collect(self, out, aux, task) -> dict[str, Tensor]:
        return {"predicted_loss": aux(out.taps)}

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        return top_k(scan.stats["predicted_loss"], scan.candidates, budget)


@builtin("learn_loss_mse", rank=4)
class LearnLossMSEStrategy(LearnLossStrategy):
    """Learning loss with an MSE loss-prediction loss, lambda 0.1 (paper §4.1 ablation)."""

    display_name = "learning loss (MSE)"
    baseline = False
    term = "mse"

    def __init__(self, weight: float = 0.1, margin: float = 1.0, hidden: int = 128):
        super().__init__(weight=weight, margin=margin, hidden=hidden)

    def prediction_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return mse_loss_prediction_loss(pred, target)
