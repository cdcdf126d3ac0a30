"""What every classification task shares: cross-entropy per sample, softmax entropy, accuracy.

Paper §4.1: the target loss is the cross-entropy of each image, the entropy baseline is the
entropy of the softmax output, the metric is the classification accuracy on the test split.
A classification model returns ``(logits, taps, embedding)`` from ``forward``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from albench.contracts import (
    CLASS_LOGITS,
    EMBEDDING,
    ENTROPY,
    LOSS,
    TAPS,
    Metric,
    StepOutput,
    Task,
    TaskData,
)
from albench.tasks.classification.resident import ImageArrays, ResidentImages

__all__ = ["Accuracy", "ClassificationTask", "ImageTensorDataset", "softmax_entropy"]


def softmax_entropy(logits: Tensor) -> Tensor:
    """(B, C) logits -> (B,) entropy of the softmax in nats, computed stably in fp32."""
    logp = F.log_softmax(logits.float(), dim=1)
    return -(logp.exp() * logp).sum(dim=1)


class Accuracy(Metric):
    """Top-1 accuracy over the batches seen."""

    def __init__(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, out: StepOutput, batch: Any) -> None:
        _, y = batch
        self.correct += int((out.output.argmax(dim=1) == y).sum())
        self.total += int(y.numel())

    def compute(self) -> float:
        return self.correct / max(self.total, 1)


class ClassificationTask(Task):
    """Base for image classification: batches are ``(images, labels)``."""

    metric = "accuracy"
    metric_label = "accuracy"
    provides = frozenset({CLASS_LOGITS, EMBEDDING, ENTROPY, LOSS, TAPS})
    num_classes: int = 10
    image_shape: tuple[int, int, int] = (3, 32, 32)

    def step(self, model: nn.Module, batch: Any, train: bool) -> StepOutput:
        x, y = batch
        logits, taps, embedding = model(x)
        loss = F.cross_entropy(logits.float(), y, reduction="none")  # (B,), not reduced
        return StepOutput(output=logits, loss=loss, taps=list(taps), embedding=embedding)

    def uncertainty(self, out: StepOutput) -> Tensor:
        return softmax_entropy(out.output)

    def new_metric(self) -> Metric:
        return Accuracy()

    def device_data(self, data: TaskData, device: torch.device, max_bytes: int):
        arrays = data.arrays
        if not isinstance(arrays, ImageArrays) or arrays.nbytes > max_bytes:
            return None
        return ResidentImages(arrays, device)

    def example_batch(self, batch_size: int) -> Any:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch_size, *self.image_shape, generator=g)
        y = torch.randint(0, self.num_classes, (batch_size,), generator=g)
        return x, y


class ImageTensorDataset(Dataset):
    """Images held in memory as a float tensor (N, C, H, W) with labels and a transform."""

    def __init__(
        self, images: Tensor, labels: np.ndarray, transform: Callable[[Tensor], Tensor] | None
    ):
        self.images = images
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        x = self.images[i]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.labels[i]
