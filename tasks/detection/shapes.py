"""``shapes``: the embedded twin of ``voc``, procedurally drawn objects with boxes (offline, CPU).

Each image (``image_size`` pixels square, 64 by default) shows one to four objects of three
classes, filled rectangles (1), discs (2) and triangles (3), in random colours on a random
two-colour gradient background with pixel noise. Objects vary in size (18 % to 50 % of the
image side), aspect (rectangles) and rotation (triangles); they may overlap (box IoU up to
0.3, at most half of either box covered; a later object is drawn over an earlier one). Half
of the images also get one tiny object (3 to 5 pixels), marked *difficult*: as VOC's
difficult objects, it is neither a training target nor counted or penalised by the mAP.
A box is the exact pixel extent of the drawn shape (x2, y2 exclusive).

The data are a pure function of the generation parameters (the seed included; pool and
test come from independent streams of it), generated once and cached as ``.npz`` under
``<data-root>/shapes/`` with the parameters' hash in the file name, written to a temporary
file and renamed, so that reruns and parallel worker processes reuse it safely.

The detector is the same torchvision SSD class as SSD300 (head, default boxes, matching,
per-image loss, post-processing and VOC07 mAP are shared) on a small conv-BN-ReLU backbone
with five source maps (16x16 .. 1x1), see ``models.py``. Training augmentation: random
horizontal flip (torchvision transforms v2); the photometric / expand / IoU-crop steps of
SSD300 cost more than the whole 64-pixel forward pass on a CPU and are left to ``voc``.

Two parameters, off by default and on in the mini benchmark (docs/protocol.md): ``difficulty``
gives each image its own level of fading and grain (``tasks/images.py``), so that how hard an
image is shows in the image; ``shift`` translates training images by up to that many pixels
(zero padding and a random crop; boxes narrower than 4 pixels afterwards are dropped), without
which the small SSD memorises its few hundred labeled images.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from albench.config import ALConfig
from albench.contracts import Expectation, TaskData
from albench.errors import ConfigError
from albench.registry import builtin
from albench.tasks.detection.common import DetectionTask
from albench.tasks.detection.models import SmallBackbone, build_small_ssd
from albench.tasks.images import check_difficulty, fade_at_random, grained
from albench.tasks.scenarios import (
    check_copies,
    noisy_copies,
    redundant,
    redundant_expectations,
)

__all__ = [
    "SHAPE_CLASSES",
    "ShapeSet",
    "ShapesDataset",
    "ShapesTask",
    "generate",
    "load_or_generate",
]

SHAPE_CLASSES = ("rectangle", "disc", "triangle")  # labels 1, 2, 3; 0 is background
GENERATOR_VERSION = 2  # bump when the drawing code changes: it is part of the cache key
MAX_OBJECTS = 4  # regular objects per image (1 .. 4)
TINY_PROB = 0.5  # chance that an image also gets one tiny (difficult) object
SPLITS = ("pool", "test")  # independent random streams of the generation seed
FIELDS = ("images", "boxes", "labels", "difficult", "levels")  # of a ShapeSet, in order
MAX_OVERLAP = 0.3  # largest IoU allowed between the boxes of two objects
SIZE = (0.18, 0.5)  # extent of a regular object, fraction of the image side (11-32 px at 64)
TINY_SIZE = (3.0, 5.0)  # extent of a tiny, difficult object in pixels (extent < DIFFICULT_PX)
DIFFICULT_PX = 8  # every regular object spans at least this many pixels
MIN_VISIBLE_PX = 4  # with shift: a training box narrower than this is dropped (cut ones, and
# tiny difficult ones, which are no training target anyway)


@dataclass(frozen=True)
class ShapeSet:
    """Generated images and their padded objects."""

    images: np.ndarray  # (N, S, S, 3) uint8
    boxes: np.ndarray  # (N, M, 4) float32 x1, y1, x2, y2 pixel extents; padding 0
    labels: np.ndarray  # (N, M) int64 1..3; 0 = padding
    difficult: np.ndarray  # (N, M) bool
    levels: np.ndarray  # (N,) float32 difficulty levels (tasks/images.py), 0 without


def _fits(box: np.ndarray, others: list[np.ndarray]) -> bool:
    """Whether ``box`` overlaps every other box by IoU <= MAX_OVERLAP and covers at most
    half of either box (so no object hides another)."""
    for other in others:
        lt, rb = np.maximum(box[:2], other[:2]), np.minimum(box[2:], other[2:])
        inter = float(np.prod(np.clip(rb - lt, 0, None)))
        a, b = float(np.prod(box[2:] - box[:2])), float(np.prod(other[2:] - other[:2]))
        if inter / (a + b - inter) > MAX_OVERLAP or inter > 0.5 * min(a, b):
            return False
    return True


def _mask(rng: np.random.Generator, label: int, size: float, s: int) -> np.ndarray:
    """A (s, s) boolean mask of one shape of class ``label`` and extent about ``size``."""
    yy, xx = np.mgrid[0:s, 0:s] + 0.5  # pixel centres
    if label == 1:  # rectangle, aspect 1:2 .. 2:1
        w, h = rng.permutation([size, size * rng.uniform(0.5, 1.0)])
        x0, y0 = rng.uniform(0, s - w), rng.uniform(0, s - h)
        return (xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)
    if label == 2:  # disc
        r = size / 2
        cx, cy = rng.uniform(r, s - r, 2)
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    # triangle: an equilateral one of circumradius size/2, rotated at random
    r = size / 2
    cx, cy = rng.uniform(r, s - r, 2)
    angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
    vx, vy = cx + r * np.cos(angles), cy + r * np.sin(angles)
    inside = np.ones((s, s), dtype=bool)
    for i in range(3):  # same side of each edge as the opposite vertex
        j, k = (i + 1) % 3, (i + 2) % 3
        edge = (vx[j] - vx[i]) * (yy - vy[i]) - (vy[j] - vy[i]) * (xx - vx[i])
        ref = (vx[j] - vx[i]) * (vy[k] - vy[i]) - (vy[j] - vy[i]) * (vx[k] - vx[i])
        inside &= edge * ref >= 0
    return inside


def _colour(rng: np.random.Generator, avoid: np.ndarray) -> np.ndarray:
    """A random RGB colour at L1 distance >= 150 from ``avoid`` (so objects stay visible)."""
    while True:
        c = rng.integers(0, 256, 3)
        if np.abs(c - avoid).sum() >= 150:
            return c


def _draw(rng: np.random.Generator, s: int) -> tuple[np.ndarray, list, list, list]:
    """One image: (S, S, 3) uint8 and its boxes, labels and difficult flags."""
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, s)[:, None, None]
    bg = c0 + (c1 - c0) * 0.3 * (t if rng.random() < 0.5 else t.transpose(1, 0, 2))
    image = np.broadcast_to(bg, (s, s, 3)).astype(np.float64).copy()
    mean_bg = bg.reshape(-1, 3).mean(axis=0)
    boxes, labels, difficult = [], [], []
    wanted = [(False, rng.integers(1, MAX_OBJECTS + 1))]
    if rng.random() < TINY_PROB:
        wanted.append((True, 1))
    for tiny, count in wanted:
        for _ in range(count):
            for _attempt in range(20):
                label = int(rng.integers(1, len(SHAPE_CLASSES) + 1))
                size = rng.uniform(*TINY_SIZE) if tiny else rng.uniform(*SIZE) * s
                mask = _mask(rng, label, size, s)
                if not mask.any():
                    continue
                ys, xs = np.nonzero(mask)
                box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)
                if _fits(box, boxes):
                    break
            else:
                continue  # no room for this object
            image[mask] = _colour(rng, mean_bg)
            boxes.append(box)
            labels.append(label)
            difficult.append(bool(tiny))
    image += rng.normal(0, 8, image.shape)  # sensor-like noise
    return np.clip(image, 0, 255).astype(np.uint8), boxes, labels, difficult


def generate(n: int, image_size: int, seed: int, split: str, difficulty: float = 0.0) -> ShapeSet:
    """``n`` images of ``split``, drawn from the stream (seed, split); deterministic.

    With ``difficulty`` > 0 each image also draws a level uniform in [0, difficulty] and is
    faded by it (``tasks/images.py``); its grain is added when the image is read. The level
    comes from the same stream as the drawings, so images after the first differ from those
    drawn at difficulty 0 (stickmen draws each figure from a stream of its own).
    """
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    drawn, levels = [], np.zeros(n, dtype=np.float32)
    for i in range(n):
        image, *objects = _draw(rng, image_size)
        image, levels[i] = fade_at_random(image, difficulty, rng)
        drawn.append((image, *objects))
    m = max(len(d[2]) for d in drawn)
    out = ShapeSet(
        images=np.stack([d[0] for d in drawn]),
        boxes=np.zeros((n, m, 4), dtype=np.float32),
        labels=np.zeros((n, m), dtype=np.int64),
        difficult=np.zeros((n, m), dtype=bool),
        levels=levels,
    )
    for i, (_, boxes, labels, difficult) in enumerate(drawn):
        k = len(labels)
        out.boxes[i, :k] = boxes
        out.labels[i, :k] = labels
        out.difficult[i, :k] = difficult
    return out


def scene_facts(data: ShapeSet, side: int) -> dict[str, np.ndarray]:
    """What each image holds, for the picks' diagnostics (``TaskData.facts``): its regular
    objects (``objects``) and of each class (``rectangles``, ``discs``, ``triangles``), their
    mean and smallest extent as a fraction of the side (``object_size``, ``smallest_object``:
    the square root of the box area), the largest box IoU between two of them (``overlap``),
    whether it has a tiny difficult object (``tiny``) and its difficulty level (``level``,
    with a difficulty > 0)."""
    real = (data.labels > 0) & ~data.difficult  # (N, M)
    wh = (data.boxes[..., 2:] - data.boxes[..., :2]).clip(min=0)
    extent = np.sqrt(wh[..., 0] * wh[..., 1]) / side  # (N, M)
    count = real.sum(axis=1)
    out = {"objects": count.astype(np.float64)}
    for label, name in enumerate(SHAPE_CLASSES, start=1):
        out[f"{name}s"] = ((data.labels == label) & real).sum(axis=1).astype(np.float64)
    out["object_size"] = np.where(real, extent, 0).sum(axis=1) / np.maximum(count, 1)
    out["smallest_object"] = np.where(real, extent, np.inf).min(axis=1)
    out["overlap"] = np.array([_largest_iou(b[r]) for b, r in zip(data.boxes, real, strict=True)])
    out["tiny"] = (data.difficult & (data.labels > 0)).any(axis=1).astype(np.float64)
    if data.levels.any():  # a difficulty > 0
        out["level"] = data.levels.astype(np.float64)
    return out


def _largest_iou(boxes: np.ndarray) -> float:
    """The largest IoU between two of ``boxes`` (x1, y1, x2, y2); 0 with fewer than two."""
    best = 0.0
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            inter = float(np.prod((np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2])).clip(0)))
            union = float(np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2])) - inter
            best = max(best, inter / union)
    return best


def load_or_generate(
    root: str | Path, n: int, image_size: int, seed: int, split: str, difficulty: float = 0.0
) -> ShapeSet:
    """The cached set for these parameters under ``root/shapes``, generated if missing."""
    params = {"version": GENERATOR_VERSION, "n": n, "size": image_size, "seed": seed}
    params["split"] = split
    if difficulty > 0:  # absent at 0, so the default's cached files keep their names
        params["difficulty"] = difficulty
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    folder = Path(root) / "shapes"
    path = folder / f"{split}-{n}x{image_size}px-seed{seed}-{key}.npz"
    if path.is_file():
        with np.load(path) as f:
            fields = {k: f[k] for k in ("images", "boxes", "labels", "difficult")}
            levels = f["levels"] if "levels" in f.files else np.zeros(n, dtype=np.float32)
            return ShapeSet(**fields, levels=levels)  # files from before levels: all 0
    data = generate(n, image_size, seed, split, difficulty)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **vars(data))
        os.replace(tmp, path)  # atomic: a reader sees the whole file or none
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return data


class ShapesDataset(Dataset):
    """Items ``(image (3, S, S) uint8, {"boxes", "labels", "difficult"})`` of a ShapeSet.

    An image with a difficulty level gets its grain here: fresh from torch's global
    generator when ``train`` (the loop seeds it per cycle), else the fixed grain of
    ``eval_generator(grain_seed, i)``.
    """

    def __init__(
        self,
        data: ShapeSet,
        transform: v2.Transform | None = None,
        train: bool = False,
        grain_seed: int = 0,
    ):
        self.images = torch.from_numpy(data.images).permute(0, 3, 1, 2)  # (N, S, S, 3) -> NCHW
        self.levels, self.train, self.grain_seed = data.levels, train, grain_seed
        self.boxes = torch.from_numpy(data.boxes)
        self.labels = torch.from_numpy(data.labels)
        self.difficult = torch.from_numpy(data.difficult)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, dict[str, Tensor]]:
        real = self.labels[i] > 0
        image = grained(self.images[i], float(self.levels[i]), self.train, self.grain_seed, i)
        target = {
            "boxes": self.boxes[i][real],
            "labels": self.labels[i][real],
            "difficult": self.difficult[i][real],
        }
        if self.transform is None:
            return image, target
        target["boxes"] = tv_tensors.BoundingBoxes(
            target["boxes"], format="XYXY", canvas_size=tuple(image.shape[-2:])
        )
        image, target = self.transform(tv_tensors.Image(image), target)
        return image.as_subclass(Tensor), {k: v.as_subclass(Tensor) for k, v in target.items()}


def _labels(inputs: tuple[Tensor, dict[str, Tensor]]) -> tuple[Tensor, Tensor]:
    """What SanitizeBoundingBoxes drops along with a box: its label and difficult flag."""
    target = inputs[1]
    return target["labels"], target["difficult"]


@builtin("shapes", rank=4)
class ShapesTask(DetectionTask):
    """Embedded twin of voc: generated rectangles, discs and triangles; small SSD; VOC07 mAP."""

    num_classes = len(SHAPE_CLASSES) + 1
    embedded = True
    tap_channels = SmallBackbone.channels(16)  # source maps of the default backbone
    generative_size = 32  # CPU twin: images shrunk to VAAL's own 32x32 network (voc: 64)
    sizes = (1000, 250)  # default (pool, test); an instance has its own
    throughput = 2000.0  # training images/s on one GPU (estimate)
    # training images/s of one CPU job, 1 thread, in the reproducible CPU mode, and what an
    # inference pass costs: SSD's box decoding and NMS (speed/cpu_throughput.py --kernels albench)
    cpu_throughput = 354.0
    inference_cost = 1 / 1.2
    default_schedule = {  # as benchmarks/quick.toml: 64 -> 256 labels in 4 cycles
        "al": {"initial": 64, "budget": 64, "cycles": 4, "subset": 0},
        "train": {
            "epochs": 6,
            "batch_size": 16,
            "optimizer": "adam",
            "lr": 2e-3,
            "lr_milestones": [5],
            "stop_grad_epoch": 4,
            "eval_batch_size": 250,
        },
    }

    def __init__(
        self,
        pool_size: int = 1000,
        test_size: int = 250,
        image_size: int = 64,
        width: int = 16,
        seed: int = 0,
        difficulty: float = 0.0,
        shift: int = 0,
        copies: int = 1,
        copy_noise: float = 0.05,
    ):
        if (
            isinstance(shift, bool)
            or not isinstance(shift, int)
            or not 0 <= shift < image_size // 2
        ):
            raise ConfigError(
                f"tasks.shapes.params.shift = {shift}: give a whole number of pixels in "
                f"[0, {image_size // 2}) (0: flip only; the mini benchmark uses 8)"
            )
        # image levels uniform in [0, this] (tasks/images.py)
        self.difficulty = check_difficulty("shapes", difficulty)
        self.shift = shift  # training translation: zero-pad by this much and crop back
        self.pool_size = pool_size  # generated pool images
        self.test_size = test_size  # generated test images (independent stream)
        self.image_size = (image_size, image_size)  # pixels, square
        self.width = width  # channels of the backbone's first stage (x2, x4 later)
        self.seed = seed  # generation seed, fixed across trials (the data set, not a trial)
        self.tap_channels = SmallBackbone.channels(width)
        # a redundant pool: every scene copies times, each copy with its own pixel noise
        self.copies, self.copy_noise = check_copies("shapes", copies, copy_noise)
        self.sizes = (pool_size * self.copies, test_size)

    def expectations(self, al: ALConfig | None = None) -> tuple[Expectation, ...]:
        """The redundant pool's known answers when ``copies`` > 1 (tasks/scenarios.py)."""
        return redundant_expectations(self.copies, self.provides)

    def datasets(self, root: str, download: bool) -> TaskData:
        side, d = self.image_size[0], self.difficulty
        pool = load_or_generate(root, self.pool_size, side, self.seed, "pool", d)
        test = load_or_generate(root, self.test_size, side, self.seed, "test", d)
        source = np.arange(self.pool_size)
        if self.copies > 1:
            rng = np.random.default_rng([self.seed, len(SPLITS)])  # a stream of its own
            source = redundant(self.pool_size, self.copies, rng)
            images = noisy_copies(pool.images, source, self.copy_noise, 255.0, rng)
            pool = ShapeSet(images, *(getattr(pool, k)[source] for k in FIELDS[1:]))
        facts = scene_facts(pool, side) | ({"copy_of": source} if self.copies > 1 else {})
        augment = v2.RandomHorizontalFlip(p=0.5)
        if self.shift:  # translation as CIFAR's pad-and-crop; objects cut below 4 px go
            augment = v2.Compose(
                [
                    v2.RandomCrop(side, padding=self.shift),
                    augment,
                    v2.SanitizeBoundingBoxes(min_size=MIN_VISIBLE_PX, labels_getter=_labels),
                ]
            )
        return TaskData(
            pool_train=ShapesDataset(pool, augment, train=True),
            pool_eval=ShapesDataset(pool, grain_seed=SPLITS.index("pool")),
            test=ShapesDataset(test, grain_seed=SPLITS.index("test")),
            facts=facts,
            test_facts=scene_facts(test, side),
        )

    def build_model(self) -> nn.Module:
        return build_small_ssd(self.num_classes, self.image_size[0], self.width)
