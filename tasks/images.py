"""Images for generative models of the input (capability ``images``, README "Adding a task").

Every built-in task hands a generative model (VAAL's VAE) its batch as (B, C, S, S) pixels in
[0, 1] at the task's ``generative_size`` S: classification images as they are (CIFAR-10 32;
digits' 8x8 upsampled to 16, the smallest side VAAL's four stride-2 convolutions take),
detection and pose images resized to 64 for VOC and MPII (the 64x64 model VAAL's VAE was
adapted from, WAE's CelebA network: see strategies/vaal.py) and to 32 for their CPU twins
``shapes`` and ``stickmen`` (VAAL's own 32x32 network, a quarter of the cost).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["resize_square"]


def resize_square(x: Tensor, size: int) -> Tensor:
    """(B, C, H, W) float -> (B, C, size, size), bilinear, antialiased when shrinking; the
    aspect ratio is not kept (SSD's and the hourglass's inputs are square already)."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    shrink = x.shape[-1] > size or x.shape[-2] > size
    return F.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink
    )
