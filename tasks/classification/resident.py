"""Device-resident image classification data with on-device augmentation (issue: speed).

CIFAR-10 is 150 MB as uint8: it fits on any GPU, so the pool and test images are moved there
once and a batch is an index slice. The paper's augmentation (§4.1: 32x32 random crop from
the zero-padded image, 2 pixels by default, random horizontal flip, then normalisation with
the training set's channel mean and std) is done on the device, batched, with a seeded
generator: the same distribution as torchvision's RandomCrop(32, padding=pad) +
RandomHorizontalFlip, and the same
reproducibility, without a CPU DataLoader in the training loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from albench.contracts import DeviceData

__all__ = ["ImageArrays", "ResidentImages", "crop_flip"]


@dataclass(frozen=True)
class ImageArrays:
    """Raw images and labels of a classification task, before any transform."""

    pool: Tensor  # (N, C, H, W), uint8 or float, unnormalised
    pool_labels: Tensor  # (N,) int64
    test: Tensor  # (T, C, H, W)
    test_labels: Tensor  # (T,)
    scale: float  # multiply raw values by this to get [0, 1] (1/255 for uint8)
    mean: tuple[float, ...]  # per channel, of the [0, 1] pool pixels
    std: tuple[float, ...]
    pad: int  # random-crop padding in pixels (0: no crop)
    flip: bool  # random horizontal flip

    @property
    def nbytes(self) -> int:
        return sum(
            t.numel() * t.element_size()
            for t in (self.pool, self.pool_labels, self.test, self.test_labels)
        )


def crop_flip(x: Tensor, pad: int, flip: bool, generator: torch.Generator) -> Tensor:
    """Random crop of the zero-padded images back to their size, and a random h-flip.

    ``x`` (B, C, H, W); each image gets its own offsets in [0, 2 * pad] and a fair coin for
    the flip, drawn from ``generator`` (on x's device).
    """
    b, c, h, w = x.shape
    if pad > 0:
        padded = F.pad(x, (pad, pad, pad, pad))  # (B, C, H + 2p, W + 2p), zeros as torchvision
        oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=x.device)
        ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=x.device)
        rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B,1,H,1)
        cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B,1,1,W)
        bi = torch.arange(b, device=x.device)[:, None, None, None]
        ci = torch.arange(c, device=x.device)[None, :, None, None]
        x = padded[bi, ci, rows, cols]  # (B, C, H, W)
    if flip:
        coin = torch.rand(b, generator=generator, device=x.device) < 0.5
        x = torch.where(coin[:, None, None, None], x.flip(3), x)
    return x


class _Batches:
    """A re-iterable loader: every iteration is a new epoch drawn from the generator."""

    def __init__(
        self,
        owner: ResidentImages,
        split: str,
        indices: np.ndarray,
        batch_size: int,
        generator: torch.Generator | None,
        drop_last: bool,
        augment: bool,
    ):
        self.owner, self.split, self.batch_size = owner, split, batch_size
        self.indices = torch.as_tensor(indices, dtype=torch.long, device=owner.device)
        self.generator, self.drop_last, self.augment = generator, drop_last, augment

    def __len__(self) -> int:
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        idx = self.indices
        if self.generator is not None:  # shuffle
            idx = idx[torch.randperm(len(idx), generator=self.generator, device=idx.device)]
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self.owner.batch(
                self.split,
                idx[start : start + self.batch_size],
                self.generator if self.augment else None,
            )


class ResidentImages(DeviceData):
    """Pool and test images on one device; batches normalised (and augmented) there."""

    def __init__(self, arrays: ImageArrays, device: torch.device):
        self.device = device
        self.arrays = arrays
        self.images = {"pool": arrays.pool.to(device), "test": arrays.test.to(device)}
        self.labels = {"pool": arrays.pool_labels.to(device), "test": arrays.test_labels.to(device)}
        shape = (1, -1, 1, 1)
        self.mean = torch.tensor(arrays.mean, device=device).view(shape)
        self.std = torch.tensor(arrays.std, device=device).view(shape)
        self.nbytes = arrays.nbytes

    def batch(self, split: str, idx: Tensor, generator: torch.Generator | None):
        x = self.images[split].index_select(0, idx)  # (B, C, H, W), raw
        if generator is not None:
            x = crop_flip(x, self.arrays.pad, self.arrays.flip, generator)
        x = (x.float() * self.arrays.scale - self.mean) / self.std
        return x, self.labels[split].index_select(0, idx)

    def train_batches(self, indices: np.ndarray, batch_size: int, seed: int, drop_last: bool):
        generator = torch.Generator(device=self.device).manual_seed(seed)
        return _Batches(self, "pool", indices, batch_size, generator, drop_last, augment=True)

    def eval_batches(self, split: str, indices: np.ndarray, batch_size: int):
        return _Batches(self, split, indices, batch_size, None, False, augment=False)
