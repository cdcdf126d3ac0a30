"""Least confidence and margin against hand-computed values on every task family, and the
shared detection aggregation rule (entropy, least confidence, margin)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from albench.contracts import StepOutput, aggregate_detections
from albench.errors import ConfigError, UnsupportedPairError
from albench.registry import STRATEGIES, TASKS, check_pair
from albench.strategies.uncertainty import (
    LeastConfidenceStrategy,
    MarginStrategy,
    heatmap_least_confidence,
    least_confidence,
    margin_score,
)
from albench.tasks.detection.ssd import Detections


def _out(output) -> StepOutput:
    return StepOutput(output=output, loss=torch.zeros(1), taps=[], embedding=torch.zeros(1, 1))


def _task(*provides: str):
    return SimpleNamespace(provides=frozenset(provides))


def test_classification_by_hand():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    logits = probs.log()  # softmax(log p) = p
    out, task = _out(logits), _task("class_logits")
    lc = LeastConfidenceStrategy().collect(out, None, task)["least_confidence"]
    mg = MarginStrategy().collect(out, None, task)["margin"]
    torch.testing.assert_close(lc, torch.tensor([0.3, 0.6]))
    torch.testing.assert_close(mg, torch.tensor([1 - 0.5, 1 - 0.05]))


def _detections(*rows_per_image):
    images = []
    for rows in rows_per_image:
        probs = torch.tensor(rows, dtype=torch.float32).reshape(-1, 3)  # (n, C=3)
        n = len(probs)
        images.append(
            Detections(
                torch.zeros(n, 4), probs[:, 1:].max(1).values, torch.ones(n), torch.zeros(n), probs
            )
        )
    return SimpleNamespace(detections=images)


@pytest.mark.parametrize(
    ("aggregate", "empty", "expected_lc", "expected_margin"),
    [
        ("mean", 0.0, [(0.2 + 0.5) / 2, 0.0], [(0.3 + 0.9) / 2, 0.0]),
        ("max", 0.0, [0.5, 0.0], [0.9, 0.0]),
        ("sum", 1.0, [0.7, 1.0], [1.2, 1.0]),
    ],
)
def test_detection_by_hand(aggregate, empty, expected_lc, expected_margin):
    # image 0: two detections, softmax over (background, a, b); image 1: no detection
    output = _detections([[0.8, 0.1, 0.1], [0.5, 0.4, 0.1]], [])
    out, task = _out(output), _task("detections", "embedding")
    lc = LeastConfidenceStrategy(aggregate, empty).collect(out, None, task)["least_confidence"]
    mg = MarginStrategy(aggregate, empty).collect(out, None, task)["margin"]
    torch.testing.assert_close(lc, torch.tensor(expected_lc))
    torch.testing.assert_close(mg, torch.tensor(expected_margin))


def test_pose_least_confidence_by_hand():
    heatmaps = torch.zeros(1, 3, 4, 4)
    heatmaps[0, 0, 1, 2] = 1.3  # peak above 1: clipped, confidence 1
    heatmaps[0, 1, 3, 3] = 0.4  # 1 - 0.4 = 0.6
    heatmaps[0, 2] = -0.1  # a negative map: peak clipped to 0, least confidence 1
    out = _out(heatmaps)
    lc = LeastConfidenceStrategy().collect(out, None, _task("heatmaps"))["least_confidence"]
    torch.testing.assert_close(lc, torch.tensor([(0.0 + 0.6 + 1.0) / 3]))
    torch.testing.assert_close(heatmap_least_confidence(heatmaps), lc)


def test_measures_against_brute_force_sorting():
    probs = torch.rand(50, 7, generator=torch.Generator().manual_seed(0)).softmax(1)
    for row, lc, mg in zip(
        probs.tolist(), least_confidence(probs), margin_score(probs), strict=True
    ):
        ranked = sorted(row, reverse=True)
        assert math.isclose(float(lc), 1 - ranked[0], abs_tol=1e-6)
        assert math.isclose(float(mg), 1 - (ranked[0] - ranked[1]), abs_tol=1e-6)


def test_aggregation_rule_is_shared_with_entropy():
    """SSDOutput.entropy is the shared rule with the paper's setting: mean, 0 when empty."""
    values = [torch.tensor([0.2, 0.4, 0.9]), torch.zeros(0), torch.tensor([1.5])]
    torch.testing.assert_close(aggregate_detections(values), torch.tensor([0.5, 0.0, 1.5]))
    torch.testing.assert_close(
        aggregate_detections(values, "max", 2.0), torch.tensor([0.9, 2.0, 1.5])
    )
    torch.testing.assert_close(aggregate_detections(values, "sum"), torch.tensor([1.5, 0.0, 1.5]))
    with pytest.raises(ValueError, match="aggregation"):
        aggregate_detections(values, "median")


def test_real_detection_output_scores_each_detection_by_its_softmax():
    task = TASKS.get("shapes")()
    torch.manual_seed(0)
    model = task.build_model().eval()
    with torch.no_grad():
        out = task.step(model, task.example_batch(4), train=False)
    dets = out.output.detections
    assert any(len(d.scores) for d in dets)
    assert all(d.probs.shape == (len(d.scores), task.num_classes) for d in dets)
    for d in dets:  # the kept anchor's softmax holds the detection's own score
        torch.testing.assert_close(d.probs.gather(1, d.labels[:, None])[:, 0], d.scores)
    lc = LeastConfidenceStrategy("max").collect(out, None, task)["least_confidence"]
    expected = [  # max over detections of 1 - max softmax
        float((1 - d.probs.max(1).values).max()) if len(d.scores) else 0.0 for d in dets
    ]
    torch.testing.assert_close(lc, torch.tensor(expected))
    entropy = task.uncertainty(out)  # the paper's baseline is unchanged: mean, 0 without
    ref = [float(d.entropy.mean()) if len(d.entropy) else 0.0 for d in dets]
    torch.testing.assert_close(entropy, torch.tensor(ref))


def test_margin_on_pose_is_refused_before_any_run():
    with pytest.raises(UnsupportedPairError, match="class_logits or detections"):
        check_pair(
            "stickmen", TASKS.capabilities("stickmen"), "margin", STRATEGIES.capabilities("margin")
        )
    for task in ("digits", "shapes", "stickmen"):  # least confidence: every family
        check_pair(task, TASKS.capabilities(task), "least_confidence",
                   STRATEGIES.capabilities("least_confidence"))  # fmt: skip


def test_bad_aggregation_is_a_config_error():
    with pytest.raises(ConfigError, match="aggregate"):
        MarginStrategy(aggregate="median")


def test_select_takes_the_top_scores():
    from albench.contracts import Scan

    scan = Scan(
        candidates=np.array([10, 11, 12, 13]), stats={"margin": torch.tensor([0.1, 0.9, 0.5, 0.7])}
    )
    assert MarginStrategy().select(scan, 2, np.random.default_rng(0)).tolist() == [11, 13]
