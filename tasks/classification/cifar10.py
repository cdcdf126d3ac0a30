"""CIFAR-10 with ResNet-18, the paper's image classification experiment (§4.1).

Pool: the 50,000 training images (stable indices = torchvision's order); test: the 10,000
test images. Training augmentation, as in §4.1: "32 x 32 size random crop from 36 x 36
zero-padded images", i.e. ``pad`` = 2 pixels (``pad = 4``, 40 x 40, reproduces the popular
reimplementations), random horizontal flip, normalisation with the channel mean and std
estimated over the training set (computed from the loaded data, not hard-coded). Scans and
evaluation see the same images normalised but not augmented.

Data is read by torchvision from ``<data-root>/cifar-10-batches-py`` and downloaded only when
``--download`` is given.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision import transforms
from torchvision.datasets import CIFAR10

from albench.contracts import MC_DROPOUT, TaskData
from albench.errors import DatasetMissingError
from albench.registry import builtin
from albench.tasks.classification.common import ClassificationTask
from albench.tasks.classification.resident import ImageArrays
from albench.tasks.classification.resnet import ResNet18

__all__ = ["Cifar10Task", "channel_stats"]


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """(N, H, W, C) uint8 -> per-channel mean and std of the [0, 1]-scaled pixels."""
    x = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0  # (N*H*W, C)
    return x.mean(axis=0).tolist(), x.std(axis=0).tolist()


def _with_transform(ds: CIFAR10, transform: transforms.Compose) -> CIFAR10:
    """A view of ``ds`` sharing its image array, with its own transform."""
    view = copy.copy(ds)
    view.transform = transform
    return view


@builtin("cifar10", rank=0)
class Cifar10Task(ClassificationTask):
    """CIFAR-10 image classification with ResNet-18 (paper §4.1); metric accuracy."""

    provides = ClassificationTask.provides | {MC_DROPOUT}  # mc_dropout: head_dropout > 0
    tap_channels = ResNet18.tap_channels
    num_classes = 10
    image_shape = (3, 32, 32)
    sizes = (50_000, 10_000)  # §4.1
    throughput = 4000.0  # training images/s on one GPU, plain fp32 loop at batch 128 (estimate)
    # Without a benchmark table: ALConfig's and TrainConfig's defaults, which are §4.1's.
    default_schedule = {"al": {}, "train": {}}
    paper_results = {
        "metric": {
            "learn_loss": (0.9101, "§4.1, Fig. 4"),
            "entropy": (0.9059, "§4.1, Fig. 4"),
            "coreset": (0.9010, "§4.1, Fig. 4"),
            "random": (0.8764, "§4.1, Fig. 4"),
        },
        "rank_acc/predicted_loss": {"learn_loss": (0.9074, "§4.1, Fig. 5")},
    }

    def __init__(self, head_dropout: float = 0.0, pad: int = 2):
        self.pad = pad  # random-crop zero padding in pixels: §4.1's 36 x 36 images = 2
        # p of the dropout before the classifier: 0 is the paper's ResNet-18 (§4.1); > 0
        # provides mc_dropout (BALD, Gal et al. 2017); give every compared strategy the same.
        self.set_head_dropout(head_dropout)

    def datasets(self, root: str, download: bool) -> TaskData:
        try:
            raw = CIFAR10(root, train=True, download=download)
        except RuntimeError:
            path = Path(root).resolve() / "cifar-10-batches-py"
            raise DatasetMissingError(
                f"CIFAR-10 not found (or corrupted) at {path} (the python version: "
                "data_batch_1..5, test_batch, batches.meta); rerun with --download, or "
                "--data-root DIR where DIR/cifar-10-batches-py exists"
            ) from None
        mean, std = channel_stats(raw.data)
        self.pixel_stats = (tuple(mean), tuple(std))  # undone by generative_images
        normalize = [transforms.ToTensor(), transforms.Normalize(mean, std)]
        train_tf = transforms.Compose(
            [transforms.RandomCrop(32, padding=self.pad), transforms.RandomHorizontalFlip()]
            + normalize
        )
        eval_tf = transforms.Compose(normalize)
        test = CIFAR10(root, train=False, transform=eval_tf)
        arrays = ImageArrays(
            pool=torch.from_numpy(raw.data).permute(0, 3, 1, 2),  # (N, H, W, C) -> (N, C, H, W)
            pool_labels=torch.as_tensor(raw.targets),
            test=torch.from_numpy(test.data).permute(0, 3, 1, 2),
            test_labels=torch.as_tensor(test.targets),
            scale=1 / 255,
            mean=tuple(mean),
            std=tuple(std),
            pad=self.pad,  # §4.1: 32x32 crop from the 36x36 zero-padded image (pad 2)
            flip=True,
        )
        return TaskData(
            pool_train=_with_transform(raw, train_tf),
            pool_eval=_with_transform(raw, eval_tf),
            test=test,
            arrays=arrays,
        )

    def build_model(self) -> nn.Module:
        return ResNet18(self.num_classes, self.head_dropout)
