"""What the detection tasks share: the batch, the step, the entropy and the mAP (paper §4.2).

A dataset item is ``(image, target)``: a (3, H, W) uint8 image already at the detector's
input size and a dict of tensors ``boxes`` (n, 4) x1, y1, x2, y2 in that image's pixels,
``labels`` (n,) 1..C-1 and ``difficult`` (n,) bool. :meth:`DetectionTask.collate` pads the
objects of a batch into a :class:`DetectionBatch`, so the loss, the matching and the metric
work on (B, M, ...) tensors without a Python loop over images.

Per batch, :meth:`DetectionTask.step` returns the per-image SSD loss (``ssd.per_image_loss``),
the SSD's source maps as taps, the embedding tap spatially averaged as the core-set feature,
and an :class:`~albench.tasks.detection.ssd.SSDOutput` whose detections (after NMS) feed the
entropy baseline and the VOC07 mAP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from albench.contracts import DETECTIONS, IMAGES, Metric, StepOutput, Task
from albench.tasks.detection.ssd import SSDOutput, per_image_loss
from albench.tasks.detection.voc_eval import VOC07MeanAP
from albench.tasks.images import resize_square

DISPLAY_CONFIDENCE = 0.5  # a detection shown as found in the test-score CSV (Task.outcome)

__all__ = ["DetectionBatch", "DetectionTask", "collate_detection"]


@dataclass(frozen=True)
class DetectionBatch:
    """B images and their objects, padded to the batch's largest object count M."""

    images: Tensor  # (B, 3, H, W) uint8
    boxes: Tensor  # (B, M, 4) float32 x1, y1, x2, y2 in pixels; padding 0
    labels: Tensor  # (B, M) int64 1..C-1; 0 = padding
    difficult: Tensor  # (B, M) bool; ignored by the loss and the metric

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device) -> DetectionBatch:
        return DetectionBatch(
            self.images.to(device, non_blocking=True),
            self.boxes.to(device, non_blocking=True),
            self.labels.to(device, non_blocking=True),
            self.difficult.to(device, non_blocking=True),
        )


def collate_detection(items: list[tuple[Tensor, dict[str, Tensor]]]) -> DetectionBatch:
    """Stack images and pad objects: list of (image, target) -> :class:`DetectionBatch`."""
    b = len(items)
    m = max((len(t["labels"]) for _, t in items), default=0)
    boxes = torch.zeros(b, m, 4)
    labels = torch.zeros(b, m, dtype=torch.long)
    difficult = torch.zeros(b, m, dtype=torch.bool)
    for i, (_, t) in enumerate(items):
        n = len(t["labels"])
        boxes[i, :n] = t["boxes"]
        labels[i, :n] = t["labels"]
        difficult[i, :n] = t["difficult"]
    images = torch.stack([torch.as_tensor(image) for image, _ in items])  # (B, 3, H, W)
    return DetectionBatch(images, boxes, labels, difficult)


class DetectionTask(Task):
    """Base for SSD detection tasks; the model is an :class:`~.ssd.SSDNet`."""

    metric = "map"
    metric_label = "mAP@0.5"
    equivalence_margin = 0.01  # one point of mAP, the resolution VOC results are quoted at
    provides = Task.provides | {DETECTIONS, IMAGES}  # detections: with Detections.probs
    num_classes: int = 21  # including the background class 0
    image_size: tuple[int, int] = (300, 300)  # (H, W) of the detector's input

    def step(self, model: nn.Module, batch: DetectionBatch, train: bool) -> StepOutput:
        taps, cls_logits, bbox_regression, anchors = model(batch.images)
        ssd = model.ssd
        loss = per_image_loss(
            cls_logits,
            bbox_regression,
            anchors,
            batch.boxes,
            batch.labels,
            batch.difficult,
            ssd.box_coder,
            iou_thresh=ssd.proposal_matcher.high_threshold,
            neg_pos_ratio=ssd.neg_to_pos_ratio,
        )
        output = SSDOutput(
            cls_logits=cls_logits,
            bbox_regression=bbox_regression,
            anchors=anchors,
            image_size=tuple(batch.images.shape[-2:]),
            box_coder=ssd.box_coder,
            settings={
                "score_thresh": ssd.score_thresh,
                "nms_thresh": ssd.nms_thresh,
                "topk_candidates": ssd.topk_candidates,
                "detections_per_img": ssd.detections_per_img,
            },
        )
        embedding = taps[model.embedding_tap].mean(dim=(2, 3))  # (B, C, H, W) -> (B, C)
        return StepOutput(output=output, loss=loss, taps=taps, embedding=embedding)

    def uncertainty(self, out: StepOutput) -> Tensor:
        return out.output.entropy()

    def outcome(self, out: StepOutput, batch: DetectionBatch) -> dict[str, Tensor]:
        """The image's objects that count (not difficult, not padding) and the detections
        the model makes of it with a confidence of at least 0.5 (the usual display cut; the
        metric ranks every detection)."""
        truth = ((batch.labels > 0) & ~batch.difficult).sum(dim=1)
        found = [(d.scores >= DISPLAY_CONFIDENCE).sum() for d in out.output.detections]
        return {"label_objects": truth, "prediction_detections": torch.stack(found)}

    def generative_images(self, batch: DetectionBatch) -> Tensor:
        x = batch.images.float() / 255.0  # (B, 3, H, W) uint8 at the detector's input size
        return resize_square(x, self.generative_size).clamp(0.0, 1.0)  # (B, 3, S, S)

    def new_metric(self) -> Metric:
        return VOC07MeanAP(self.num_classes)

    def collate(self, items: list[Any]) -> DetectionBatch:
        return collate_detection(items)

    def to_device(self, batch: DetectionBatch, device: torch.device) -> DetectionBatch:
        return batch.to(device)

    def example_batch(self, batch_size: int) -> DetectionBatch:
        """Random images with one to three objects each, one of them difficult."""
        g = torch.Generator().manual_seed(0)
        h, w = self.image_size
        items = []
        for i in range(batch_size):
            n = 1 + i % 3
            xy = torch.rand(n, 2, generator=g) * torch.tensor([w * 0.6, h * 0.6])
            wh = (0.1 + 0.3 * torch.rand(n, 2, generator=g)) * torch.tensor([w, h])
            target = {
                "boxes": torch.cat([xy, xy + wh], dim=1),
                "labels": torch.randint(1, self.num_classes, (n,), generator=g),
                "difficult": torch.arange(n) == 2,
            }
            image = torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
            items.append((image, target))
        return collate_detection(items)
