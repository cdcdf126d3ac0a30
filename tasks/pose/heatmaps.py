"""Heatmap targets, decoding, the per-sample pose loss and the heatmap entropy (paper §4.3).

- Targets (Newell et al.): one 2-D Gaussian per joint with sigma = 1 heatmap pixel, peak 1,
  centred on the joint's exact sub-pixel position (the reference code rounds the centre to a
  pixel first; rendering it exactly removes that bias); zero for joints without ground truth.
- Decoding (the usual MPII post-processing): the arg-max of each heatmap, moved a quarter pixel
  towards the higher of its two neighbours along x and along y (a cheap sub-pixel estimate),
  in heatmap pixel-centre coordinates (see ``geometry``).
- Per-sample loss (§4.3, docs/protocol.md): the mean squared error of a heatmap, averaged over the
  sample's visible joints, summed over the stacks (intermediate supervision) -> (B,).
  Its scale is ~1e-3 per stack, hence lambda = 1e-4 for the loss module (§4.3).
- Entropy (§4.3, "Comparison targets"): softmax over each joint's heatmap, the entropy of that
  distribution (nats), averaged over the joints -> (B,).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["decode_heatmaps", "heatmap_entropy", "heatmap_loss", "render_heatmaps"]


def render_heatmaps(
    points: np.ndarray,
    weight: np.ndarray,
    size: int,
    sigma: float = 1.0,  # Newell et al.: sigma = 1 pixel of the 64x64 heatmap
) -> np.ndarray:
    """(J, 2) heatmap coordinates and (J,) weights -> (J, size, size) float32 Gaussians.

    Joints with weight 0 get an all-zero map.
    """
    grid = np.arange(size, dtype=np.float32)
    dx = grid[None, :] - points[:, 0:1].astype(np.float32)  # (J, W)
    dy = grid[None, :] - points[:, 1:2].astype(np.float32)  # (J, H)
    gx = np.exp(-(dx**2) / (2 * sigma**2))
    gy = np.exp(-(dy**2) / (2 * sigma**2))
    maps = gy[:, :, None] * gx[:, None, :]  # (J, H, 1) * (J, 1, W) -> (J, H, W), separable
    return (maps * (weight > 0)[:, None, None]).astype(np.float32)


def decode_heatmaps(heatmaps: Tensor) -> Tensor:
    """(B, J, H, W) heatmaps -> (B, J, 2) (x, y) in heatmap coordinates, quarter-pixel shift."""
    b, j, h, w = heatmaps.shape
    flat = heatmaps.float().reshape(b, j, h * w)  # (B, J, H*W)
    idx = flat.argmax(dim=2)  # (B, J)
    x, y = idx % w, torch.div(idx, w, rounding_mode="floor")
    hm = heatmaps.float()

    def at(yy: Tensor, xx: Tensor) -> Tensor:  # value at (yy, xx) of each (b, j) map
        return hm.reshape(b * j, h, w)[
            torch.arange(b * j, device=hm.device), yy.reshape(-1), xx.reshape(-1)
        ].reshape(b, j)

    # Neighbours, clamped at the border where the shift is then switched off.
    dx = at(y, (x + 1).clamp(max=w - 1)) - at(y, (x - 1).clamp(min=0))
    dy = at((y + 1).clamp(max=h - 1), x) - at((y - 1).clamp(min=0), x)
    inner_x = (x > 0) & (x < w - 1)
    inner_y = (y > 0) & (y < h - 1)
    px = x.float() + 0.25 * torch.sign(dx) * inner_x
    py = y.float() + 0.25 * torch.sign(dy) * inner_y
    return torch.stack([px, py], dim=2)  # (B, J, 2)


def heatmap_loss(predicted: Sequence[Tensor], target: Tensor, weight: Tensor) -> Tensor:
    """Per-sample loss (B,): per stack, the pixel-mean squared error of each heatmap averaged
    over the visible joints (``weight`` (B, J) > 0), summed over the stacks."""
    w = weight.float()
    visible = w.sum(dim=1).clamp(min=1.0)  # (B,), a pose with no visible joint costs 0
    total = torch.zeros(target.shape[0], device=target.device)
    for heatmap in predicted:
        mse = (heatmap.float() - target.float()).pow(2).mean(dim=(2, 3))  # (B, J, H, W) -> (B, J)
        total = total + (mse * w).sum(dim=1) / visible  # (B, J) -> (B,)
    return total


def heatmap_entropy(heatmaps: Tensor) -> Tensor:
    """(B, J, H, W) -> (B,): softmax over each heatmap, its entropy, mean over the joints."""
    logits = heatmaps.float().flatten(2)  # (B, J, H*W)
    logp = torch.log_softmax(logits, dim=2)
    entropy = -(logp.exp() * logp).sum(dim=2)  # (B, J)
    return entropy.mean(dim=1)  # (B,)
