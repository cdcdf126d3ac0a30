"""Uncertainty sampling beside the entropy baseline: least confidence and smallest margin.

Both score each candidate by how unsure the model's prediction is ("higher = more
uncertain", like every albench score) and take the top K, as ``entropy`` does.

- **Least confidence** (Lewis & Gale, SIGIR 1994; Settles 2009, §3.1 "least confident"):
  1 - max_c p(c | x).
- **Smallest margin** (Scheffer, Decomain & Wrobel, IDA 2001): p_(1) - p_(2), the gap between
  the two most probable classes; small is uncertain, so the score is 1 - (p_(1) - p_(2)),
  in [0, 1] (logged as ``margin``: *higher* is a smaller margin).

Per task family (the strategy dispatches on what the task provides):

- classification (``class_logits``): p = softmax of the logits.
- detection (``detections``): each final detection (after NMS) is scored on its anchor's whole
  softmax, background included (the distribution the entropy baseline reads, §4.2), and the
  image's score aggregates its detections by the shared rule
  :func:`albench.contracts.aggregate_detections`: ``aggregate`` = "mean" (the entropy
  baseline's rule, the default), "max" or "sum" (the three aggregations Brust et al., VISAPP
  2019, compare), and ``empty`` for an image without detections. ``empty`` = 0 (default, as the
  entropy baseline) ranks such images last: no foreground class reached 1 % anywhere, the
  limit of confidently-background anchors; ``empty`` = 1 ranks them first ("nothing found" as
  the most uncertain outcome).
- pose (``heatmaps``, least confidence only): per joint 1 - its heatmap's peak value clipped
  to [0, 1] (targets are Gaussians of peak 1, so the peak is the network's confidence that
  the joint is where it points; the max-heatmap confidence of pose active learning, Liu &
  Ferrari, ICCV 2017), mean over the joints. The margin has no principled definition on a
  heatmap (its two highest values are neighbouring pixels of one peak): ``margin`` does not
  support pose, and the pair is refused before any run.

Cost per cycle: one scan of S_M (detection: plus the NMS, as entropy), then a top-K.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import Tensor

from albench.contracts import (
    AGGREGATIONS,
    CLASS_LOGITS,
    DETECTIONS,
    HEATMAPS,
    Scan,
    StepOutput,
    Strategy,
    Task,
    aggregate_detections,
    top_k,
)
from albench.errors import ConfigError
from albench.registry import builtin

__all__ = [
    "LeastConfidenceStrategy",
    "MarginStrategy",
    "heatmap_least_confidence",
    "least_confidence",
    "margin_score",
    "uncertainty_per_sample",
]


def least_confidence(probs: Tensor) -> Tensor:
    """(..., C) probabilities -> (...) 1 - max_c p_c."""
    return 1.0 - probs.float().max(dim=-1).values


def margin_score(probs: Tensor) -> Tensor:
    """(..., C) probabilities -> (...) 1 - (p_(1) - p_(2)); higher = smaller margin."""
    top2 = probs.float().topk(2, dim=-1).values  # (..., 2)
    return 1.0 - (top2[..., 0] - top2[..., 1])


def heatmap_least_confidence(heatmaps: Tensor) -> Tensor:
    """(B, J, H, W) heatmaps -> (B,) mean over joints of 1 - clip(peak, 0, 1)."""
    peak = heatmaps.float().flatten(2).max(dim=2).values  # (B, J, H*W) -> (B, J)
    return (1.0 - peak.clamp(0.0, 1.0)).mean(dim=1)  # (B, J) -> (B,)


def uncertainty_per_sample(
    out: StepOutput,
    provides: frozenset[str],
    measure: Callable[[Tensor], Tensor],
    rule: tuple[str, float] = ("mean", 0.0),
) -> Tensor:
    """(B,) ``measure`` (a function of (..., C) probabilities) of each sample's prediction.

    Classification: of the softmax; detection: of each final detection's softmax, aggregated
    per image by ``rule`` = (aggregation, value without detections); pose: the heatmap least
    confidence (``measure`` must then be :func:`least_confidence`).
    """
    if CLASS_LOGITS in provides:
        return measure(out.output.float().softmax(dim=1))  # (B, C) -> (B,)
    if DETECTIONS in provides:
        how, empty = rule
        per_detection = [measure(d.probs) for d in out.output.detections]  # (n_i,) each
        return aggregate_detections(per_detection, how, empty)
    if HEATMAPS in provides and measure is least_confidence:
        return heatmap_least_confidence(out.output)
    raise ValueError(f"no definition for a task providing {sorted(provides)}")


class _TopKUncertainty(Strategy):
    """Top-K by a per-sample uncertainty ``key``, computed by ``measure``."""

    key = ""
    measure: Callable[[Tensor], Tensor] = staticmethod(least_confidence)

    def __init__(self, aggregate: str = "mean", empty: float = 0.0):
        if aggregate not in AGGREGATIONS:
            raise ConfigError(
                f"strategies.{self.key}.aggregate = {aggregate!r} is invalid: expected "
                f"{' | '.join(AGGREGATIONS)}"
            )
        self.aggregate = aggregate  # detection: per-detection scores -> image, as entropy's
        self.empty = empty  # detection: the score of an image without detections

    def collect(self, out, aux, task: Task) -> dict[str, Tensor]:
        rule = (self.aggregate, float(self.empty))
        return {self.key: uncertainty_per_sample(out, task.provides, type(self).measure, rule)}

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        return top_k(scan.stats[self.key], scan.candidates, budget)


@builtin("least_confidence", rank=5)
class LeastConfidenceStrategy(_TopKUncertainty):
    """Top-K least confidence, 1 - max probability (Lewis & Gale 1994); per detection, joint.

    Classification: 1 - max softmax. Detection: 1 - max of each final detection's softmax
    (background included), aggregated per image (``aggregate``, default the mean; ``empty``,
    default 0, for an image without detections). Pose: per joint 1 - the heatmap's peak
    clipped to [0, 1], mean over joints. See the module docstring.
    """

    display_name = "least confidence"
    requires = frozenset({f"{CLASS_LOGITS}|{DETECTIONS}|{HEATMAPS}"})
    scores = ("least_confidence",)
    key = "least_confidence"
    measure = staticmethod(least_confidence)


@builtin("margin", rank=6)
class MarginStrategy(_TopKUncertainty):
    """Top-K smallest margin between the two most probable classes (Scheffer et al. 2001).

    Score 1 - (p_(1) - p_(2)). Classification: of the softmax. Detection: of each final
    detection's softmax (background included), aggregated per image as least confidence.
    Pose: unsupported (no principled margin of a heatmap).
    """

    display_name = "margin"
    requires = frozenset({f"{CLASS_LOGITS}|{DETECTIONS}"})
    scores = ("margin",)
    key = "margin"
    measure = staticmethod(margin_score)
