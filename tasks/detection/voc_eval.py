"""PASCAL VOC2007 mean average precision: 11-point interpolated AP at IoU 0.5 (paper §4.2).

The metric of the paper's detection experiment, as computed by the VOC2007 development kit
and by ssd.pytorch's ``eval.py`` (the code the paper used), for each class:

1. sort all detections of the class over the whole test set by score, highest first;
2. a detection is matched to the ground-truth box of its class in its image with the largest
   IoU; if that IoU is > 0.5 it is a true positive, unless the box is *difficult* (then the
   detection is ignored: neither true nor false positive) or was already matched by a
   higher-scoring detection (then it is a false positive); otherwise a false positive;
3. recall = TP / (non-difficult boxes), precision = TP / (TP + FP) after each detection;
4. AP = mean over the 11 recall points t = 0, 0.1, ..., 1 (``np.arange(0, 1.1, 0.1)``, as the
   devkit) of the largest precision at recall >= t (0 where the recall is never reached).

mAP is the mean AP over the classes that have at least one non-difficult box (all 20 on
VOC2007 test; a generated test set may lack one, and COCO-style evaluators skip it too).

IoU is continuous (area = (x2 - x1) * (y2 - y1)), as torchvision and COCO compute it. The
devkit's "+1" pixel convention is reproduced for VOC ground truth by reading a box
(xmin, ymin, xmax, ymax) of 1-based inclusive pixels as (xmin - 1, ymin - 1, xmax, ymax); see
``voc.py``. IoU is invariant to scaling x and y independently, so boxes can be evaluated in
the resized 300x300 frame the detector sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from albench.contracts import Metric, StepOutput

__all__ = [
    "RECALL_POINTS",
    "ImageDetections",
    "ImageTruth",
    "VOC07MeanAP",
    "average_precision_11pt",
    "box_iou_np",
    "voc07_ap_per_class",
    "voc07_map",
]

RECALL_POINTS = np.arange(0.0, 1.1, 0.1)  # the devkit's 11 recall points, float quirks included
IOU_THRESHOLD = 0.5  # a detection counts if its IoU with the box is > 0.5 (VOC)


@dataclass(frozen=True)
class ImageDetections:
    boxes: np.ndarray  # (n, 4) float x1, y1, x2, y2
    scores: np.ndarray  # (n,)
    labels: np.ndarray  # (n,) int, 1..C-1


@dataclass(frozen=True)
class ImageTruth:
    boxes: np.ndarray  # (m, 4)
    labels: np.ndarray  # (m,) int
    difficult: np.ndarray  # (m,) bool


def box_iou_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, 4), (m, 4) -> (n, m) IoU, continuous coordinates."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])  # (n, m, 2)
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)  # (n, m, 2) -> (n, m)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.maximum(union, np.finfo(np.float64).tiny)


def average_precision_11pt(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC2007 11-point interpolated AP of a precision/recall curve."""
    best = [precision[recall >= t].max() if (recall >= t).any() else 0.0 for t in RECALL_POINTS]
    return float(np.mean(best))


def _match_class(
    dets: Sequence[ImageDetections], truths: Sequence[ImageTruth], label: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """TP and FP flags of class ``label``'s detections in score order, and its positives."""
    gt = []
    npos = 0
    for t in truths:
        keep = t.labels == label
        gt.append((t.boxes[keep].astype(np.float64), t.difficult[keep].astype(bool)))
        npos += int((~t.difficult[keep]).sum())
    image, boxes, scores = [], [], []
    for i, d in enumerate(dets):
        keep = d.labels == label
        image.append(np.full(int(keep.sum()), i))
        boxes.append(d.boxes[keep].astype(np.float64))
        scores.append(d.scores[keep].astype(np.float64))
    image = np.concatenate(image) if image else np.zeros(0, dtype=int)
    boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4))
    scores = np.concatenate(scores) if scores else np.zeros(0)
    order = np.argsort(-scores, kind="stable")
    tp, fp = np.zeros(len(order)), np.zeros(len(order))
    taken = [np.zeros(len(g[0]), dtype=bool) for g in gt]
    for rank, k in enumerate(order):
        gt_boxes, difficult = gt[image[k]]
        if len(gt_boxes) == 0:
            fp[rank] = 1
            continue
        iou = box_iou_np(boxes[k : k + 1], gt_boxes)[0]  # (m,)
        j = int(iou.argmax())
        if iou[j] > IOU_THRESHOLD:
            if difficult[j]:
                continue  # ignored: neither a true nor a false positive
            if not taken[image[k]][j]:
                tp[rank], taken[image[k]][j] = 1, True
            else:
                fp[rank] = 1  # a duplicate detection of a box already found
        else:
            fp[rank] = 1
    return tp, fp, npos


def voc07_ap_per_class(
    dets: Sequence[ImageDetections], truths: Sequence[ImageTruth], num_classes: int
) -> dict[int, float]:
    """AP of every foreground class 1..C-1 that has a non-difficult box (see module doc)."""
    if len(dets) != len(truths):
        raise ValueError(f"{len(dets)} images of detections for {len(truths)} of ground truth")
    aps = {}
    for label in range(1, num_classes):
        tp, fp, npos = _match_class(dets, truths, label)
        if npos == 0:
            continue
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        recall = tp / npos
        precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        aps[label] = average_precision_11pt(recall, precision)
    return aps


def voc07_map(
    dets: Sequence[ImageDetections], truths: Sequence[ImageTruth], num_classes: int
) -> float:
    """Mean of :func:`voc07_ap_per_class`; 0 if no class has a non-difficult box."""
    aps = voc07_ap_per_class(dets, truths, num_classes)
    return float(np.mean(list(aps.values()))) if aps else 0.0


class VOC07MeanAP(Metric):
    """Streaming VOC07 mAP: detections and ground truth of every test image, then the mAP.

    ``update`` reads the batch's final detections (``out.output.detections``) and the
    padded ground truth of the batch (``batch.boxes``, ``batch.labels`` with 0 = padding,
    ``batch.difficult``); everything is kept on the host as NumPy arrays.
    """

    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self.dets: list[ImageDetections] = []
        self.truths: list[ImageTruth] = []

    def update(self, out: StepOutput, batch) -> None:
        for d in out.output.detections:
            self.dets.append(
                ImageDetections(
                    d.boxes.cpu().numpy(), d.scores.cpu().numpy(), d.labels.cpu().numpy()
                )
            )
        boxes = batch.boxes.cpu().numpy()
        labels = batch.labels.cpu().numpy()
        difficult = batch.difficult.cpu().numpy()
        for b, lab, dif in zip(boxes, labels, difficult, strict=True):
            real = lab > 0  # drop the padding
            self.truths.append(ImageTruth(b[real], lab[real], dif[real]))

    def compute(self) -> float:
        return voc07_map(self.dets, self.truths, self.num_classes)
