"""SSD for active learning: taps, the per-image multibox loss and detections with entropy.

The detector is torchvision's :class:`~torchvision.models.detection.SSD` (Liu et al. 2016),
wrapped by :class:`SSDNet` so that one forward pass gives what the active-learning loop needs:

- the **taps** (paper Fig. 2, §4.2): the backbone's source feature maps, which the head reads;
  for SSD300 the six maps {conv4_3, conv7 (fc7), conv8_2, conv9_2, conv10_2, conv11_2};
- the **core-set embedding** (§4.2): one tap spatially averaged, conv7/fc7 (1,024-d) for SSD300;
- the head's class logits and box regressions, and the default boxes (anchors).

:func:`per_image_loss` is SSD's multibox loss kept per image (docs/protocol.md): SmoothL1
over the image's matched anchors plus cross-entropy over its positives and its 3:1 hard
negatives, divided by the image's *own* positive count (clamped at 1). Matching and
hard-negative mining are torchvision's (``SSDMatcher``: IoU >= 0.5 plus the best anchor of
every object; negatives ranked by their cross-entropy), vectorised over the batch, so the
sum over a batch of ``loss * max(1, positives)`` divided by ``max(1, all positives)`` is
torchvision's batch loss exactly. Difficult objects are not training targets (as in
ssd.pytorch, the code the paper used, whose annotation reader drops them).

:func:`detect` is torchvision's SSD post-processing (per class: score > 0.01, top 400; then
class-wise NMS at IoU 0.45; at most 200 per image; scores and top-k batched, NMS per image)
keeping the anchor behind every final box, so that the entropy baseline of §4.2
("averaging all entropy values from softmax outputs corresponding to detection boxes") can
be computed: the mean softmax entropy (background included, in nats) over an image's final
detections. An image
without any detection has entropy 0: no foreground class reached 1 % anywhere, the limit of
confidently-background anchors, so it ranks last. Each detection also keeps its anchor's
whole softmax (``Detections.probs``), from which the least-confidence and margin strategies
score it; every per-image score aggregates its detections by the one shared rule,
:func:`albench.contracts.aggregate_detections` (the entropy: mean, 0 without detections).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.ssd import SSD
from torchvision.ops import batched_nms, box_iou, clip_boxes_to_image

from albench.contracts import aggregate_detections

__all__ = [
    "Detections",
    "SSDNet",
    "SSDOutput",
    "detect",
    "match_anchors",
    "per_image_loss",
]


class SSDNet(nn.Module):
    """A torchvision SSD whose forward returns ``(taps, cls_logits, bbox_regression, anchors)``.

    Images come in as (B, 3, H, W) with values in [0, 255] (uint8 or float) and are
    normalised with the SSD's own ``image_mean`` / ``image_std`` (on the [0, 1] scale, as
    torchvision's transform does). ``embedding_tap`` names the tap averaged into the
    core-set embedding. The parameters are exactly the SSD's (no extra ones).
    """

    def __init__(self, ssd: SSD, embedding_tap: int = 1):
        super().__init__()
        self.ssd = ssd
        self.embedding_tap = embedding_tap  # conv7/fc7 for SSD300 (§4.2)
        mean = torch.tensor(ssd.transform.image_mean).view(1, 3, 1, 1)
        std = torch.tensor(ssd.transform.image_std).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self._anchors: dict[tuple, Tensor] = {}  # (H, W, grid sizes, device, dtype) -> (A, 4)

    def forward(self, images: Tensor) -> tuple[list[Tensor], Tensor, Tensor, Tensor]:
        x = (images.float() / 255.0 - self.mean) / self.std  # (B, 3, H, W), normalised
        taps = list(self.ssd.backbone(x).values())
        head = self.ssd.head(taps)
        cls_logits = head["cls_logits"]  # (B, A, C)
        bbox_regression = head["bbox_regression"]  # (B, A, 4)
        return taps, cls_logits, bbox_regression, self.anchors(x, taps)

    def anchors(self, x: Tensor, taps: list[Tensor]) -> Tensor:
        """(A, 4) default boxes in pixels (x1, y1, x2, y2), the same for every image."""
        h, w = x.shape[-2:]
        key = (h, w, tuple(t.shape[-2:] for t in taps), x.device, x.dtype)
        if key not in self._anchors:
            image_list = ImageList(x[:1], [(h, w)])
            with torch.no_grad():
                # fp32 maps: under bf16 autocast the generator would round pixels to bf16
                maps = [t[:1].float() for t in taps]
                self._anchors[key] = self.ssd.anchor_generator(image_list, maps)[0]
        return self._anchors[key]


def _batched_iou(gt: Tensor, anchors: Tensor) -> Tensor:
    """(B, M, 4), (A, 4) -> (B, M, A) IoU of every object with every anchor."""
    b, m, _ = gt.shape
    return box_iou(gt.reshape(b * m, 4), anchors).view(b, m, -1)


def match_anchors(gt: Tensor, valid: Tensor, anchors: Tensor, iou_thresh: float = 0.5) -> Tensor:
    """torchvision's ``SSDMatcher`` for a padded batch: (B, A) object index per anchor, or -1.

    ``gt`` (B, M, 4) boxes, ``valid`` (B, M) which of them are targets. An anchor takes the
    object it overlaps most if that IoU is >= ``iou_thresh``; then every object claims its
    best anchor (a later object wins a shared anchor, as in torchvision).
    """
    b, m, _ = gt.shape
    iou = _batched_iou(gt.float(), anchors.float()).masked_fill(~valid[..., None], -1.0)
    if m == 0:
        return torch.full((b, anchors.shape[0]), -1, dtype=torch.long, device=gt.device)
    best_iou, best_gt = iou.max(dim=1)  # (B, M, A) -> (B, A)
    matched = torch.where(best_iou >= iou_thresh, best_gt, -1)
    best_anchor = iou.argmax(dim=2)  # (B, M, A) -> (B, M): each object's best anchor
    rows = torch.arange(b, device=gt.device)
    for j in range(m):  # in object order, so a later object wins a shared anchor
        ok = valid[:, j]
        matched[rows[ok], best_anchor[ok, j]] = j
    return matched


def per_image_loss(
    cls_logits: Tensor,
    bbox_regression: Tensor,
    anchors: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor,
    gt_ignore: Tensor,
    box_coder,
    iou_thresh: float = 0.5,  # SSD's matching threshold (Liu et al. 2016, §2.2)
    neg_pos_ratio: float = 3.0,  # hard negatives per positive (Liu et al. 2016, §2.2)
) -> Tensor:
    """(B,) SSD multibox loss of each image, normalised by its own positives (see module doc).

    ``cls_logits`` (B, A, C), ``bbox_regression`` (B, A, 4), ``anchors`` (A, 4);
    ``gt_boxes`` (B, M, 4), ``gt_labels`` (B, M) with 0 for padding, ``gt_ignore`` (B, M)
    objects that are not targets (difficult).
    """
    b, a, c = cls_logits.shape
    valid = (gt_labels > 0) & ~gt_ignore
    matched = match_anchors(gt_boxes, valid, anchors, iou_thresh)  # (B, A)
    fg = matched >= 0  # (B, A) positive anchors
    positives = fg.sum(dim=1)  # (B,)

    # Localisation: SmoothL1 (beta 1) over the positive anchors, summed per image.
    img, anc = fg.nonzero(as_tuple=True)  # (P,), (P,)
    target = box_coder.encode_single(gt_boxes[img, matched[img, anc]].float(), anchors[anc])
    reg = F.smooth_l1_loss(bbox_regression[img, anc].float(), target, reduction="none")  # (P, 4)
    loc = torch.zeros(b, device=cls_logits.device).index_add(0, img, reg.sum(dim=1))  # (B,)

    # Confidence: cross-entropy over positives and the hardest 3:1 negatives of each image.
    cls_target = torch.where(fg, gt_labels.gather(1, matched.clamp(min=0)), 0)  # (B, A)
    ce = F.cross_entropy(
        cls_logits.float().reshape(b * a, c), cls_target.reshape(b * a), reduction="none"
    ).view(b, a)  # (B*A,) -> (B, A)
    negative = ce.detach().masked_fill(fg, -float("inf"))
    order = negative.argsort(dim=1, descending=True)  # (B, A) anchors, hardest first
    positions = torch.arange(a, device=order.device).expand(b, a)
    rank = torch.empty_like(order).scatter_(1, order, positions)  # (B, A) rank of each anchor
    hard_negative = rank < neg_pos_ratio * positives[:, None]
    conf = (ce * (fg | hard_negative)).sum(dim=1)  # (B, A) -> (B,)
    return (loc + conf) / positives.clamp(min=1)


@dataclass(frozen=True)
class Detections:
    """The final detections of one image after NMS, highest score first."""

    boxes: Tensor  # (n, 4) x1, y1, x2, y2 in pixels of the input image
    scores: Tensor  # (n,)
    labels: Tensor  # (n,) 1..C-1
    entropy: Tensor  # (n,) softmax entropy (nats) of the anchor behind each box
    probs: Tensor | None = None  # (n, C) that anchor's softmax, background (class 0) included


def detect(
    cls_logits: Tensor,
    bbox_regression: Tensor,
    anchors: Tensor,
    image_size: tuple[int, int],
    box_coder,
    score_thresh: float = 0.01,  # torchvision / ssd.pytorch defaults
    nms_thresh: float = 0.45,
    topk_candidates: int = 400,
    detections_per_img: int = 200,
) -> list[Detections]:
    """torchvision's SSD post-processing for a batch, keeping each box's softmax entropy."""
    b, a, c = cls_logits.shape
    probs = cls_logits.detach().float().softmax(dim=-1)  # (B, A, C)
    entropy = -(probs * probs.clamp_min(1e-30).log()).sum(dim=-1)  # (B, A)
    boxes = box_coder.decode_single(
        bbox_regression.detach().float().reshape(b * a, 4), anchors.repeat(b, 1)
    )  # (B*A, 4)
    boxes = clip_boxes_to_image(boxes, image_size).view(b, a, 4)
    # Per image and class: the top-k anchors, then the score threshold (same set as
    # torchvision's threshold-then-top-k).
    scores, anchor_idx = probs[:, :, 1:].topk(min(topk_candidates, a), dim=1)  # (B, k, C-1)
    img, row, col = (scores > score_thresh).nonzero(as_tuple=True)  # (n,) each, by image
    anc = anchor_idx[img, row, col]
    cand_scores, cand_labels = scores[img, row, col], col + 1
    cand_boxes = boxes[img, anc]  # (n, 4)
    out = []
    start = 0
    for i, count in enumerate(torch.bincount(img, minlength=b).tolist()):
        part = slice(start, start + count)  # image i's candidates
        start += count
        # Class-wise NMS within the image; indices come back highest score first.
        keep = batched_nms(cand_boxes[part], cand_scores[part], cand_labels[part], nms_thresh)
        keep = keep[:detections_per_img] + part.start
        out.append(
            Detections(
                boxes=cand_boxes[keep],
                scores=cand_scores[keep],
                labels=cand_labels[keep],
                entropy=entropy[i, anc[keep]],
                probs=probs[i, anc[keep]],  # (n, C)
            )
        )
    return out


@dataclass
class SSDOutput:
    """A batch's SSD head outputs; detections are computed on first use and cached.

    Training steps never ask for detections, learning-loss and core-set scans neither, so the
    NMS runs only for evaluation and for the entropy baseline.
    """

    cls_logits: Tensor  # (B, A, C)
    bbox_regression: Tensor  # (B, A, 4)
    anchors: Tensor  # (A, 4)
    image_size: tuple[int, int]
    box_coder: object
    settings: dict = field(default_factory=dict)  # score_thresh, nms_thresh, ... for detect()
    _detections: list[Detections] | None = None

    @property
    def detections(self) -> list[Detections]:
        if self._detections is None:
            with torch.no_grad():
                self._detections = detect(
                    self.cls_logits,
                    self.bbox_regression,
                    self.anchors,
                    self.image_size,
                    self.box_coder,
                    **self.settings,
                )
        return self._detections

    def entropy(self) -> Tensor:
        """(B,) mean softmax entropy over each image's final detections; 0 without any (the
        paper's rule, §4.2, through the shared :func:`aggregate_detections`)."""
        return aggregate_detections([d.entropy for d in self.detections], "mean", 0.0)
