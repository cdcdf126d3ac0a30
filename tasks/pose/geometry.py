"""Crop geometry of single-person pose estimation: the affine map from a source image to the
network's input and heatmaps, and the standard augmentation of Newell et al. (ECCV 2016).

Coordinates are pixel *centres*, 0-based: pixel (i, j) is the point (x=j, y=i) and covers
[j - 0.5, j + 0.5] x [i - 0.5, i + 0.5]. A crop is a square of side ``box`` source pixels
around ``center``, rotated by ``rotation`` degrees and resampled to ``res`` x ``res``; the same
crop at the heatmap resolution (res / 4) gives the heatmap coordinates, so a stride-4 network's
heatmap pixel j sits at input pixel 4j + 1.5 (its receptive centre), exactly.

Augmentation (paper §4.3 uses "exactly the same ... data augmentation scheme described in
[36]", i.e. Newell et al.'s training code): scale factor N(1, 0.25) clipped to [0.75, 1.25];
rotation N(0, 30) degrees clipped to [-60, 60], applied with probability 0.4; horizontal flip
with probability 0.5, which mirrors the crop and swaps left and right joints; each colour
channel multiplied by U(0.8, 1.2). Every draw comes from torch's global generator, which the
loop seeds per cycle (the trial's augmentation stream).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "MPII_FLIP_PAIRS",
    "Augmentation",
    "apply_affine",
    "crop_matrix",
    "flip_joints",
    "invert_affine",
    "sample_augmentation",
]

# MPII joint order: 0 r ankle, 1 r knee, 2 r hip, 3 l hip, 4 l knee, 5 l ankle, 6 pelvis,
# 7 thorax, 8 upper neck, 9 head top, 10 r wrist, 11 r elbow, 12 r shoulder, 13 l shoulder,
# 14 l elbow, 15 l wrist. A mirrored person's left joints are the original right ones.
MPII_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13),
)  # fmt: skip


@dataclass(frozen=True)
class Augmentation:
    """One draw of the training augmentation (identity by default: evaluation and scans)."""

    scale: float = 1.0  # multiplies the crop's box side
    rotation: float = 0.0  # degrees, counter-clockwise in the image
    flip: bool = False  # mirror the crop horizontally and swap left/right joints
    color: tuple[float, ...] = ()  # per-channel gain; empty = none


def sample_augmentation(
    channels: int,
    scale_sigma: float = 0.25,  # Newell et al.: s ~ N(1, 0.25) clipped to 1 +- 0.25
    rotation_sigma: float = 30.0,  # Newell et al.: r ~ N(0, 30) degrees clipped to +-60
    rotation_prob: float = 0.4,  # Newell et al.: no rotation with probability 0.6
    flip_prob: float = 0.5,
    color_range: float = 0.2,  # each channel x U(0.8, 1.2)
) -> Augmentation:
    """Draw one augmentation from torch's global generator (seeded by the loop)."""
    r = torch.rand(4 + channels).tolist()
    n = torch.randn(2).tolist()
    scale = min(max(1.0 + scale_sigma * n[0], 1.0 - scale_sigma), 1.0 + scale_sigma)
    rotation = 0.0
    if r[0] < rotation_prob:
        rotation = min(max(rotation_sigma * n[1], -2 * rotation_sigma), 2 * rotation_sigma)
    color = tuple(1.0 - color_range + 2 * color_range * g for g in r[4 : 4 + channels])
    return Augmentation(scale=scale, rotation=rotation, flip=r[1] < flip_prob, color=color)


def crop_matrix(
    center: np.ndarray, box: float, res: int, rotation: float = 0.0, flip: bool = False
) -> np.ndarray:
    """(2, 3) affine map from source pixel coordinates to a ``res`` x ``res`` crop.

    The square of side ``box`` around ``center`` (source pixels) fills the crop; the crop is
    rotated by ``rotation`` degrees about its centre and, with ``flip``, mirrored
    horizontally. In corner coordinates (centre + 0.5) the map is q = k R (p - c) + res / 2
    with k = res / box; the centre offsets cancel in p - c and leave - 0.5 on the output.
    """
    k = res / box
    a = math.radians(rotation)
    cos, sin = math.cos(a), math.sin(a)
    lin = k * np.array([[cos, sin], [-sin, cos]])  # y points down: positive = counter-clockwise
    shift = res / 2 - 0.5 - lin @ np.asarray(center, dtype=np.float64)
    m = np.concatenate([lin, shift[:, None]], axis=1)  # (2, 3)
    if flip:  # x -> (res - 1) - x
        m = np.array([[-1.0, 0.0, res - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    """The inverse of a (2, 3) affine map."""
    full = np.vstack([m, [0.0, 0.0, 1.0]])  # (3, 3)
    return np.linalg.inv(full)[:2]


def apply_affine(m: np.ndarray | torch.Tensor, points):
    """Apply (..., 2, 3) affine maps to (..., J, 2) points (NumPy or torch, batched alike)."""
    lin, shift = m[..., :, :2], m[..., :, 2]  # (..., 2, 2), (..., 2)
    return points @ lin.swapaxes(-1, -2) + shift[..., None, :]  # (..., J, 2)


def flip_joints(values, pairs: tuple[tuple[int, int], ...] = MPII_FLIP_PAIRS):
    """Swap the left/right entries of per-joint ``values`` (J, ...) (a mirrored person)."""
    order = list(range(values.shape[0]))
    for a, b in pairs:
        order[a], order[b] = b, a
    return values[order]
