"""Image helpers the tasks share: images for generative models of the input, and the
per-image difficulty of the generated twins.

Images for generative models (capability ``images``, docs/adding-a-task.md): every built-in
task hands a generative model (VAAL's VAE) its batch as (B, C, S, S) pixels in
[0, 1] at the task's ``generative_size`` S: classification images as they are (CIFAR-10 32;
digits' 8x8 upsampled to 16, the smallest side VAAL's four stride-2 convolutions take),
detection and pose images resized to 64 for VOC and MPII (the 64x64 model VAAL's VAE was
adapted from, WAE's CelebA network: see strategies/vaal.py) and to 32 for their CPU twins
``shapes`` and ``stickmen`` (VAAL's own 32x32 network, a quarter of the cost).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from albench.errors import ConfigError

__all__ = [
    "FADE",
    "GRAIN",
    "add_grain",
    "check_difficulty",
    "eval_generator",
    "fade",
    "fade_at_random",
    "grained",
    "resize_square",
]

# Per-image difficulty of the generated twins (their ``difficulty`` parameter): an image of
# level L in [0, 1] keeps 1 - FADE x L of its contrast and gets Gaussian grain of std GRAIN x L
# grey levels, re-drawn at every training access (augmentation) and fixed per image in
# evaluation. A fixed grain could be memorised by the model, and the training loss of a hard
# image would then fall as low as an easy one's; re-drawn, the difficulty stays in the
# training loss, which is all the loss-prediction module learns from.
FADE = 0.9
GRAIN = 60.0


def check_difficulty(task: str, value: object) -> float:
    """``value`` as a float if it is a number in [0, 1], else a ConfigError naming the key."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(
            f"tasks.{task}.params.difficulty = {value!r}: give a number in [0, 1] "
            "(0: every image as drawn; the mini benchmark uses 1)"
        )
    return float(value)


def fade(image: np.ndarray, level: float) -> np.ndarray:
    """(H, W, C) float grey levels with their contrast shrunk towards the mean colour by
    ``FADE x level``; level 0 returns the image unchanged."""
    if level <= 0:
        return image
    mean = image.reshape(-1, image.shape[-1]).mean(axis=0)
    return mean + (image - mean) * (1.0 - FADE * level)


def fade_at_random(
    image: np.ndarray, difficulty: float, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """A generated uint8 image faded at a level drawn uniformly in [0, ``difficulty``] from
    ``rng``, and the level; difficulty 0 returns the image and level 0 and draws nothing."""
    if difficulty <= 0:
        return image, 0.0
    level = np.float32(difficulty * rng.uniform())  # as stored: the cache holds float32
    return np.clip(fade(image.astype(np.float64), level), 0, 255).astype(np.uint8), level


def add_grain(image: Tensor, level: float, generator: torch.Generator | None = None) -> Tensor:
    """A uint8 image (any layout) plus Gaussian grain of std ``GRAIN x level`` grey levels,
    clipped back to uint8; from ``generator`` (torch's global one when None). Level 0 returns
    the image and draws nothing."""
    if level <= 0:
        return image
    noise = torch.randn(image.shape, generator=generator) * (GRAIN * level)
    return (image.float() + noise).round_().clamp_(0, 255).to(torch.uint8)


def eval_generator(seed: int, index: int) -> torch.Generator:
    """The generator of item ``index``'s fixed evaluation grain (``seed`` names the split)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + index)


def grained(image: Tensor, level: float, fresh: bool, seed: int, index: int) -> Tensor:
    """Item ``index``'s uint8 image as a dataset reads it: with fresh grain from torch's
    global generator in training (the loop seeds it per cycle), else with its fixed
    evaluation grain (``eval_generator(seed, index)``)."""
    if level <= 0:
        return image
    return add_grain(image, level, None if fresh else eval_generator(seed, index))


def resize_square(x: Tensor, size: int) -> Tensor:
    """(B, C, H, W) float -> (B, C, size, size), bilinear, antialiased when shrinking; the
    aspect ratio is not kept (SSD's and the hourglass's inputs are square already)."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    shrink = x.shape[-1] > size or x.shape[-2] > size
    return F.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink
    )
