"""PCKh@0.5 on hand-worked cases (MPII protocol, paper §4.3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from albench.contracts import StepOutput
from albench.tasks.pose.heatmaps import render_heatmaps
from albench.tasks.pose.pckh import MEAN_JOINTS, PCKh, head_size, pckh_counts, pckh_mean


def test_head_size_is_point_six_of_the_box_diagonal():
    # A 30 x 40 head box has a 50-pixel diagonal: head segment 0.6 x 50 = 30 pixels.
    assert head_size(np.array([[10.0, 20.0, 40.0, 60.0]])) == pytest.approx([30.0])


def _one_joint(dx: float, visible: bool = True):
    """One person, one joint at (100, 50); prediction shifted by dx; head segment 20 px."""
    truth = torch.tensor([[[100.0, 50.0]]])
    predicted = truth + torch.tensor([[[dx, 0.0]]])
    return pckh_counts(predicted, truth, torch.tensor([[visible]]), torch.tensor([20.0]))


def test_exact_hit_inside_and_outside_the_threshold():
    # Threshold = 0.5 x 20 = 10 pixels; "at most" counts the boundary itself.
    assert _one_joint(0.0)[0].tolist() == [1]
    assert _one_joint(9.99)[0].tolist() == [1]
    assert _one_joint(10.0)[0].tolist() == [1]
    assert _one_joint(10.01)[0].tolist() == [0]
    assert _one_joint(-10.01)[1].tolist() == [1]  # counted, not correct


def test_distance_is_euclidean():
    truth = torch.zeros(1, 1, 2)
    inside = pckh_counts(
        torch.tensor([[[6.0, 8.0]]]), truth, torch.ones(1, 1), torch.tensor([20.0])
    )
    outside = pckh_counts(
        torch.tensor([[[6.0, 8.01]]]), truth, torch.ones(1, 1), torch.tensor([20.0])
    )
    assert inside[0].item() == 1 and outside[0].item() == 0  # |(6, 8)| = 10 = threshold


def test_invisible_joints_are_ignored():
    correct, count = _one_joint(100.0, visible=False)  # far off, but has no ground truth
    assert correct.tolist() == [0] and count.tolist() == [0]
    correct, count = _one_joint(0.0, visible=False)  # a perfect guess does not count either
    assert correct.tolist() == [0] and count.tolist() == [0]


def test_mean_excludes_pelvis_and_thorax_and_pools_instances():
    assert MEAN_JOINTS == (0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15)
    correct = np.zeros(16)
    count = np.full(16, 2.0)
    correct[6] = correct[7] = 2  # pelvis and thorax right: not in the mean
    assert pckh_mean(correct, count) == 0.0
    correct[0], count[0] = 3, 4  # r ankle 3 of 4; every other counted joint 0 of 2
    assert pckh_mean(correct, count) == pytest.approx(3 / (4 + 13 * 2))
    assert math.isnan(pckh_mean(np.zeros(16), np.zeros(16)))


def test_streaming_metric_maps_heatmaps_back_to_image_pixels():
    """Heatmaps peaked at known cells, an inverse crop of scale 4 with offset (100, 200)."""
    joints_hm = np.array([[3.0, 5.0]] * 16)  # every joint at heatmap cell (3, 5)
    heatmaps = torch.from_numpy(render_heatmaps(joints_hm, np.ones(16), 16))[None]  # (1,16,16,16)
    inverse = torch.tensor([[[4.0, 0.0, 100.0], [0.0, 4.0, 200.0]]])  # heatmap -> image
    truth = torch.tensor([[[112.0, 220.0]] * 16])  # exactly where (3, 5) lands
    truth[0, 9] = torch.tensor([112.0, 231.0])  # head top 11 px off: > 0.5 x 20
    truth[0, 10] = torch.tensor([112.0, 229.0])  # r wrist 9 px off: correct
    visible = torch.ones(1, 16, dtype=torch.bool)
    visible[0, 0] = False  # r ankle has no ground truth
    batch = {
        "inverse": inverse,
        "joints": truth,
        "visible": visible,
        "head_size": torch.tensor([20.0]),
    }
    out = StepOutput(output=heatmaps, loss=torch.zeros(1), taps=[], embedding=torch.zeros(1, 1))
    metric = PCKh()
    metric.update(out, batch)
    metric.update(out, batch)  # twice: counts accumulate, the ratio stays
    assert metric.count.tolist() == [0] + [2] * 15
    assert np.isnan(metric.per_joint()[0]) and metric.per_joint()[9] == 0.0
    assert metric.compute() == pytest.approx(12 / 13)  # 13 counted joints, head top wrong
