"""PASCAL VOC07+12 with SSD300, the paper's object detection experiment (§4.2).

Pool: VOC2007 trainval (5,011 images) followed by VOC2012 trainval (11,540), 16,551 images
with stable indices in that order; test: VOC2007 test (4,952). The metric is the VOC07
11-point mAP at IoU 0.5 over the 20 classes, difficult objects ignored (``voc_eval.py``).

Data are read through torchvision's :class:`~torchvision.datasets.VOCDetection` (file lists,
XML parsing, download) from ``<data-root>/VOCdevkit/VOC2007`` and ``.../VOC2012``, and are
downloaded only with ``--download``; a missing tree is a one-line
:class:`~albench.errors.DatasetMissingError` naming the expected layout.

A box (xmin, ymin, xmax, ymax) of VOC's 1-based inclusive pixels becomes the continuous box
(xmin - 1, ymin - 1, xmax, ymax), which reproduces the devkit's "+1" widths. Difficult
objects are kept with their flag: the loss does not train on them and the mAP ignores them.

Training augmentation, the SSD paper's (Liu et al. 2016, §2.2 and §3.6) as in ssd.pytorch's
``SSDAugmentation`` (the code the paper used), with torchvision's transforms v2: photometric
distortion (brightness, contrast, saturation, hue, channel swap, each with probability 0.5),
expand ("zoom out") by 1-4x onto the ImageNet mean colour with probability 0.5, the random
minimum-IoU crop, horizontal flip with probability 0.5, resize to 300x300 (boxes follow;
boxes whose centre leaves the crop are dropped). Scans and evaluation see the image resized
to 300x300 only; boxes are evaluated in that frame (IoU is invariant to the resize).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import ConcatDataset, Dataset
from torchvision import tv_tensors
from torchvision.datasets import VOCDetection
from torchvision.transforms import v2

from albench.contracts import TaskData
from albench.errors import DatasetMissingError
from albench.registry import builtin
from albench.tasks.detection.common import DetectionTask
from albench.tasks.detection.models import (
    SSD300_TAP_CHANNELS,
    build_ssd300,
    resolve_backbone_weights,
)

__all__ = ["VOC_CLASSES", "VOCSplit", "VocTask", "parse_objects", "voc_transforms"]

log = logging.getLogger(__name__)

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip  # labels 1..20; 0 is background
POOL_SPLITS = (("2007", "trainval"), ("2012", "trainval"))  # §4.2: trainval'07+12
TEST_SPLIT = ("2007", "test")  # §4.2: test'07
MEAN_RGB = (123, 117, 104)  # ImageNet mean in 0-255, the fill of the expand step (ssd.pytorch)
INPUT_SIZE = (300, 300)  # SSD300


def parse_objects(annotation: dict[str, Any]) -> dict[str, Tensor]:
    """torchvision's parsed VOC XML -> boxes (n, 4), labels (n,) 1..20, difficult (n,)."""
    objects = annotation["annotation"].get("object", [])
    boxes, labels, difficult = [], [], []
    for obj in objects:
        bb = obj["bndbox"]
        x1, y1, x2, y2 = (float(bb[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append([x1 - 1, y1 - 1, x2, y2])  # 1-based inclusive pixels -> continuous
        labels.append(VOC_CLASSES.index(obj["name"].strip()) + 1)
        difficult.append(str(obj.get("difficult", "0")).strip() == "1")
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(labels, dtype=torch.long),
        "difficult": torch.tensor(difficult, dtype=torch.bool),
    }


def _labels_and_difficult(sample: tuple[Any, dict[str, Any]]) -> tuple[Tensor, Tensor]:
    """What SanitizeBoundingBoxes must drop together with a box."""
    return sample[1]["labels"], sample[1]["difficult"]


def voc_transforms(train: bool) -> v2.Compose:
    """SSD's training augmentation (see module doc), or the plain resize for evaluation."""
    if not train:
        return v2.Compose([v2.ToImage(), v2.Resize(INPUT_SIZE)])
    return v2.Compose(
        [
            v2.ToImage(),
            v2.RandomPhotometricDistort(p=0.5),  # ssd.pytorch: each distortion w.p. 0.5
            v2.RandomZoomOut(fill={tv_tensors.Image: MEAN_RGB, "others": 0}, side_range=(1, 4)),
            v2.RandomIoUCrop(),  # min IoU in {0.1, 0.3, 0.5, 0.7, 0.9} or no crop
            v2.RandomHorizontalFlip(p=0.5),
            v2.Resize(INPUT_SIZE),
            v2.SanitizeBoundingBoxes(labels_getter=_labels_and_difficult),
        ]
    )


class VOCSplit(Dataset):
    """One VOC (year, image set) through torchvision's VOCDetection; items are
    ``(image (3, 300, 300) uint8, {"boxes", "labels", "difficult"})``."""

    def __init__(self, root: str, year: str, image_set: str, download: bool, train: bool):
        self.voc = VOCDetection(root, year=year, image_set=image_set, download=download)
        self.transform = voc_transforms(train)

    def __len__(self) -> int:
        return len(self.voc)

    def __getitem__(self, i: int) -> tuple[Tensor, dict[str, Tensor]]:
        image, annotation = self.voc[i]  # PIL image, parsed XML
        target = parse_objects(annotation)
        target["boxes"] = tv_tensors.BoundingBoxes(
            target["boxes"], format="XYXY", canvas_size=(image.height, image.width)
        )
        image, target = self.transform(image, target)
        return image.as_subclass(Tensor), {k: v.as_subclass(Tensor) for k, v in target.items()}


def check_voc_tree(root: str | Path) -> None:
    """Raise DatasetMissingError (one line: what is missing, the layout, the fix)."""
    base = Path(root).resolve() / "VOCdevkit"
    missing = []
    for year, image_set in (*POOL_SPLITS, TEST_SPLIT):
        voc = base / f"VOC{year}"
        for path in (
            voc / "Annotations",
            voc / "JPEGImages",
            voc / "ImageSets" / "Main" / f"{image_set}.txt",
        ):
            if not path.exists() and path not in missing:
                missing.append(path)
    if missing:
        raise DatasetMissingError(
            f"PASCAL VOC not found: {missing[0]} is missing ({len(missing)} path(s) in all); "
            f"expected {base}/VOC2007/{{Annotations,JPEGImages,ImageSets/Main/trainval.txt,"
            f"ImageSets/Main/test.txt}} and {base}/VOC2012/{{Annotations,JPEGImages,"
            "ImageSets/Main/trainval.txt}; rerun with --download (about 3.5 GB), or pass "
            "--data-root DIR where DIR/VOCdevkit holds them"
        )


@builtin("voc", rank=1)
class VocTask(DetectionTask):
    """PASCAL VOC07+12 object detection with SSD300 (paper §4.2); metric VOC07 mAP@0.5."""

    num_classes = len(VOC_CLASSES) + 1
    image_size = INPUT_SIZE
    tap_channels = SSD300_TAP_CHANNELS
    sizes = (16_551, 4_952)  # §4.2: trainval'07+12, test'07
    throughput = 120.0  # training images/s on one GPU, SSD300 (estimate)
    default_schedule = {  # §4.2, as benchmarks/paper.toml
        "al": {"subset": 0},  # "We do not create a random subset S_M"
        "train": {
            "epochs": 300,
            "batch_size": 32,
            "lr": 1e-3,
            "lr_milestones": [240],
            "stop_grad_epoch": 180,  # not stated; 0.6 x 300 as §4.1's 120/200
            "eval_batch_size": 64,
        },
    }
    paper_results = {
        "metric": {
            "learn_loss": (0.7338, "§4.2, Fig. 6"),
            "entropy": (0.7222, "§4.2, Fig. 6"),
            "coreset": (0.7171, "§4.2, Fig. 6"),
            "random": (0.7117, "§4.2, Fig. 6"),
        },
        # "about 70% ranking accuracy": approximate in the text
        "rank_acc/predicted_loss": {"learn_loss": (0.70, "§4.2, Fig. 5 (about)")},
    }

    def __init__(self, backbone_weights: str = "auto"):
        # "auto": torchvision's cached ImageNet VGG-16 if present, else scratch (with a
        # warning); "none": scratch; or a path to a VGG-16 state dict (see models.py).
        self.backbone_weights = backbone_weights
        self._backbone_source: str | None = None

    @property
    def backbone_source(self) -> str:
        """Where the VGG-16 weights of the last built model came from ("scratch" or
        "imagenet:<path>"); resolved without building a model if none was built yet."""
        if self._backbone_source is None:
            path = resolve_backbone_weights(self.backbone_weights)
            self._backbone_source = f"imagenet:{path}" if path else "scratch"
        return self._backbone_source

    def run_info(self) -> dict[str, str]:
        """Logged as the MLflow param ``task_info.backbone``: "scratch" or "imagenet:<path>"."""
        return {"backbone": self.backbone_source}

    def datasets(self, root: str, download: bool) -> TaskData:
        if not download:
            check_voc_tree(root)

        def splits(train: bool, which) -> Dataset:
            parts = [VOCSplit(root, y, s, download, train) for y, s in which]
            return parts[0] if len(parts) == 1 else ConcatDataset(parts)

        return TaskData(
            pool_train=splits(True, POOL_SPLITS),
            pool_eval=splits(False, POOL_SPLITS),
            test=splits(False, [TEST_SPLIT]),
        )

    def build_model(self) -> nn.Module:
        path = resolve_backbone_weights(self.backbone_weights)
        self._backbone_source = f"imagenet:{path}" if path else "scratch"
        if path is None:
            log.warning(
                "voc: training SSD300 from scratch: no ImageNet VGG-16 weights (backbone_weights"
                " = %r; torchvision's cache is %s); expect mAP far below the paper's. Put the "
                "weights there or set tasks.voc.params.backbone_weights = PATH",
                self.backbone_weights,
                Path(torch.hub.get_dir()) / "checkpoints",
            )
        return build_ssd300(self.num_classes, path)
