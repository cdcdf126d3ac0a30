"""Crop geometry and augmentation: the image, the targets and the joints stay consistent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from albench.tasks.pose.data import make_sample
from albench.tasks.pose.geometry import (
    MPII_FLIP_PAIRS,
    Augmentation,
    apply_affine,
    crop_matrix,
    flip_joints,
    invert_affine,
    sample_augmentation,
)
from albench.tasks.pose.heatmaps import decode_heatmaps

R_WRIST, L_WRIST, HEAD_TOP = 10, 15, 9


def _person(size: int = 128):
    """A dark image with a bright 3x3 dot at the right wrist; joints spread over the image."""
    rng = np.random.default_rng(1)
    joints = rng.uniform(20, size - 20, (16, 2)).round()
    joints[R_WRIST] = [40.0, 70.0]
    joints[L_WRIST] = [90.0, 30.0]
    pixels = np.zeros((size, size, 3), dtype=np.uint8)
    x, y = joints[R_WRIST].astype(int)
    pixels[y - 1 : y + 2, x - 1 : x + 2] = 255
    visible = np.ones(16, dtype=bool)
    visible[L_WRIST] = False  # only one side visible: the flip must move the weight
    return Image.fromarray(pixels), joints, visible, np.array([63.5, 63.5])


def test_identity_crop_and_inverse():
    m = crop_matrix(np.array([31.5, 31.5]), 64, 64)
    assert np.allclose(m, [[1, 0, 0], [0, 1, 0]])
    m = crop_matrix(np.array([100.0, 50.0]), 80, 64, rotation=25, flip=True)
    p = np.random.default_rng(0).uniform(0, 200, (16, 2))
    assert np.allclose(apply_affine(invert_affine(m), apply_affine(m, p)), p)
    assert np.allclose(apply_affine(m, np.array([[100.0, 50.0]])), [[31.5, 31.5]])  # centre


def test_flip_joints_swaps_left_and_right():
    values = np.arange(16)
    flipped = flip_joints(values)
    for a, b in MPII_FLIP_PAIRS:
        assert flipped[a] == b and flipped[b] == a
    assert flipped[HEAD_TOP] == HEAD_TOP and (flip_joints(flipped) == values).all()


def test_flip_augmentation_mirrors_the_image_and_swaps_left_right_joints():
    image, joints, visible, center = _person()
    plain = make_sample(image, joints, visible, center, 128, 10.0, 128, Augmentation())
    flip = make_sample(image, joints, visible, center, 128, 10.0, 128, Augmentation(flip=True))
    # The crop is mirrored pixel for pixel.
    assert torch.equal(flip["image"], plain["image"].flip(2))
    # The visible right wrist becomes the mirrored person's left wrist.
    assert flip["target_weight"][L_WRIST] == 1 and flip["target_weight"][R_WRIST] == 0
    peak = decode_heatmaps(flip["target"][None])[0, L_WRIST]
    plain_peak = decode_heatmaps(plain["target"][None])[0, R_WRIST]
    assert peak.tolist() == pytest.approx([31 - plain_peak[0].item(), plain_peak[1].item()])
    # The bright dot (the original right wrist) is where the flipped left-wrist target is.
    hm_res = flip["target"].shape[-1]
    dot = (flip["image"][0] == flip["image"][0].max()).nonzero().float().mean(0)  # (row, col)
    assert (dot.flip(0) + 0.5) / (128 / hm_res) - 0.5 == pytest.approx(peak, abs=0.3)
    # Per-joint fields are re-indexed, so the inverse crop lands on the swapped ground truth.
    back = apply_affine(flip["inverse"].double(), peak.double()[None])[0]
    assert back.tolist() == pytest.approx(flip["joints"][L_WRIST].tolist(), abs=1.0)
    assert flip["joints"][L_WRIST].tolist() == joints[R_WRIST].tolist()


@pytest.mark.parametrize("rotation", [0.0, 30.0, -45.0])
def test_image_and_targets_move_together_under_scale_and_rotation(rotation):
    image, joints, visible, center = _person()
    aug = Augmentation(scale=1.2, rotation=rotation)
    sample = make_sample(image, joints, visible, center, 128, 10.0, 128, aug)
    dot = (sample["image"][0] > 0.5).nonzero().float().mean(0).flip(0)  # (x, y) input px
    expected = apply_affine(crop_matrix(center, 128 * 1.2, 128, rotation), joints[R_WRIST][None])
    assert dot.tolist() == pytest.approx(expected[0].tolist(), abs=0.75)
    peak = decode_heatmaps(sample["target"][None])[0, R_WRIST]
    assert ((peak + 0.5) * 4 - 0.5).tolist() == pytest.approx(expected[0].tolist(), abs=1.0)


def test_augmentation_draws_follow_newell_et_al_and_the_torch_seed():
    torch.manual_seed(0)
    draws = [sample_augmentation(3) for _ in range(2000)]
    torch.manual_seed(0)
    assert sample_augmentation(3) == draws[0]  # reproducible from torch's generator
    scales = np.array([d.scale for d in draws])
    rotations = np.array([d.rotation for d in draws])
    assert scales.min() >= 0.75 and scales.max() <= 1.25
    assert np.abs(rotations).max() <= 60 and 0.3 < (rotations != 0).mean() < 0.5
    assert 0.45 < np.mean([d.flip for d in draws]) < 0.55
    colors = np.array([d.color for d in draws])
    assert colors.shape == (2000, 3) and colors.min() >= 0.8 and colors.max() <= 1.2
