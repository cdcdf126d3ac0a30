"""Accuracy parity: albench's fast training path learns as well as a reference loop.

Fast path: device-resident uint8 images with on-device crop/flip (``ResidentImages``),
``Learner.train`` with bf16 autocast and channels_last on CUDA. Reference: torchvision
transforms on the CPU through a DataLoader, fp32, a plain loop. Same model initialisation,
same optimiser, same generated CIFAR-shaped data whose class is carried by a colour the
augmentation cannot remove; both must reach the same test accuracy within noise. On CUDA the
model is the paper's ResNet-18; on the CPU a small CNN keeps the test short (same contract:
logits, taps, embedding).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

from albench.config import TrainConfig
from albench.strategies.learn_loss import LearnLossStrategy
from albench.tasks.classification.cifar10 import Cifar10Task
from albench.tasks.classification.common import ImageTensorDataset
from albench.tasks.classification.resident import ImageArrays, ResidentImages
from albench.training import Learner, accelerate

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]
N_TRAIN, N_TEST = 2048, 1024


class SmallNet(nn.Module):
    tap_channels = (16, 32)

    def __init__(self):
        super().__init__()
        self.c1 = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.c2 = nn.Sequential(nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        t1 = self.c1(x)  # (B, 16, 16, 16)
        t2 = self.c2(t1)  # (B, 32, 8, 8)
        emb = t2.mean(dim=(2, 3))  # (B, 32, 8, 8) -> (B, 32)
        return self.fc(emb), [t1, t2], emb


class ParityTask(Cifar10Task):
    """cifar10's loss, entropy and metric with the model chosen per device."""

    def __init__(self, small: bool):
        self.small = small

    def build_model(self) -> nn.Module:
        return SmallNet() if self.small else super().build_model()

    @property
    def tap_channels(self):  # type: ignore[override]
        return SmallNet.tap_channels if self.small else super().tap_channels


def _data(seed: int = 0):
    """Class c: a per-class colour plus strong pixel noise (uint8, (N, 3, 32, 32))."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(110, 146, size=(10, 3))
    labels = rng.integers(0, 10, N_TRAIN + N_TEST)
    noise = rng.normal(0, 100, size=(len(labels), 3, 32, 32))
    images = np.clip(colours[labels][:, :, None, None] + noise, 0, 255).astype(np.uint8)
    return torch.from_numpy(images), torch.from_numpy(labels)


def _accuracy(model, x, y, device) -> float:
    model.eval()
    with torch.no_grad():
        logits = model(x.to(device))[0]
    return float((logits.argmax(1).cpu() == y).float().mean())


@pytest.mark.parametrize("device_name", DEVICES)
def test_fast_path_reaches_the_reference_accuracy(device_name):
    if device_name == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    device = torch.device(device_name)
    on_cuda = device.type == "cuda"
    images, labels = _data()
    mean = tuple((images[:N_TRAIN].float() / 255).mean(dim=(0, 2, 3)).tolist())
    std = tuple((images[:N_TRAIN].float() / 255).std(dim=(0, 2, 3)).tolist())
    test_x = ((images[N_TRAIN:].float() / 255) - torch.tensor(mean)[:, None, None]) / torch.tensor(
        std
    )[:, None, None]
    test_y = labels[N_TRAIN:]
    task = ParityTask(small=not on_cuda)
    epochs = 8
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=64,
        lr=0.05,
        lr_milestones=(6,),
        stop_grad_epoch=epochs,
        precision="bf16" if on_cuda else "fp32",
        channels_last=on_cuda,
    )

    # ---- albench's fast path
    torch.manual_seed(0)
    model = task.build_model().to(device)
    strategy = LearnLossStrategy()
    aux = strategy.auxiliary(task).to(device)
    forward, _ = accelerate(task, model, cfg, device)
    arrays = ImageArrays(
        pool=images[:N_TRAIN],
        pool_labels=labels[:N_TRAIN],
        test=images[N_TRAIN:],
        test_labels=test_y,
        scale=1 / 255,
        mean=mean,
        std=std,
        pad=4,
        flip=True,
    )
    batches = ResidentImages(arrays, device).train_batches(
        np.arange(N_TRAIN), cfg.batch_size, seed=0, drop_last=False
    )
    Learner(task, strategy, model, aux, device, forward).train(batches, cfg)
    fast = _accuracy(model, test_x, test_y, device)

    # ---- reference: CPU transforms, DataLoader, fp32, plain loop
    torch.manual_seed(0)
    ref = task.build_model().to(device)
    ref_aux = strategy.auxiliary(task).to(device)
    opt = torch.optim.SGD(
        list(ref.parameters()) + list(ref_aux.parameters()),
        lr=cfg.lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
    )
    tf = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.Normalize(mean, std),
        ]
    )
    train = ImageTensorDataset(images[:N_TRAIN].float() / 255, labels[:N_TRAIN].numpy(), tf)
    loader = DataLoader(train, batch_size=cfg.batch_size, shuffle=True)
    schedule = torch.optim.lr_scheduler.MultiStepLR(opt, cfg.lr_milestones, cfg.lr_gamma)
    for _ in range(epochs):
        ref.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits, taps, _ = ref(x)
            loss = F.cross_entropy(logits, y, reduction="none")
            total = loss.mean() + strategy.prediction_loss(ref_aux(taps), loss)
            opt.zero_grad()
            total.backward()
            opt.step()
        schedule.step()
    reference = _accuracy(ref, test_x, test_y, device)

    assert reference > 0.75, reference  # the data is learnable in this budget
    assert abs(fast - reference) < 0.04, (fast, reference)  # same accuracy within noise
