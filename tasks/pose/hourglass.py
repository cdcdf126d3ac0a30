"""Stacked hourglass network (Newell, Yang & Deng, ECCV 2016), the target model of paper §4.3.

The paper trains 2 stacks ("we have inevitably stacked two hourglass networks", §4.3) with the
code of bearpaw/pytorch-pose, which follows Newell et al.'s Torch original: pre-activation
bottleneck residuals (BN-ReLU-conv 1x1 to C/2, 3x3, 1x1 back to C), a stem that brings the
256x256 input down to 64x64 (7x7 stride-2 convolution, residual, max-pool, two residuals),
then per stack an hourglass of depth 4 (64 -> 32 -> 16 -> 8 -> 4 and back up, nearest
upsampling, one residual per level), a residual, a 1x1 conv-BN-ReLU whose 256-channel 64x64
output is the stack's *last feature map*, and a 1x1 convolution to one heatmap per joint.
Between stacks the feature map and the heatmaps are mapped back by 1x1 convolutions and added
to the stack's input (intermediate supervision: every stack's heatmaps are trained).

Loss-module taps (§4.3): the last feature map of each stack, (B, 256, 64, 64). Core-set
embedding (§4.3): the last stack's last feature map, spatially averaged, (B, 256).
With 2 stacks, 16 joints and 256 features the model has 6,570,400 parameters (the
paper's setting, "about 6.57 M").

The same class builds the small 1-stack hourglass of the ``stickmen`` twin (fewer features,
a shallower hourglass).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Hourglass", "Residual", "StackedHourglass"]


class Residual(nn.Module):
    """Newell et al.'s pre-activation bottleneck: BN-ReLU-1x1(C/2)-BN-ReLU-3x3-BN-ReLU-1x1(C)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = cout // 2
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, mid, 1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1),
        )
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.skip(x)


class Hourglass(nn.Module):
    """One hourglass of ``depth`` levels: each halves the resolution, then it is restored."""

    def __init__(self, depth: int, features: int):
        super().__init__()
        self.up1 = Residual(features, features)  # skip branch at this resolution
        self.low1 = Residual(features, features)  # after max-pooling
        self.low2 = Hourglass(depth - 1, features) if depth > 1 else Residual(features, features)
        self.low3 = Residual(features, features)

    def forward(self, x: Tensor) -> Tensor:
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2))))  # (B, C, H/2, W/2)
        return self.up1(x) + F.interpolate(low, scale_factor=2, mode="nearest")  # (B, C, H, W)


def _lin(cin: int, cout: int) -> nn.Sequential:
    """1x1 convolution, BN, ReLU: produces each stack's last feature map."""
    return nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class StackedHourglass(nn.Module):
    """``forward(x)`` returns ``(heatmaps per stack, taps, embedding)``.

    ``x`` (B, in_channels, H, W) with H, W divisible by 4 * 2**depth; heatmaps are
    (B, num_joints, H/4, W/4) per stack, taps the (B, features, H/4, W/4) last feature map of
    each stack, the embedding (B, features).
    """

    def __init__(
        self,
        num_joints: int = 16,  # MPII joints
        num_stacks: int = 2,  # §4.3: two stacked hourglasses
        features: int = 256,  # Newell et al.: 256 channels, the taps of §4.3
        depth: int = 4,  # Newell et al.: 64 -> 4 pixels at the bottom for a 256 input
        in_channels: int = 3,  # RGB
    ):
        super().__init__()
        self.num_stacks = num_stacks
        self.tap_channels = (features,) * num_stacks
        quarter, half = max(features // 4, 1), max(features // 2, 1)  # 64, 128 for 256
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, quarter, 7, stride=2, padding=3),  # (B, 64, H/2, W/2)
            nn.BatchNorm2d(quarter),
            nn.ReLU(inplace=True),
            Residual(quarter, half),
            nn.MaxPool2d(2),  # (B, 128, H/4, W/4)
            Residual(half, half),
            Residual(half, features),
        )
        self.hourglasses = nn.ModuleList(Hourglass(depth, features) for _ in range(num_stacks))
        self.residuals = nn.ModuleList(Residual(features, features) for _ in range(num_stacks))
        self.lins = nn.ModuleList(_lin(features, features) for _ in range(num_stacks))
        self.heads = nn.ModuleList(nn.Conv2d(features, num_joints, 1) for _ in range(num_stacks))
        self.merge_features = nn.ModuleList(
            nn.Conv2d(features, features, 1) for _ in range(num_stacks - 1)
        )
        self.merge_heatmaps = nn.ModuleList(
            nn.Conv2d(num_joints, features, 1) for _ in range(num_stacks - 1)
        )

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[Tensor], Tensor]:
        x = self.stem(x)  # (B, C, H/4, W/4)
        heatmaps, taps = [], []
        for i in range(self.num_stacks):
            feature = self.lins[i](self.residuals[i](self.hourglasses[i](x)))  # (B, C, h, w)
            heatmap = self.heads[i](feature)  # (B, J, h, w)
            taps.append(feature)
            heatmaps.append(heatmap)
            if i < self.num_stacks - 1:  # intermediate supervision: feed both back
                x = x + self.merge_features[i](feature) + self.merge_heatmaps[i](heatmap)
        embedding = taps[-1].mean(dim=(2, 3))  # (B, C, h, w) -> (B, C)
        return heatmaps, taps, embedding
