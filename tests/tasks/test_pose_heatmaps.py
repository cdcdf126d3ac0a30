"""Heatmap targets, decoding, the per-sample pose loss and the heatmap entropy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from albench.tasks.pose.data import make_sample
from albench.tasks.pose.geometry import Augmentation, apply_affine
from albench.tasks.pose.heatmaps import (
    decode_heatmaps,
    heatmap_entropy,
    heatmap_loss,
    render_heatmaps,
)
from albench.tasks.pose.stickmen import generate_stickmen


def test_target_is_a_unit_gaussian_at_the_subpixel_position():
    maps = render_heatmaps(np.array([[5.0, 7.0], [2.5, 3.0]]), np.array([1.0, 0.0]), 16)
    assert maps.shape == (2, 16, 16) and maps.dtype == np.float32
    assert maps[0, 7, 5] == pytest.approx(1.0)  # peak 1 at (x=5, y=7): row 7, column 5
    assert maps[0, 7, 6] == pytest.approx(math.exp(-0.5))  # sigma = 1 pixel
    assert not maps[1].any()  # weight 0: all-zero target


def test_decoding_recovers_subpixel_positions_within_a_quarter_pixel():
    rng = np.random.default_rng(0)
    points = rng.uniform(1.0, 62.0, (16, 2))  # 64x64 heatmaps, away from the border
    maps = torch.from_numpy(render_heatmaps(points, np.ones(16), 64))[None]
    decoded = decode_heatmaps(maps)[0].numpy()
    assert np.abs(decoded - points).max() <= 0.25 + 1e-6
    on_grid = np.array([[10.0, 20.0]])  # exactly on a pixel: neighbours tie, no shift
    grid_map = torch.from_numpy(render_heatmaps(on_grid, np.ones(1), 64))[None]
    assert decode_heatmaps(grid_map)[0].tolist() == [[10.0, 20.0]]


def test_generated_joints_round_trip_through_targets_within_a_pixel():
    """Stick figures -> crop -> 16x16 targets -> decode -> inverse crop: back within 1 px."""
    data = generate_stickmen(seed=3, split=0, count=8, size=64)
    from PIL import Image

    for i in range(8):
        joints, visible = data["joints"][i].astype(np.float64), data["visible"][i]
        center = np.array([31.5, 31.5])
        sample = make_sample(
            Image.fromarray(data["images"][i]), joints, visible, center, 64, 1.0, 64, Augmentation()
        )
        decoded = decode_heatmaps(sample["target"][None])  # (1, 16, 2), heatmap pixels
        back = apply_affine(sample["inverse"][None].double(), decoded.double())[0].numpy()
        inside = sample["target_weight"].numpy() > 0
        assert inside.sum() >= 12
        err = np.abs(back - joints)[inside]  # per axis, image pixels (4 per heatmap pixel)
        assert err.max() <= 1.0 + 1e-4, (i, err.max())


def test_loss_is_per_sample_over_visible_joints_summed_over_stacks():
    target = torch.zeros(2, 3, 4, 4)
    target[:, :, 1, 1] = 1.0
    weight = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    perfect = heatmap_loss([target.clone()], target, weight)
    assert perfect.shape == (2,) and perfect.abs().max() == 0
    wrong_invisible = target.clone()
    wrong_invisible[:, 2] = 5.0  # joint 2 is invisible in both samples: no effect
    assert heatmap_loss([wrong_invisible], target, weight).abs().max() == 0
    off = target.clone()
    off[0, 0, 1, 1] = 0.0  # sample 0, joint 0: 1 of 16 pixels wrong by 1 -> mse 1/16
    loss = heatmap_loss([off], target, weight)
    assert loss.tolist() == pytest.approx([1 / 16 / 2, 0.0])  # mean over its 2 visible joints
    two_stacks = heatmap_loss([off, off], target, weight)
    assert two_stacks.tolist() == pytest.approx([1 / 16, 0.0])  # summed over stacks
    none_visible = heatmap_loss([off], target, torch.zeros(2, 3))
    assert none_visible.tolist() == [0.0, 0.0]


def test_entropy_is_softmax_per_heatmap_mean_over_joints():
    flat = torch.zeros(1, 2, 8, 8)  # uniform softmax: entropy log(64)
    assert heatmap_entropy(flat).item() == pytest.approx(math.log(64))
    peaked = torch.zeros(1, 2, 8, 8)
    peaked[0, :, 3, 3] = 100.0  # one-hot softmax: entropy ~0
    assert heatmap_entropy(peaked).item() == pytest.approx(0.0, abs=1e-6)
    mixed = torch.cat([flat[:, :1], peaked[:, :1]], dim=1)  # mean of the two joints
    assert heatmap_entropy(mixed).item() == pytest.approx(math.log(64) / 2)
    assert heatmap_entropy(torch.randn(5, 16, 8, 8)).shape == (5,)
