"""ResNet-18 for CIFAR (He et al. 2016, as in kuangliu/pytorch-cifar, the code the paper used).

Paper §4.1: identical to ResNet-18 except for a 3x3 stride-1 first convolution and no max
pooling. 11,173,962 parameters with 10 classes. The loss-prediction module taps the outputs of
the four stages {conv2_x .. conv5_x} (64, 128, 256, 512 channels at 32, 16, 8, 4 pixels); the
core-set embedding is the 512-d average-pooled feature before the classifier.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["BasicBlock", "ResNet18"]


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18, CIFAR variant; ``forward`` returns ``(logits, taps, embedding)``."""

    tap_channels = (64, 128, 256, 512)

    def __init__(self, num_classes: int = 10, head_dropout: float = 0.0):
        super().__init__()
        self.head_dropout = head_dropout  # p before the classifier (0: the paper's ResNet-18)
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)  # 3x3 stem, §4.1
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(64, 2, stride=1)
        self.layer2 = self._make_layer(128, 2, stride=2)
        self.layer3 = self._make_layer(256, 2, stride=2)
        self.layer4 = self._make_layer(512, 2, stride=2)
        self.linear = nn.Linear(512, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor], Tensor]:
        out = F.relu(self.bn1(self.conv1(x)))  # no max-pool, §4.1
        t1 = self.layer1(out)  # (B, 64, 32, 32)
        t2 = self.layer2(t1)  # (B, 128, 16, 16)
        t3 = self.layer3(t2)  # (B, 256, 8, 8)
        t4 = self.layer4(t3)  # (B, 512, 4, 4)
        emb = F.adaptive_avg_pool2d(t4, 1).flatten(1)  # (B, 512, 4, 4) -> (B, 512)
        h = F.dropout(emb, self.head_dropout, self.training) if self.head_dropout > 0 else emb
        return self.linear(h), [t1, t2, t3, t4], emb
