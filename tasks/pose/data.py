"""Pose samples: person annotations, the crop + augmentation + heatmap pipeline, the dataset.

One :class:`PoseAnnotations` holds N people (struct of arrays, so 22k MPII poses stay a few
MB); a :class:`PoseDataset` pairs them with an image source (MPII JPEG files, or the stickmen
array) and turns item i into a training sample: the person's square crop (``box`` source
pixels around ``center``) resampled to ``input_res``, with the augmentation of
``geometry.sample_augmentation`` when ``augment`` is set, and the 64x64 (``input_res`` / 4)
Gaussian heatmap targets. Both tasks go through exactly this code.

A sample (and, collated, a batch) is a dict:

- ``image`` (C, R, R) float32 in [0, 1] (Newell et al. feed [0, 1] pixels, no mean subtraction)
- ``target`` (J, R/4, R/4) float32 heatmaps; ``target_weight`` (J,) 1 where the joint is
  visible and inside the heatmap after augmentation (the joints the loss averages over)
- ``joints`` (J, 2) ground truth in source-image pixels, ``visible`` (J,) bool and
  ``head_size`` () (NaN where unknown) for PCKh, ``inverse`` (2, 3) heatmap -> image map.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from albench.tasks.pose.geometry import (
    MPII_FLIP_PAIRS,
    Augmentation,
    apply_affine,
    crop_matrix,
    flip_joints,
    invert_affine,
    sample_augmentation,
)
from albench.tasks.pose.heatmaps import render_heatmaps

__all__ = ["ImageArray", "ImageFiles", "PoseAnnotations", "PoseDataset", "make_sample"]

STRIDE = 4  # input pixels per heatmap pixel: 256x256 input -> 64x64 heatmaps (Newell et al.)


@dataclass(frozen=True)
class PoseAnnotations:
    """N single-person annotations in source-image pixel-centre coordinates (0-based)."""

    joints: np.ndarray  # (N, J, 2) float
    visible: np.ndarray  # (N, J) bool: has a ground-truth location
    center: np.ndarray  # (N, 2) float, centre of the person's crop
    box: np.ndarray  # (N,) float, side of the square crop in source pixels
    head_size: np.ndarray  # (N,) float, 0.6 x head box diagonal; NaN if unknown

    def __len__(self) -> int:
        return len(self.box)

    def subset(self, idx: np.ndarray) -> PoseAnnotations:
        return PoseAnnotations(
            self.joints[idx], self.visible[idx], self.center[idx], self.box[idx],
            self.head_size[idx],
        )  # fmt: skip


def make_sample(
    image: Image.Image,
    joints: np.ndarray,
    visible: np.ndarray,
    center: np.ndarray,
    box: float,
    head_size: float,
    input_res: int,
    aug: Augmentation,
    flip_pairs: tuple[tuple[int, int], ...] = MPII_FLIP_PAIRS,
) -> dict[str, Any]:
    """One sample dict (see the module docstring) from a source image and its person."""
    out_res = input_res // STRIDE
    m_in = crop_matrix(center, box * aug.scale, input_res, aug.rotation, aug.flip)  # (2, 3)
    m_hm = crop_matrix(center, box * aug.scale, out_res, aug.rotation, aug.flip)
    # PIL samples output pixel corners through the inverse map in corner coordinates:
    # p_c = A^-1 (q_c - 0.5) + 0.5, i.e. the inverse's offset plus 0.5 - lin @ (0.5, 0.5).
    inv = invert_affine(m_in)
    offset = inv[:, 2] + 0.5 - inv[:, :2] @ np.array([0.5, 0.5])
    data = (inv[0, 0], inv[0, 1], offset[0], inv[1, 0], inv[1, 1], offset[1])
    crop = image.transform((input_res, input_res), Image.AFFINE, data, Image.BILINEAR)
    pixels = np.asarray(crop, dtype=np.float32) / 255.0
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels  # (R, R, C)
    x = torch.from_numpy(pixels).permute(2, 0, 1).contiguous()  # (R, R, C) -> (C, R, R)
    if aug.color:
        x = (x * torch.tensor(aug.color[: x.shape[0]])[:, None, None]).clamp_(0.0, 1.0)

    joints, visible = joints.astype(np.float64), visible.astype(bool)
    if aug.flip:  # the mirrored person's left joints are its former right joints
        joints, visible = flip_joints(joints, flip_pairs), flip_joints(visible, flip_pairs)
    points = apply_affine(m_hm, joints)  # (J, 2) heatmap coordinates
    weight = visible.copy()
    inside = (points >= -0.5).all(axis=1) & (points <= out_res - 0.5).all(axis=1)
    weight &= inside
    target = render_heatmaps(points, weight, out_res)
    return {
        "image": x,
        "target": torch.from_numpy(target),
        "target_weight": torch.from_numpy(weight.astype(np.float32)),
        "joints": torch.from_numpy(joints.astype(np.float32)),
        "visible": torch.from_numpy(visible.astype(bool)),
        "head_size": torch.tensor(head_size, dtype=torch.float32),
        "inverse": torch.from_numpy(invert_affine(m_hm).astype(np.float32)),
    }


class ImageFiles:
    """Item i's image from ``folder / names[i]``, as RGB (picklable, for DataLoader workers)."""

    def __init__(self, folder: Path, names: np.ndarray):
        self.folder, self.names = folder, names

    def __call__(self, i: int) -> Image.Image:
        with Image.open(self.folder / str(self.names[i])) as image:
            return image.convert("RGB")


class ImageArray:
    """Item i's image from an (N, H, W, C) or (N, H, W) uint8 array held in memory."""

    def __init__(self, images: np.ndarray):
        self.images = images

    def __call__(self, i: int) -> Image.Image:
        return Image.fromarray(self.images[i])


class PoseDataset(Dataset):
    """People from ``ann`` with images from ``load_image(i)`` (:class:`ImageFiles`,
    :class:`ImageArray`); augmented if ``augment``.

    Evaluation items (``augment=False``) are the plain crop. In a flipped sample every
    per-joint field is re-indexed (left <-> right), so ``inverse`` applied to the decoded
    heatmaps still lands on ``joints`` in source pixels.
    """

    def __init__(
        self,
        ann: PoseAnnotations,
        load_image: Callable[[int], Image.Image],
        input_res: int,
        augment: bool,
        channels: int = 3,
    ):
        self.ann = ann
        self.load_image = load_image
        self.input_res = input_res
        self.augment = augment
        self.channels = channels

    def __len__(self) -> int:
        return len(self.ann)

    def __getitem__(self, i: int) -> dict[str, Any]:
        aug = sample_augmentation(self.channels) if self.augment else Augmentation()
        a = self.ann
        return make_sample(
            self.load_image(i), a.joints[i], a.visible[i], a.center[i], float(a.box[i]),
            float(a.head_size[i]), self.input_res, aug,
        )  # fmt: skip
