"""PCKh@0.5, the MPII evaluation protocol (Andriluka et al., CVPR 2014; paper §4.3).

A predicted joint is correct when its distance to the ground truth, in the source image's
pixels, is at most ``threshold`` (0.5) times the person's head segment length, which the MPII
protocol takes as 0.6 x the diagonal of the annotated head box. Only joints with a ground-truth
location count ("visible": MPII's ``1 - jnt_missing``; occluded but annotated joints do count).
Predictions are the decoded heatmap maxima (quarter-pixel shift) mapped back through the
inverse of the crop.

The reported mean follows the standard MPII table (the "Mean"/"Total" column of Newell et al.,
bearpaw/pytorch-pose and HRNet): all joints except the pelvis (6) and the thorax (7), pooled
over every visible instance of those 14 joints, which equals the per-joint PCKh values
weighted by their visible counts. The per-joint values are kept for reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from albench.contracts import Metric, StepOutput
from albench.tasks.pose.geometry import apply_affine
from albench.tasks.pose.heatmaps import decode_heatmaps

__all__ = [
    "HEAD_SIZE_FACTOR",
    "MEAN_JOINTS",
    "PCKh",
    "head_size",
    "joint_hits",
    "pckh_counts",
    "pckh_mean",
    "pckh_per_sample",
    "predicted_joints",
]

HEAD_SIZE_FACTOR = 0.6  # MPII: head segment length = 0.6 x head box diagonal ("SC_BIAS")
MEAN_JOINTS: tuple[int, ...] = tuple(j for j in range(16) if j not in (6, 7))  # not pelvis, thorax


def head_size(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) head boxes (x1, y1, x2, y2) -> (N,) PCKh normaliser, 0.6 x the diagonal."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return HEAD_SIZE_FACTOR * np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def joint_hits(
    predicted: Tensor,
    truth: Tensor,
    visible: Tensor,
    head: Tensor,
    threshold: float = 0.5,  # PCKh@0.5
) -> tuple[Tensor, Tensor]:
    """(correct, visible), both (N, J) bool, for (N, J, 2) predictions and ground truth in
    image pixels, (N, J) visibility and (N,) head segment lengths."""
    dist = torch.linalg.vector_norm(predicted.double() - truth.double(), dim=2)  # (N, J)
    vis = visible.bool()
    return (dist <= threshold * head.double()[:, None]) & vis, vis


def pckh_counts(
    predicted: Tensor, truth: Tensor, visible: Tensor, head: Tensor, threshold: float = 0.5
) -> tuple[Tensor, Tensor]:
    """Per-joint (correct, visible) counts (J,) over the N samples (:func:`joint_hits`)."""
    correct, vis = joint_hits(predicted, truth, visible, head, threshold)
    return correct.sum(dim=0), vis.sum(dim=0)  # (N, J) -> (J,)


def predicted_joints(heatmaps: Tensor, batch: Any) -> Tensor:
    """(B, J, 2) joints in image pixels from a batch's (B, J, H, W) heatmaps."""
    coords = decode_heatmaps(heatmaps)  # (B, J, 2) heatmap pixels
    return apply_affine(batch["inverse"].to(coords), coords)


def pckh_per_sample(heatmaps: Tensor, batch: Any, threshold: float = 0.5) -> dict[str, Tensor]:
    """Per sample of a batch, over the joints the mean counts (:data:`MEAN_JOINTS`): its
    visible joints (``label_visible_joints``) and the share of them predicted within
    ``threshold`` head sizes (``prediction_pckh``; NaN with none visible)."""
    correct, vis = joint_hits(
        predicted_joints(heatmaps, batch), batch["joints"], batch["visible"],
        batch["head_size"], threshold,
    )  # fmt: skip
    idx = list(MEAN_JOINTS)
    hits, count = correct[:, idx].sum(dim=1), vis[:, idx].sum(dim=1)
    share = hits.double() / count.clamp(min=1)
    share = torch.where(count > 0, share, torch.full_like(share, float("nan")))
    return {"label_visible_joints": count, "prediction_pckh": share}


def pckh_mean(
    correct: np.ndarray, count: np.ndarray, joints: tuple[int, ...] = MEAN_JOINTS
) -> float:
    """Pooled PCKh over ``joints``: correct / visible instances (NaN if none is visible)."""
    idx = list(joints)
    total = float(np.sum(np.asarray(count)[idx]))
    return float(np.sum(np.asarray(correct)[idx])) / total if total else float("nan")


class PCKh(Metric):
    """Streaming PCKh@0.5 over batches of a pose task (see the module docstring).

    ``batch`` needs ``joints`` (B, J, 2) in source-image pixels, ``visible`` (B, J),
    ``head_size`` (B,) and ``inverse`` (B, 2, 3), the map from heatmap to image coordinates.
    """

    def __init__(self, threshold: float = 0.5, joints: tuple[int, ...] = MEAN_JOINTS):
        self.threshold = threshold
        self.joints = joints
        self.correct: np.ndarray | None = None  # (J,) correct instances per joint
        self.count: np.ndarray | None = None  # (J,) visible instances per joint

    def update(self, out: StepOutput, batch: Any) -> None:
        correct, count = pckh_counts(
            predicted_joints(out.output, batch), batch["joints"], batch["visible"],
            batch["head_size"], self.threshold,
        )  # fmt: skip
        correct, count = correct.cpu().numpy(), count.cpu().numpy()
        self.correct = correct if self.correct is None else self.correct + correct
        self.count = count if self.count is None else self.count + count

    def per_joint(self) -> np.ndarray:
        """(J,) PCKh of each joint (NaN where no instance was visible)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.correct / self.count

    def compute(self) -> float:
        if self.count is None:
            return float("nan")
        return pckh_mean(self.correct, self.count, self.joints)
