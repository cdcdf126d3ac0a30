"""What every classification task shares: cross-entropy per sample, softmax entropy, accuracy.

Paper §4.1: the target loss is the cross-entropy of each image, the entropy baseline is the
entropy of the softmax output, the metric is the classification accuracy on the test split.
A classification model returns ``(logits, taps, embedding)`` from ``forward`` and its logits
are one linear layer of the embedding (:data:`LINEAR_HEAD`: the embedding is the last layer's
input, as BADGE's and EGL's gradient embeddings assume). A model that names that layer
``linear`` and its dropout probability ``head_dropout`` (the built-in ones) also hands it to
strategies as ``StepOutput.head``; with ``head_dropout`` > 0 (the task parameter of
``cifar10`` and ``digits``, 0 by default so the paper's ResNet-18 is unchanged) the task
provides :data:`MC_DROPOUT`, for BALD's Monte-Carlo dropout passes of that layer.
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
    IMAGES,
    LINEAR_HEAD,
    LOSS,
    MC_DROPOUT,
    TAPS,
    LinearHead,
    Metric,
    StepOutput,
    Task,
    TaskData,
)
from albench.errors import ConfigError
from albench.tasks.classification.resident import ImageArrays, ResidentImages
from albench.tasks.images import resize_square

__all__ = [
    "Accuracy",
    "BalancedAccuracy",
    "ClassificationTask",
    "ImageTensorDataset",
    "Normalize",
    "PaddedCrop",
    "classifier_head",
    "softmax_entropy",
]


def softmax_entropy(logits: Tensor) -> Tensor:
    """(B, C) logits -> (B,) entropy of the softmax in nats, computed stably in fp32."""
    logp = F.log_softmax(logits.float(), dim=1)
    return -(logp.exp() * logp).sum(dim=1)


def classifier_head(model: nn.Module) -> LinearHead | None:
    """The model's last layer as a :class:`~albench.contracts.LinearHead` when the model names
    it ``linear`` (an ``nn.Linear`` fed by the embedding) and its dropout ``head_dropout``."""
    linear = getattr(model, "linear", None)
    if not isinstance(linear, nn.Linear):
        return None
    return LinearHead(linear, float(getattr(model, "head_dropout", 0.0)))


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


class BalancedAccuracy(Metric):
    """Balanced accuracy: the mean over the classes present in the labels of the share of
    each class predicted correctly (its recall), as scikit-learn's
    ``balanced_accuracy_score``; the metric of a long-tailed pool's balanced test split."""

    def __init__(self, num_classes: int) -> None:
        self.correct = np.zeros(num_classes, dtype=np.int64)
        self.total = np.zeros(num_classes, dtype=np.int64)

    def update(self, out: StepOutput, batch: Any) -> None:
        _, y = batch
        hit = (out.output.argmax(dim=1) == y).cpu().numpy()
        y = y.cpu().numpy()
        np.add.at(self.total, y, 1)
        np.add.at(self.correct, y, hit.astype(np.int64))

    def compute(self) -> float:
        seen = self.total > 0
        return float((self.correct[seen] / self.total[seen]).mean()) if seen.any() else 0.0


class ClassificationTask(Task):
    """Base for image classification: batches are ``(images, labels)``."""

    metric = "accuracy"
    metric_label = "accuracy"
    equivalence_margin = 0.005  # half a point of accuracy (CIFAR-10: 50 of 10,000 test images)
    provides = frozenset({CLASS_LOGITS, EMBEDDING, ENTROPY, IMAGES, LINEAR_HEAD, LOSS, TAPS})
    num_classes: int = 10
    image_shape: tuple[int, int, int] = (3, 32, 32)
    generative_size = 32  # the images as they are (CIFAR-10: VAAL's own 32x32 input)
    head_dropout: float = 0.0  # p of the dropout before the classifier (see set_head_dropout)
    # per-channel mean and std of the [0, 1] pixels that batches are normalised with; set by
    # datasets() (generative_images undoes the normalisation); None: batches already in [0, 1]
    pixel_stats: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    def set_head_dropout(self, p: float) -> None:
        """Dropout probability before the linear classifier, for a task whose class
        ``provides`` :data:`MC_DROPOUT`: this instance provides it only when ``p`` > 0."""
        if not 0.0 <= p < 1.0:
            raise ConfigError(
                f"tasks.{self.name}.params.head_dropout = {p!r} is invalid: expected 0 <= p < 1"
            )
        self.head_dropout = float(p)
        if p == 0:
            self.provides = type(self).provides - {MC_DROPOUT}  # no dropout, no MC passes

    def step(self, model: nn.Module, batch: Any, train: bool) -> StepOutput:
        x, y = batch
        logits, taps, embedding = model(x)
        loss = F.cross_entropy(logits.float(), y, reduction="none")  # (B,), not reduced
        head = classifier_head(model)
        return StepOutput(output=logits, loss=loss, taps=list(taps), embedding=embedding, head=head)

    def uncertainty(self, out: StepOutput) -> Tensor:
        return softmax_entropy(out.output)

    def outcome(self, out: StepOutput, batch: Any) -> dict[str, Tensor]:
        """The true class and the predicted one (the highest logit)."""
        return {"label": batch[1], "prediction": out.output.argmax(dim=1)}

    def new_metric(self) -> Metric:
        return Accuracy()

    def generative_images(self, batch: Any) -> Tensor:
        x = batch[0].float()  # (B, C, H, W), normalised with pixel_stats
        if self.pixel_stats is not None:
            mean, std = (torch.tensor(v, device=x.device) for v in self.pixel_stats)
            x = x * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)  # back to [0, 1] pixels
        return resize_square(x, self.generative_size).clamp(0.0, 1.0)  # (B, C, S, S)

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


class Normalize:
    """``(x - mean) / std`` per channel of a float image (C, H, W): torchvision's
    ``transforms.Normalize`` on a tensor, bit for bit, without importing torchvision (whose
    package import, models and ``torch._dynamo`` included, costs about 2 s of CPU in every
    process that runs a digits job)."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, x: Tensor) -> Tensor:
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        return x.sub(mean).div(std)


class PaddedCrop:
    """Zero-pad an image (C, H, W) by ``pad`` on every side, cut a random ``size`` x ``size``
    window (row offset drawn first, then column, each from torch's global generator), then
    ``then``: torchvision's ``Compose([RandomCrop(size, padding=pad), then])`` on a tensor,
    the same draws and the same pixels, without importing torchvision."""

    def __init__(self, size: int, pad: int, then: Callable[[Tensor], Tensor]):
        self.size, self.pad, self.then = size, pad, then

    def __call__(self, x: Tensor) -> Tensor:
        x = F.pad(x, [self.pad] * 4, mode="constant", value=0.0)
        height, width = x.shape[-2:]
        if (height, width) == (self.size, self.size):  # nothing to draw (as torchvision)
            return self.then(x)
        top = int(torch.randint(0, height - self.size + 1, size=(1,)).item())
        left = int(torch.randint(0, width - self.size + 1, size=(1,)).item())
        return self.then(x[..., top : top + self.size, left : left + self.size])


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
