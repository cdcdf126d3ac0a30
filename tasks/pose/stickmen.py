"""``stickmen``: the embedded twin of ``mpii``, procedurally drawn stick figures (offline, CPU).

Every image is a 64x64 RGB canvas with one stick figure carrying MPII's 16 joints (same
order, same left/right pairs, same PCKh mean set), drawn at twice the size and box-filtered
down (anti-aliasing):

- pose: a random figure size (head top to ankles 57-78 % of the canvas), torso lean, head
  tilt, leg and arm angles and bends, a global rotation and position; 30 % of the figures
  face away (their right side on the image's right);
- side: the figure's left limbs are red, its right limbs blue, the only cue for left vs
  right (as anatomy is in MPII), so a mirrored figure is a valid figure with its left/right
  labels swapped -- the flip augmentation stays consistent;
- head: a filled disc between the upper neck and the head top; the head box is its bounding
  square, so the PCKh threshold is 0.5 x 0.6 x its diagonal (about 3-4 pixels);
- clutter: a smooth tinted background, 2-6 limb-like strokes and 0-2 head-like discs of random
  colours, pixel noise;
- occlusion: with probability 0.25 a block covers the surroundings of a random limb joint;
  joints under it, or off the canvas, are not visible (no ground truth), as missing MPII joints.
- difficulty (parameter, 0 by default, 1 in the mini benchmark): each figure draws its own
  level of fading and grain (``tasks/images.py``), the grain re-drawn at every training read.

Image i of the pool comes from ``numpy.random.default_rng([seed, 0, i])`` and of the test
split from ``[seed, 1, i]``, so the test images do not depend on the pool size. The arrays are
cached in ``<data-root>/stickmen/`` under a name that hashes the generation parameters, written
to a temporary file and renamed (atomic), so reruns and parallel workers reuse them safely.

The model is the ``mpii`` hourglass code with 1 stack, 32 features and depth 3 (16x16
heatmaps, 2x2 at the bottom; 47,264 parameters); loss, entropy, PCKh and augmentation are the
``mpii`` ones. The defaults are sized for the quick benchmark: 5 strategies x 3 trials in a
few minutes on 2 CPU cores while PCKh clearly rises over the cycles (docs/measured.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from albench.config import ALConfig
from albench.contracts import Expectation, TaskData
from albench.errors import ConfigError
from albench.registry import builtin
from albench.tasks.images import check_difficulty, fade_at_random, grained
from albench.tasks.pose.common import PoseTask
from albench.tasks.pose.data import ImageArray, PoseAnnotations, PoseDataset
from albench.tasks.pose.hourglass import StackedHourglass
from albench.tasks.pose.pckh import head_size
from albench.tasks.scenarios import (
    check_copies,
    noisy_copies,
    redundant,
    redundant_expectations,
)

__all__ = ["StickmenTask", "draw_stickman", "generate_stickmen", "load_stickmen"]

GENERATOR_VERSION = 2  # bump when the drawing changes: it is part of the cache key
SUPERSAMPLE = 2  # drawn at 2x and box-filtered down
# Limbs as (joint, joint, side): side 0 = torso/head, 1 = the figure's left, 2 = its right.
LIMBS = (
    (6, 7, 0), (7, 8, 0), (2, 3, 0), (12, 13, 0),
    (3, 4, 1), (4, 5, 1), (13, 14, 1), (14, 15, 1), (7, 13, 1), (6, 3, 1),
    (2, 1, 2), (1, 0, 2), (12, 11, 2), (11, 10, 2), (7, 12, 2), (6, 2, 2),
)  # fmt: skip
OCCLUDABLE = (0, 1, 4, 5, 10, 11, 14, 15)  # ankles, knees, wrists, elbows
RIGHT_HIP, LEFT_HIP = 2, 3  # MPII joint order


def _unit(angle_deg: float) -> np.ndarray:
    """Unit vector at ``angle_deg`` from "up" in image coordinates (y down), clockwise."""
    a = math.radians(angle_deg)
    return np.array([math.sin(a), -math.cos(a)])


def _pose(rng: np.random.Generator, size: int) -> np.ndarray:
    """(16, 2) joints of a random figure, in canvas pixels."""
    h = rng.uniform(0.55, 0.75) * size  # scale: head top to ankles spans about 1.04 h
    j = np.zeros((16, 2))
    lean = rng.normal(0.0, 12.0) + rng.normal(0.0, 15.0)  # global rotation + torso lean
    up = _unit(lean)
    side = np.array([-up[1], up[0]])  # the figure's left when facing the viewer
    if rng.random() < 0.3:  # faces away: its left is on the image's left
        side = -side
    j[6] = np.full(2, (size - 1) / 2) + rng.normal(0.0, 0.06 * size, 2) - 0.04 * h * up
    j[7] = j[6] + 0.30 * h * up  # thorax
    j[8] = j[7] + 0.06 * h * _unit(lean + rng.normal(0.0, 10.0))  # upper neck
    j[9] = j[8] + 0.20 * h * _unit(lean + rng.normal(0.0, 15.0))  # head top
    j[12], j[13] = j[7] - 0.10 * h * side, j[7] + 0.10 * h * side  # r, l shoulder
    j[2], j[3] = j[6] - 0.08 * h * side, j[6] + 0.08 * h * side  # r, l hip
    down = lean + 180.0
    to_left = 1.0 if _unit(down + 10.0) @ side > 0 else -1.0  # angle sense towards its left
    for hip, knee, ankle, s in ((2, 1, 0, -1.0), (3, 4, 5, 1.0)):
        thigh = down + s * to_left * rng.uniform(0.0, 25.0) + rng.normal(0.0, 15.0)
        j[knee] = j[hip] + 0.24 * h * _unit(thigh)
        j[ankle] = j[knee] + 0.24 * h * _unit(thigh + rng.uniform(-70.0, 70.0))
    for shoulder, elbow, wrist in ((12, 11, 10), (13, 14, 15)):
        upper = down + rng.uniform(-150.0, 150.0)
        j[elbow] = j[shoulder] + 0.17 * h * _unit(upper)
        j[wrist] = j[elbow] + 0.15 * h * _unit(upper + rng.uniform(-130.0, 130.0))
    return j


def _colour(rgb) -> tuple[int, int, int]:
    return tuple(int(round(255 * min(max(c, 0.0), 1.0))) for c in rgb)


def draw_stickman(
    rng: np.random.Generator, size: int = 64
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One figure: (size, size, 3) uint8 image, (16, 2) joints, (16,) visibility, (4,) head box.

    Joints and the head box are in pixel-centre coordinates of the ``size`` canvas.
    """
    big = size * SUPERSAMPLE
    joints = _pose(rng, size)

    def q(p: np.ndarray) -> tuple[float, float]:  # canvas -> 2x drawing pixel centres
        return tuple(SUPERSAMPLE * p + 0.5 * (SUPERSAMPLE - 1))

    noise = Image.fromarray(rng.uniform(0, 1, (6, 6)).astype(np.float32))
    smooth = np.asarray(noise.resize((big, big), Image.BILINEAR))  # (2S, 2S) in [0, 1]
    tint = rng.uniform(0.0, 0.35) + rng.uniform(-0.05, 0.05, 3)  # background colour
    base = tint[None, None, :] + 0.15 * (smooth[:, :, None] - 0.5)  # (2S, 2S, 3)
    canvas = Image.fromarray((np.clip(base, 0, 1) * 255).astype(np.uint8), mode="RGB")
    draw = ImageDraw.Draw(canvas)
    width = SUPERSAMPLE * 2  # limb stroke: 2 canvas pixels
    for _ in range(rng.integers(2, 7)):  # limb-like clutter strokes, any colour
        a = rng.uniform(0, big, 2)
        b = a + rng.uniform(0.12, 0.35) * big * _unit(rng.uniform(0, 360))
        draw.line([tuple(a), tuple(b)], fill=_colour(rng.uniform(0.2, 0.9, 3)), width=width)
    head_r = 0.5 * float(np.linalg.norm(joints[9] - joints[8]))
    for _ in range(rng.integers(0, 3)):  # head-like clutter discs
        c, r = rng.uniform(0, big, 2), SUPERSAMPLE * head_r * rng.uniform(0.6, 1.2)
        draw.ellipse(
            [c[0] - r, c[1] - r, c[0] + r, c[1] + r], fill=_colour(rng.uniform(0.3, 0.8, 3))
        )

    tone = rng.uniform(0.75, 1.0)
    fills = (  # torso and head whitish, the figure's left limbs red, its right limbs blue
        _colour(tone * np.array([0.9, 0.9, 0.85])),
        _colour(tone * np.array([1.0, 0.35, 0.3])),
        _colour(tone * np.array([0.3, 0.5, 1.0])),
    )
    for a, b, side in LIMBS:
        draw.line([q(joints[a]), q(joints[b])], fill=fills[side], width=width)
    head_c = 0.5 * (joints[8] + joints[9])
    hc, hr = q(head_c), SUPERSAMPLE * head_r
    draw.ellipse([hc[0] - hr, hc[1] - hr, hc[0] + hr, hc[1] + hr], fill=fills[0])
    head_box = np.concatenate([head_c - head_r, head_c + head_r])  # (x1, y1, x2, y2)

    visible = np.ones(16, dtype=bool)
    if rng.random() < 0.25:  # an occluding block around a random limb joint
        target = joints[OCCLUDABLE[rng.integers(len(OCCLUDABLE))]]
        half = rng.uniform(0.06, 0.11) * size
        lo = target + rng.uniform(-0.5, 0.5, 2) * half - half
        hi = lo + 2 * half
        draw.rectangle([*q(lo), *q(hi)], fill=_colour(rng.uniform(0.0, 0.5, 3)))
        visible &= ~((joints >= lo) & (joints <= hi)).all(axis=1)
    visible &= ((joints >= 0) & (joints <= size - 1)).all(axis=1)

    small = np.asarray(canvas.resize((size, size), Image.BOX), dtype=np.float32)
    small = small + rng.normal(0.0, 6.0, small.shape)  # sensor noise, in grey levels
    image = np.clip(small, 0, 255).astype(np.uint8)  # (S, S, 3)
    return image, joints.astype(np.float32), visible, head_box.astype(np.float32)


def generate_stickmen(
    seed: int, split: int, count: int, size: int, difficulty: float = 0.0
) -> dict[str, np.ndarray]:
    """``count`` figures of one split (0 = pool, 1 = test) as stacked arrays.

    With ``difficulty`` > 0 each figure also draws a level uniform in [0, difficulty] (after
    the drawing, from the figure's own stream) and is faded by it (``tasks/images.py``); its
    grain is added when the image is read.
    """
    figures, levels = [], np.zeros(count, dtype=np.float32)
    for i in range(count):
        rng = np.random.default_rng([seed, split, i])
        image, *rest = draw_stickman(rng, size)
        image, levels[i] = fade_at_random(image, difficulty, rng)
        figures.append((image, *rest))
    images, joints, visible, boxes = (np.stack(parts) for parts in zip(*figures, strict=True))
    return {
        "images": images, "joints": joints, "visible": visible, "head_box": boxes,
        "levels": levels,
    }  # fmt: skip


def load_stickmen(
    root: str | Path, seed: int, pool: int, test: int, size: int, difficulty: float = 0.0
):
    """(pool arrays, test arrays), generated once and cached under ``root``/stickmen."""
    key = {"v": GENERATOR_VERSION, "seed": seed, "pool": pool, "test": test, "size": size}
    if difficulty > 0:  # absent at 0, so the default's cached files keep their names
        key["difficulty"] = difficulty
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    path = Path(root) / "stickmen" / f"stickmen-{digest}.npz"
    if path.is_file():
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
    else:
        splits = [
            generate_stickmen(seed, s, n, size, difficulty) for s, n in ((0, pool), (1, test))
        ]
        arrays = {
            f"{name}_{k}": v
            for name, d in zip(("pool", "test"), splits, strict=True)
            for k, v in d.items()
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)  # atomic: a reader sees the whole file or none
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    fields = ("images", "joints", "visible", "head_box")
    out = tuple({k: arrays[f"{name}_{k}"] for k in fields} for name in ("pool", "test"))
    for name, split in zip(("pool", "test"), out, strict=True):  # files from before levels
        split["levels"] = arrays.get(f"{name}_levels", np.zeros(len(split["images"])))
    return out


def figure_facts(arrays: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """What each figure is, for the picks' diagnostics (``TaskData.facts``): its visible
    joints (``visible_joints``, of 16), the side of the box around all 16 joints and the head
    diagonal as fractions of the canvas (``figure_size``, ``head_size``), whether its right hip
    lies right of its left hip in the image, as a figure facing away (``facing_away``), and
    its difficulty level (``level``, with a difficulty > 0)."""
    joints, boxes = arrays["joints"].astype(np.float64), arrays["head_box"].astype(np.float64)
    extent = joints.max(axis=1) - joints.min(axis=1)  # (N, 2)
    left_hip, right_hip = joints[:, LEFT_HIP, 0], joints[:, RIGHT_HIP, 0]
    out = {
        "visible_joints": arrays["visible"].sum(axis=1).astype(np.float64),
        "figure_size": extent.max(axis=1) / size,
        "head_size": np.hypot(*(boxes[:, 2:] - boxes[:, :2]).T) / size,
        "facing_away": (left_hip < right_hip).astype(np.float64),
    }
    if np.any(arrays["levels"]):  # a difficulty > 0
        out["level"] = np.asarray(arrays["levels"], dtype=np.float64)
    return out


class GrainedImages(ImageArray):
    """:class:`ImageArray` whose item i gets the grain of its difficulty level: fresh from
    torch's global generator when ``fresh`` (training), else the fixed grain of
    ``eval_generator(seed, i)``."""

    def __init__(self, images: np.ndarray, levels: np.ndarray, fresh: bool, seed: int):
        super().__init__(images)
        self.levels, self.fresh, self.seed = levels, fresh, seed

    def __call__(self, i: int) -> Image.Image:
        image = grained(torch.from_numpy(self.images[i]), float(self.levels[i]), self.fresh,
                        self.seed, i)  # fmt: skip
        return Image.fromarray(image.numpy())


def _annotations(arrays: dict[str, np.ndarray], size: int) -> PoseAnnotations:
    n = len(arrays["images"])
    return PoseAnnotations(
        joints=arrays["joints"].astype(np.float64),
        visible=arrays["visible"],
        center=np.full((n, 2), (size - 1) / 2),  # the whole canvas is the crop
        box=np.full(n, float(size)),
        head_size=head_size(arrays["head_box"]),
    )


@builtin("stickmen", rank=5)
class StickmenTask(PoseTask):
    """Embedded twin of mpii: generated stick figures, 1-stack small hourglass; PCKh@0.5."""

    embedded = True
    channels = 3
    input_res = 64  # image_size
    tap_channels = (32,)  # (features,): the 1 stack's last feature map
    generative_size = 32  # CPU twin: figures shrunk to VAAL's own 32x32 network (mpii: 64)
    sizes = (1000, 300)  # (pool_size, test_size) defaults, for planning
    throughput = 2000.0  # training images/s on one GPU (estimate)
    # training images/s of one CPU job, 1 thread, in the reproducible CPU mode, and what an
    # inference pass costs (benchmarks/speed/cpu_throughput.py --kernels albench)
    cpu_throughput = 199.0
    inference_cost = 1 / 3.6
    default_schedule = {  # as benchmarks/quick.toml: 64 -> 256 labels in 4 cycles
        "al": {"initial": 64, "budget": 64, "cycles": 4, "subset": 300},
        "train": {
            "epochs": 5,
            "batch_size": 8,
            "optimizer": "rmsprop",
            "lr": 1e-3,
            "momentum": 0.0,
            "weight_decay": 0.0,
            "lr_milestones": [4],
            "stop_grad_epoch": 3,
            "eval_batch_size": 300,
        },
        "strategies": {"learn_loss": {"weight": 1e-4}},  # lambda as mpii (§4.3)
    }

    def __init__(
        self,
        pool_size: int = 1000,  # generated pool figures (quick: 320 get labels)
        test_size: int = 300,  # generated test figures
        image_size: int = 64,  # canvas side in pixels; heatmaps are a quarter of it
        features: int = 32,  # hourglass width (mpii: 256)
        depth: int = 3,  # hourglass levels (mpii: 4): 16 -> 2 pixels
        seed: int = 0,  # generation seed, independent of the trial seeds
        difficulty: float = 0.0,  # figure levels uniform in [0, this] (tasks/images.py)
        copies: int = 1,  # a redundant pool: every figure this many times (tasks/scenarios.py)
        copy_noise: float = 0.05,  # each copy's own pixel noise, std as a share of 255
    ):
        step = 4 * 2**depth  # the stem divides by 4, each hourglass level by 2
        if image_size < step or image_size % step or min(pool_size, test_size) < 1:
            raise ConfigError(
                f"tasks.stickmen.params: image_size = {image_size} must be a multiple of "
                f"4 x 2^depth = {step} (depth = {depth}), pool_size = {pool_size} and "
                f"test_size = {test_size} at least 1; e.g. image_size = 64 with depth = 3"
            )
        if features < 4 or features % 4:
            raise ConfigError(
                f"tasks.stickmen.params.features = {features}: give a multiple of 4 (e.g. 32)"
            )
        self.difficulty = check_difficulty("stickmen", difficulty)
        self.pool_size, self.test_size, self.image_size = pool_size, test_size, image_size
        self.features, self.depth, self.seed = features, depth, seed
        self.input_res = image_size
        self.tap_channels = (features,)
        self.copies, self.copy_noise = check_copies("stickmen", copies, copy_noise)
        self.sizes = (pool_size * self.copies, test_size)

    def expectations(self, al: ALConfig | None = None) -> tuple[Expectation, ...]:
        """The redundant pool's known answers when ``copies`` > 1 (tasks/scenarios.py)."""
        return redundant_expectations(self.copies, self.provides)

    def datasets(self, root: str, download: bool) -> TaskData:
        pool, test = load_stickmen(
            root, self.seed, self.pool_size, self.test_size, self.image_size, self.difficulty
        )
        source = np.arange(self.pool_size)
        if self.copies > 1:
            rng = np.random.default_rng([self.seed, 2])  # a stream of its own (0 pool, 1 test)
            source = redundant(self.pool_size, self.copies, rng)
            images = noisy_copies(pool["images"], source, self.copy_noise, 255.0, rng)
            pool = {k: v[source] for k, v in pool.items()} | {"images": images}
        facts = figure_facts(pool, self.image_size)
        if self.copies > 1:
            facts["copy_of"] = source
        pool_ann = _annotations(pool, self.image_size)
        test_ann = _annotations(test, self.image_size)

        def make(ann, arrays, augment, split):
            images = GrainedImages(arrays["images"], arrays["levels"], fresh=augment, seed=split)
            return PoseDataset(ann, images, self.image_size, augment, self.channels)

        return TaskData(
            pool_train=make(pool_ann, pool, True, 0),
            pool_eval=make(pool_ann, pool, False, 0),
            test=make(test_ann, test, False, 1),
            facts=facts,
            test_facts=figure_facts(test, self.image_size),
        )

    def build_model(self) -> nn.Module:
        return StackedHourglass(
            num_joints=self.num_joints,
            num_stacks=1,
            features=self.features,
            depth=self.depth,
            in_channels=self.channels,
        )
