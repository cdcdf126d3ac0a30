"""SSD pieces: per-image loss vs torchvision's batch loss, matching, detections, entropy."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection.ssd import SSD
from torchvision.ops import box_iou

from albench.tasks.detection.common import DetectionBatch, collate_detection
from albench.tasks.detection.models import build_small_ssd
from albench.tasks.detection.shapes import ShapesTask
from albench.tasks.detection.ssd import SSDOutput, detect, match_anchors, per_image_loss


def _batch(seed: int, counts=(3, 1, 0, 2, 4, 1), difficult_every: int = 3) -> DetectionBatch:
    """64-pixel images with the given object counts; every third object is difficult."""
    g = torch.Generator().manual_seed(seed)
    items, k = [], 0
    for n in counts:
        xy = torch.rand(n, 2, generator=g) * 40
        wh = 6 + torch.rand(n, 2, generator=g) * 20
        difficult = torch.tensor([(k + j) % difficult_every == 2 for j in range(n)])
        k += n
        target = {
            "boxes": torch.cat([xy, xy + wh], dim=1).clamp(max=64),
            "labels": torch.randint(1, 4, (n,), generator=g),
            "difficult": difficult.bool(),
        }
        items.append((torch.randint(0, 256, (3, 64, 64), generator=g, dtype=torch.uint8), target))
    return collate_detection(items)


def _torchvision_targets(batch: DetectionBatch) -> list[dict[str, torch.Tensor]]:
    """torchvision's per-image targets: the non-difficult objects only."""
    out = []
    for boxes, labels, difficult in zip(batch.boxes, batch.labels, batch.difficult, strict=True):
        keep = (labels > 0) & ~difficult
        out.append({"boxes": boxes[keep], "labels": labels[keep]})
    return out


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_small_ssd(num_classes=4, image_size=64)


def _loss(model, batch):
    taps, cls_logits, bbox_regression, anchors = model(batch.images)
    loss = per_image_loss(
        cls_logits,
        bbox_regression,
        anchors,
        batch.boxes,
        batch.labels,
        batch.difficult,
        model.ssd.box_coder,
    )
    valid = (batch.labels > 0) & ~batch.difficult
    positives = (match_anchors(batch.boxes, valid, anchors) >= 0).sum(dim=1)
    return loss, positives


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_image_loss_sums_to_torchvisions_batch_loss_up_to_normalisation(model, seed):
    batch = _batch(seed)
    model.train()  # BatchNorm in batch mode in both passes: same features
    with torch.no_grad():
        loss, positives = _loss(model, batch)
        reference = SSD.forward(
            model.ssd, [im.float() / 255 for im in batch.images], _torchvision_targets(batch)
        )
    assert loss.shape == (len(batch),) and torch.isfinite(loss).all()
    # torchvision divides the batch's summed loss by all positives; we divide each image's by
    # its own: sum_i loss_i * max(1, P_i) / max(1, sum_i P_i) is torchvision's loss.
    total = (loss * positives.clamp(min=1)).sum() / positives.sum().clamp(min=1)
    expected = reference["bbox_regression"] + reference["classification"]
    torch.testing.assert_close(total, expected, rtol=1e-5, atol=1e-5)
    assert loss[2] == 0 and positives[2] == 0  # no objects: no positives, no hard negatives
    assert not torch.allclose(loss.mean(), expected)  # the normalisation does differ


def test_per_image_loss_is_per_image_and_ignores_difficult_objects(model):
    model.eval()  # BatchNorm with running stats: an image's features do not depend on others
    batch = _batch(3)
    with torch.no_grad():
        together, _ = _loss(model, batch)
        for i in range(len(batch)):
            alone = DetectionBatch(*(t[i : i + 1] for t in vars(batch).values()))
            torch.testing.assert_close(_loss(model, alone)[0], together[i : i + 1])
        # the same batch with every difficult object removed: the same losses
        plain = DetectionBatch(
            batch.images,
            batch.boxes,
            batch.labels * ~batch.difficult,  # a difficult object becomes padding
            torch.zeros_like(batch.difficult),
        )
        assert batch.difficult.any()
        torch.testing.assert_close(_loss(model, plain)[0], together)


def test_matching_is_torchvisions_ssd_matcher(model):
    batch = _batch(4, counts=(5, 2, 1, 4))
    anchors = model(batch.images)[3]
    valid = (batch.labels > 0) & ~batch.difficult
    matched = match_anchors(batch.boxes, valid, anchors)
    for i, target in enumerate(_torchvision_targets(batch)):
        expected = model.ssd.proposal_matcher(box_iou(target["boxes"], anchors))
        # ours indexes the padded objects, torchvision's the non-difficult ones: compare boxes
        ours = matched[i]
        assert torch.equal(ours >= 0, expected >= 0)
        fg = ours >= 0
        torch.testing.assert_close(
            batch.boxes[i][ours[fg]], target["boxes"][expected[fg]], rtol=0, atol=0
        )


def test_detections_equal_torchvisions_postprocessing(model):
    model.eval()
    batch = _batch(5)
    with torch.no_grad():
        _, cls_logits, bbox_regression, anchors = model(batch.images)
        ours = detect(
            cls_logits,
            bbox_regression,
            anchors,
            (64, 64),
            model.ssd.box_coder,
            score_thresh=model.ssd.score_thresh,
            nms_thresh=model.ssd.nms_thresh,
            topk_candidates=model.ssd.topk_candidates,
            detections_per_img=model.ssd.detections_per_img,
        )
        head = {"cls_logits": cls_logits, "bbox_regression": bbox_regression}
        reference = model.ssd.postprocess_detections(head, [anchors] * len(batch), [(64, 64)] * 6)
    assert sum(len(d.scores) for d in ours) > 0
    for d, r in zip(ours, reference, strict=True):
        assert len(d.scores) <= model.ssd.detections_per_img
        # same set of detections (ties in score may come in another order)
        o, e = torch.argsort(d.scores, stable=True), torch.argsort(r["scores"], stable=True)
        torch.testing.assert_close(d.scores[o], r["scores"][e])
        torch.testing.assert_close(d.boxes[o], r["boxes"][e])
        assert torch.equal(d.labels[o], r["labels"][e])
        assert (d.entropy >= 0).all() and (d.entropy <= math.log(4) + 1e-6).all()


def test_entropy_is_the_mean_over_final_detections_and_zero_without_any():
    box_coder = build_small_ssd(4, 64).ssd.box_coder
    anchors = torch.tensor([[0.0, 0, 10, 10], [30, 30, 40, 40], [0, 30, 10, 40]])
    # image 0: anchor 0 sure of class 1; anchor 1 torn between classes 2 and 3 (both pass the
    # 0.01 score threshold: two detections, NMS is class-wise); anchor 2 background.
    # image 1: every anchor confidently background -> no detection at all.
    p0 = torch.tensor([[0.09, 0.9, 0.005, 0.005], [0.1, 0.005, 0.45, 0.445], [0.997] + [0.001] * 3])
    p1 = torch.tensor([[0.994, 0.002, 0.002, 0.002]] * 3)
    logits = torch.stack([p0, p1]).log()  # (2, 3, 4); softmax gives p back
    out = SSDOutput(logits, torch.zeros(2, 3, 4), anchors, (64, 64), box_coder)
    d0, d1 = out.detections
    assert sorted(d0.labels.tolist()) == [1, 2, 3] and len(d1.scores) == 0

    def entropy(p):
        return -(p * p.log()).sum()

    expected = (entropy(p0[0]) + 2 * entropy(p0[1])) / 3
    torch.testing.assert_close(out.entropy(), torch.stack([expected, torch.tensor(0.0)]))


def test_task_step_shapes_and_embedding():
    task = ShapesTask()
    torch.manual_seed(0)
    model = task.build_model()
    out = task.step(model, task.example_batch(4), train=True)
    assert [t.shape[1:] for t in out.taps] == [
        (32, 16, 16),
        (64, 8, 8),
        (64, 4, 4),
        (64, 2, 2),
        (64, 1, 1),
    ]
    torch.testing.assert_close(out.embedding, out.taps[1].mean(dim=(2, 3)))
    out.loss.mean().backward()  # the loss is differentiable end to end
    assert all(p.grad is not None for p in model.parameters())
