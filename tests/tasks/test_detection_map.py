"""The VOC07 11-point mAP evaluator: hand-worked cases and torchmetrics' COCO emulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from albench.tasks.detection.voc_eval import (
    ImageDetections,
    ImageTruth,
    VOC07MeanAP,
    average_precision_11pt,
    box_iou_np,
    voc07_ap_per_class,
    voc07_map,
)

A = [0.0, 0.0, 10.0, 10.0]  # three well separated 10x10 boxes
B = [20.0, 20.0, 30.0, 30.0]
C = [40.0, 0.0, 50.0, 10.0]
FAR = [70.0, 70.0, 80.0, 80.0]


def truth(boxes, labels, difficult=None) -> ImageTruth:
    n = len(labels)
    return ImageTruth(
        np.array(boxes, dtype=float).reshape(n, 4),
        np.array(labels, dtype=int),
        np.array(difficult if difficult is not None else [False] * n, dtype=bool),
    )


def dets(boxes, scores, labels) -> ImageDetections:
    n = len(scores)
    return ImageDetections(
        np.array(boxes, dtype=float).reshape(n, 4), np.array(scores, dtype=float), np.array(labels)
    )


def test_perfect_detections_give_one():
    truths = [truth([A, B], [1, 2]), truth([C], [1])]
    found = [dets([A, B], [0.9, 0.8], [1, 2]), dets([C], [0.7], [1])]
    assert voc07_map(found, truths, num_classes=3) == 1.0


def test_false_positive_before_true_positive_follows_the_11_point_rule():
    # Two boxes of one class; detections TP (0.9), FP (0.8), TP (0.7):
    # recall 0.5, 0.5, 1.0 and precision 1, 1/2, 2/3. Points t = 0 .. 0.5 take the best
    # precision at recall >= t = 1; t = 0.6 .. 1.0 take 2/3: AP = (6 * 1 + 5 * 2/3) / 11.
    truths = [truth([A, B], [1, 1])]
    found = [dets([A, FAR, B], [0.9, 0.8, 0.7], [1, 1, 1])]
    assert voc07_map(found, truths, 2) == pytest.approx((6 + 5 * 2 / 3) / 11, abs=1e-12)
    # the same detections with the false positive last: AP 1
    found = [dets([A, B, FAR], [0.9, 0.8, 0.7], [1, 1, 1])]
    assert voc07_map(found, truths, 2) == 1.0
    # a false positive first on a single box: precision 1/2 at every recall point
    found = [dets([FAR, A], [0.9, 0.8], [1, 1])]
    assert voc07_map(found, [truth([A], [1])], 2) == pytest.approx(0.5, abs=1e-12)


def test_difficult_objects_are_neither_positives_nor_penalised():
    truths = [truth([A, B], [1, 1], [False, True])]  # B is difficult
    # a detection of the difficult box scored above the real one is ignored, not a FP
    assert voc07_map([dets([B, A], [0.95, 0.9], [1, 1])], truths, 2) == 1.0
    # missing the difficult box does not lower the recall
    assert voc07_map([dets([A], [0.9], [1])], truths, 2) == 1.0
    # counted as an ordinary box it would: 1 of 2 found, AP = 6/11
    plain = [truth([A, B], [1, 1])]
    assert voc07_map([dets([A], [0.9], [1])], plain, 2) == pytest.approx(6 / 11, abs=1e-12)


def test_duplicates_iou_threshold_and_class_mean():
    truths = [truth([A], [1])]
    # a second detection of an already found box is a false positive (AP 1 anyway, found first)
    ap = voc07_ap_per_class([dets([A, A], [0.9, 0.8], [1, 1])], truths, 2)[1]
    assert ap == 1.0
    # IoU exactly 0.5 is not a match (VOC: > 0.5)
    half = [0.0, 0.0, 10.0, 5.0]
    assert box_iou_np(np.array([half]), np.array([A]))[0, 0] == 0.5
    assert voc07_map([dets([half], [0.9], [1])], truths, 2) == 0.0
    # the wrong class does not match; the mean runs over classes with a non-difficult box
    truths = [truth([A, B, C], [1, 2, 3], [False, False, True])]
    found = [dets([A, FAR, B], [0.9, 0.8, 0.7], [1, 2, 2])]
    aps = voc07_ap_per_class(found, truths, 4)
    assert aps == {1: 1.0, 2: pytest.approx(0.5)} and voc07_map(found, truths, 4) == 0.75


def test_eleven_point_interpolation_directly():
    recall = np.array([0.1, 0.3, 0.3, 0.75])
    precision = np.array([1.0, 0.6, 0.5, 0.4])
    # t = 0, 0.1: 1.0; t = 0.2: 0.6; t = 0.3 .. 0.7: 0.4 (np.arange's 0.30000000000000004
    # lies above a recall of 0.3, as in the devkit); t = 0.8 .. 1: never reached, 0.
    expected = (1 + 1 + 0.6 + 5 * 0.4) / 11
    assert average_precision_11pt(recall, precision) == pytest.approx(expected, abs=1e-12)


def test_streaming_metric_reads_padded_batches():
    from albench.tasks.detection.ssd import Detections

    class Out:
        detections = [
            Detections(torch.tensor([A]), torch.tensor([0.9]), torch.tensor([1]), torch.zeros(1)),
            Detections(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), None),
        ]

    class Batch:
        boxes = torch.tensor([[A, [0, 0, 0, 0]], [B, C]])
        labels = torch.tensor([[1, 0], [1, 2]])  # 0 = padding
        difficult = torch.tensor([[False, False], [False, True]])

    class StepOut:
        output = Out()

    metric = VOC07MeanAP(num_classes=3)
    metric.update(StepOut(), Batch())
    assert [len(t.labels) for t in metric.truths] == [1, 2]
    # class 1: one of two boxes found first -> AP 6/11; class 2: only a difficult box -> skipped
    assert metric.compute() == pytest.approx(6 / 11, abs=1e-12)


# ---------------------------------------------------------------- torchmetrics cross-check


def _random_case(rng: np.random.Generator, n_images: int, n_classes: int):
    """Boxes in separate cells of a grid (no detection can overlap two of them by IoU > 0.5),
    some difficult; detections are jittered copies (IoU on both sides of 0.5), wrong-class
    copies, duplicates and random false positives, with random scores."""
    truths, found = [], []
    for _ in range(n_images):
        cells = rng.permutation(16)[: rng.integers(1, 7)]
        boxes = []
        for cell in cells:
            cy, cx = divmod(int(cell), 4)
            w, h = rng.uniform(8, 20, 2)
            x, y = cx * 25 + rng.uniform(0, 24 - w), cy * 25 + rng.uniform(0, 24 - h)
            boxes.append([x, y, x + w, y + h])
        labels = rng.integers(1, n_classes + 1, len(boxes))
        difficult = rng.random(len(boxes)) < 0.2
        t = truth(boxes, labels, difficult)
        d_boxes, d_labels = [], []
        for box, label in zip(t.boxes, t.labels, strict=True):
            for _ in range(rng.integers(0, 3)):  # 0, 1 or 2 detections of each box
                w, h = box[2] - box[0], box[3] - box[1]
                jitter = rng.normal(0, rng.choice([0.05, 0.3]), 4) * [w, h, w, h]
                d_boxes.append(box + jitter)
                d_labels.append(label if rng.random() < 0.8 else rng.integers(1, n_classes + 1))
        for _ in range(rng.integers(0, 4)):  # false positives anywhere
            x, y = rng.uniform(0, 90, 2)
            d_boxes.append([x, y, x + rng.uniform(4, 20), y + rng.uniform(4, 20)])
            d_labels.append(rng.integers(1, n_classes + 1))
        d_boxes = np.array(d_boxes, dtype=float).reshape(-1, 4)
        d_boxes[:, 2:] = np.maximum(d_boxes[:, 2:], d_boxes[:, :2] + 0.5)
        keep = _same_verdict_on_difficult(d_boxes, np.array(d_labels, dtype=int), t)
        d = dets(d_boxes[keep], rng.random(int(keep.sum())), np.array(d_labels)[keep])
        truths.append(t)
        found.append(d)
    return found, truths


def _same_verdict_on_difficult(boxes: np.ndarray, labels: np.ndarray, t: ImageTruth):
    """Drop the rare detections that COCO's crowd rule (intersection / detection area >= 0.5)
    and VOC's difficult rule (IoU > 0.5) would judge differently."""
    keep = np.ones(len(boxes), dtype=bool)
    for i, box in enumerate(boxes):
        for g, lab, dif in zip(t.boxes, t.labels, t.difficult, strict=True):
            if not dif or lab != labels[i]:
                continue
            iou = box_iou_np(box[None], g[None])[0, 0]
            inter = np.prod(
                np.clip(np.minimum(box[2:], g[2:]) - np.maximum(box[:2], g[:2]), 0, None)
            )
            if (iou > 0.5) != (inter / np.prod(box[2:] - box[:2]) >= 0.5):
                keep[i] = False
    return keep


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_agrees_with_torchmetrics_coco_emulation_of_voc07(seed):
    mean_ap = pytest.importorskip("torchmetrics.detection").MeanAveragePrecision
    found, truths = _random_case(np.random.default_rng(seed), n_images=40, n_classes=4)
    assert max(len(d.scores) for d in found) < 100
    metric = mean_ap(
        box_format="xyxy",
        iou_type="bbox",
        iou_thresholds=[0.5],
        rec_thresholds=np.arange(0.0, 1.1, 0.1).tolist(),  # VOC07's 11 points
        max_detection_thresholds=[1, 10, 100],  # "map" reads 100 (pycocotools); never reached
    )
    metric.update(
        [
            {
                "boxes": torch.tensor(d.boxes, dtype=torch.float64),
                "scores": torch.tensor(d.scores, dtype=torch.float64),
                "labels": torch.tensor(d.labels),
            }
            for d in found
        ],
        [
            {
                "boxes": torch.tensor(t.boxes, dtype=torch.float64),
                "labels": torch.tensor(t.labels),
                "iscrowd": torch.tensor(t.difficult.astype(int)),  # difficult as crowd
            }
            for t in truths
        ],
    )
    expected = float(metric.compute()["map"])
    ours = voc07_map(found, truths, num_classes=5)
    assert 0.05 < ours < 0.95  # a non-trivial case
    assert ours == pytest.approx(expected, abs=1e-6)
