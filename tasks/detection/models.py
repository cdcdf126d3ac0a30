"""The detectors: torchvision's SSD300 (VGG-16) for ``voc`` and a small SSD for ``shapes``.

SSD300 (paper §4.2, Liu et al. 2016) is torchvision's ``ssd300_vgg16`` with 21 classes
(26,285,486 parameters). Every VGG layer is trained, as in ssd.pytorch (the code the paper
used); torchvision would freeze conv1 when it loads ImageNet weights itself.

Its VGG-16 backbone starts from ImageNet weights when they are on disk, and is never
downloaded here: ``backbone_weights = "auto"`` looks for torchvision's
``VGG16_Weights.IMAGENET1K_FEATURES`` file (ported from ssd.pytorch) in torch's hub cache
(``$TORCH_HOME/hub/checkpoints``); a path loads that file instead, either a torchvision VGG-16
state dict (``features.N.*`` keys) or ssd.pytorch's ``vgg16_reducedfc.pth`` (``N.*`` keys,
with the pretrained, subsampled fc6/fc7); ``"none"`` trains from scratch. When it trains
from scratch the ``voc`` task warns in the log and records ``task_info.backbone = scratch``
in MLflow: SSD300 from scratch on 1,000 images is far below the paper's numbers.

The ``shapes`` detector is the same torchvision SSD class (same head, anchors, box coder,
matching, loss and post-processing) on :class:`SmallBackbone`, a 5-map conv-BN-ReLU network
sized for 64-pixel images on a CPU.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import VGG16_Weights
from torchvision.models.detection import ssd300_vgg16
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.ssd import SSD

from albench.errors import ConfigError
from albench.tasks.detection.ssd import SSDNet

__all__ = [
    "SSD300_TAP_CHANNELS",
    "SmallBackbone",
    "build_small_ssd",
    "build_ssd300",
    "resolve_backbone_weights",
    "vgg_to_ssd300_state",
]

# conv4_3, conv7 (fc7), conv8_2, conv9_2, conv10_2, conv11_2 (Liu et al. 2016, Fig. 2)
SSD300_TAP_CHANNELS = (512, 1024, 512, 256, 256, 256)
_MAXPOOL4 = 23  # index of pool4 in torchvision's vgg16().features
_FC6, _FC7 = 31, 33  # ssd.pytorch's vgg16_reducedfc: fc6 (dilated 3x3) and fc7 (1x1) convs


def resolve_backbone_weights(spec: str) -> Path | None:
    """The ImageNet VGG-16 file to start from, or None to train from scratch.

    ``"auto"``: torchvision's cached IMAGENET1K_FEATURES file if present; ``"none"``: None;
    anything else: a path that must exist.
    """
    if spec == "none":
        return None
    if spec == "auto":
        name = Path(VGG16_Weights.IMAGENET1K_FEATURES.url).name
        cached = Path(torch.hub.get_dir()) / "checkpoints" / name
        return cached if cached.is_file() else None
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"tasks.voc.params.backbone_weights = {spec!r}: no such file; give a VGG-16 state "
            "dict (.pth), 'auto' (torchvision's cache under $TORCH_HOME) or 'none' (scratch)"
        )
    return path


def vgg_to_ssd300_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Map a VGG-16 state dict onto the keys of torchvision's SSD300 (``backbone.*``).

    torchvision's SSD300 keeps VGG ``features[:23]`` (up to conv4_3) as ``backbone.features``
    and ``features[23:30]`` (pool4 .. conv5_3) as ``backbone.extra.0.0-6``, followed by the
    fc6/fc7 convolutions at ``backbone.extra.0.7.1`` / ``.3``.
    """
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "features":  # torchvision layout: features.N.weight, classifier dropped
            parts = parts[1:]
        elif not parts[0].isdigit():
            continue  # classifier.* and anything else has no place in SSD300
        index, rest = int(parts[0]), ".".join(parts[1:])
        if index < _MAXPOOL4:
            out[f"backbone.features.{index}.{rest}"] = value
        elif index < 30:
            out[f"backbone.extra.0.{index - _MAXPOOL4}.{rest}"] = value
        elif index == _FC6:
            out[f"backbone.extra.0.7.1.{rest}"] = value
        elif index == _FC7:
            out[f"backbone.extra.0.7.3.{rest}"] = value
    return out


def build_ssd300(num_classes: int = 21, weights: Path | None = None) -> SSDNet:
    """torchvision's SSD300-VGG16, all layers trainable, VGG weights from ``weights``."""
    ssd = ssd300_vgg16(weights=None, weights_backbone=None, num_classes=num_classes)
    if weights is not None:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        mapped = vgg_to_ssd300_state(state)
        conv_keys = [k for k in mapped if k.startswith("backbone.features.")]
        if len(conv_keys) != 20:  # 10 convolutions up to conv4_3, weight and bias
            raise ConfigError(
                f"{weights}: not a VGG-16 state dict ({len(conv_keys)} of the 20 conv1-conv4 "
                "tensors found); give torchvision's vgg16 weights or ssd.pytorch's "
                "vgg16_reducedfc.pth"
            )
        ssd.load_state_dict(mapped, strict=False)
    return SSDNet(ssd, embedding_tap=1)  # tap 1 = conv7/fc7, the core-set feature (§4.2)


def _conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SmallBackbone(nn.Module):
    """Five source maps at strides 4, 8, 16, 32, 64 (16x16 .. 1x1 for 64-pixel images).

    Each stage halves the resolution; ``out_channels`` is what torchvision's SSD reads to
    build its head.
    """

    def __init__(self, width: int = 16):
        super().__init__()
        w = width
        self.stem = nn.Sequential(
            _conv_bn(3, w, 2), _conv_bn(w, 2 * w, 2), _conv_bn(2 * w, 2 * w, 1)
        )
        self.stages = nn.ModuleList(
            [
                _conv_bn(2 * w, 4 * w, 2),
                nn.Sequential(_conv_bn(4 * w, 4 * w, 2), _conv_bn(4 * w, 4 * w, 1)),
                _conv_bn(4 * w, 4 * w, 2),
                _conv_bn(4 * w, 4 * w, 2),
            ]
        )
        self.out_channels = list(self.channels(width))

    @staticmethod
    def channels(width: int) -> tuple[int, ...]:
        """Channels of the five source maps (the loss module's taps) for ``width``."""
        return (2 * width, 4 * width, 4 * width, 4 * width, 4 * width)

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        x = self.stem(x)  # (B, 2w, S/4, S/4)
        maps = [x]
        for stage in self.stages:  # S/8, S/16, S/32, S/64
            x = stage(x)
            maps.append(x)
        return OrderedDict((str(i), m) for i, m in enumerate(maps))


def build_small_ssd(
    num_classes: int,
    image_size: int,
    width: int = 16,
    detections_per_img: int = 50,  # a shapes image holds at most a handful of objects
    topk_candidates: int = 100,  # per class before NMS (SSD300: 400 for up to ~40 objects)
) -> SSDNet:
    """torchvision's SSD on :class:`SmallBackbone`, anchor scales for 64-pixel images."""
    anchors = DefaultBoxGenerator(
        [[2], [2, 3], [2, 3], [2], [2]],  # 4 or 6 default boxes per cell, as SSD300
        scales=[0.1, 0.2, 0.35, 0.55, 0.75, 0.95],  # objects of ~6 to ~45 px at 64 px
    )
    ssd = SSD(
        SmallBackbone(width),
        anchors,
        (image_size, image_size),
        num_classes,
        image_mean=[0.5, 0.5, 0.5],  # [0, 1] pixels -> about [-2, 2]; BatchNorm does the rest
        image_std=[0.25, 0.25, 0.25],
        detections_per_img=detections_per_img,
        topk_candidates=topk_candidates,
    )
    return SSDNet(ssd, embedding_tap=1)  # the 8x8 map, the analogue of conv7
