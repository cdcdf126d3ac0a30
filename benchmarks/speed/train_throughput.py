"""Training throughput of ResNet-18 on CIFAR-shaped data: albench's path vs a reference loop.

The reference is written the way public learning-loss reimplementations train: a torchvision
dataset of PIL images through a DataLoader with CPU transforms (RandomCrop(32, padding=4),
RandomHorizontalFlip, ToTensor, Normalize), fp32, batch 128. The albench path keeps the uint8
images on the device and augments there (``ResidentImages``), runs bf16 autocast and
channels_last on CUDA, and trains through ``albench.training.Learner.train``. Both train the
same ResNet-18 with the same learning-loss module and SGD settings, in the same process on the
same device, on the same generated images; one epoch of each, interleaved, ``--repeats``
times; the table gives median images/s and the ratio. Imports torch, torchvision and numpy
(no MLflow). The pieces of the reference are shared with ``al_cycle.py``.

    python benchmarks/speed/train_throughput.py --images 10000 --repeats 3 --out t.json

``--save-throughput`` also records the albench path's median as the ``cifar10`` entry of
``benchmarks/speed/throughput.json``, which ``albench plan`` uses for its time estimates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import _record
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from albench.config import TrainConfig
from albench.strategies.learn_loss import LearnLossStrategy, LossPredictionModule, ranking_loss
from albench.tasks.classification.cifar10 import Cifar10Task
from albench.tasks.classification.resident import ImageArrays, ResidentImages
from albench.training import Learner, accelerate

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # CIFAR-10 training set
REFERENCE_TRANSFORM = transforms.Compose(
    [
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ]
)
EVAL_TRANSFORM = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


class PILImages(Dataset):
    """CIFAR10-like: HWC uint8 arrays served as PIL images through CPU transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def cifar_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random (32, 32, 3) uint8 images and labels: CIFAR-10's shapes, no download."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)


def resident(images: np.ndarray, labels: np.ndarray, device: torch.device) -> ResidentImages:
    """The albench data path: the images as the pool, on ``device``, CIFAR augmentation."""
    arrays = ImageArrays(
        pool=torch.from_numpy(images).permute(0, 3, 1, 2),  # (N, H, W, C) -> (N, C, H, W)
        pool_labels=torch.as_tensor(labels),
        test=torch.zeros(1, 3, 32, 32, dtype=torch.uint8),
        test_labels=torch.zeros(1, dtype=torch.long),
        scale=1 / 255,
        mean=MEAN,
        std=STD,
        pad=4,
        flip=True,
    )
    return ResidentImages(arrays, device)


def reference_loader(dataset: Dataset, batch_size: int, workers: int, device, shuffle: bool):
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )


def reference_epoch(
    model: nn.Module,
    module: nn.Module | None,
    opt: torch.optim.Optimizer,
    loader: DataLoader,
    device: torch.device,
    prediction_loss: Callable[[Tensor, Tensor], Tensor] = ranking_loss,
) -> int:
    """One epoch as public reimplementations write it; returns the images seen."""
    model.train()
    if module is not None:
        module.train()
    seen = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits, taps, _ = model(x)
        loss = F.cross_entropy(logits, y, reduction="none")  # (B,)
        total = loss.mean()
        if module is not None:
            total = total + prediction_loss(module(taps), loss)
        opt.zero_grad()
        total.backward()
        opt.step()
        seen += len(y)
    return seen


def sgd(*modules: nn.Module | None) -> torch.optim.SGD:
    """The paper's optimiser (§4.1) over every given module's parameters."""
    params = [p for m in modules if m is not None for p in m.parameters()]
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)


def albench_config(device: torch.device, batch_size: int, compile: bool) -> TrainConfig:
    """One epoch of albench's training with the speed settings the device supports."""
    on_cuda = device.type == "cuda"
    return TrainConfig(
        epochs=1,
        batch_size=batch_size,
        lr=0.1,
        lr_milestones=(),
        stop_grad_epoch=10**9,
        precision="bf16" if on_cuda else "fp32",
        channels_last=on_cuda,
        compile=compile,
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=min(8, os.cpu_count() or 1),
        help="DataLoader workers of the reference loop",
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile the albench path")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--save-throughput",
        action="store_true",
        help="record the albench median for `albench plan` in benchmarks/speed/throughput.json",
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    images, labels = cifar_like(args.images)
    task = Cifar10Task()

    # ---- reference: DataLoader + CPU transforms + fp32
    torch.manual_seed(0)
    ref_model = task.build_model().to(device)
    ref_module = LossPredictionModule(task.tap_channels).to(device)
    ref_opt = sgd(ref_model, ref_module)
    loader = reference_loader(
        PILImages(images, labels, REFERENCE_TRANSFORM), args.batch_size, args.workers, device, True
    )

    # ---- albench: resident data, on-device augmentation, bf16 + channels_last on CUDA
    torch.manual_seed(0)
    model = task.build_model().to(device)
    strategy = LearnLossStrategy()
    module = strategy.auxiliary(task).to(device)
    cfg = albench_config(device, args.batch_size, args.compile)
    forward, compile_note = accelerate(task, model, cfg, device)
    batches = resident(images, labels, device).train_batches(
        np.arange(args.images), args.batch_size, seed=0, drop_last=False
    )

    def run_albench() -> float:
        sync(device)
        start = time.perf_counter()
        Learner(task, strategy, model, module, device, forward).train(batches, cfg)
        sync(device)
        return args.images / (time.perf_counter() - start)

    def run_reference() -> float:
        sync(device)
        start = time.perf_counter()
        seen = reference_epoch(ref_model, ref_module, ref_opt, loader, device)
        sync(device)
        return seen / (time.perf_counter() - start)

    run_albench(), run_reference()  # warm-up: cudnn autotuning, worker start, compilation
    ours, ref = [], []
    for _ in range(args.repeats):
        ours.append(run_albench())
        ref.append(run_reference())
    m_ours, m_ref = statistics.median(ours), statistics.median(ref)
    print(
        f"device: {_record.device_name(device)}; torch {torch.__version__}; {args.images} "
        f"images, batch {args.batch_size}, {args.repeats} interleaved repeats; "
        f"compile: {compile_note}"
    )
    print(f"{'path':>10s} {'median img/s':>13s}")
    print(f"{'reference':>10s} {m_ref:13.0f}")
    print(f"{'albench':>10s} {m_ours:13.0f}")
    print(f"{'ratio':>10s} {m_ours / m_ref:12.2f}x")
    _record.write(
        args.out,
        device,
        images=args.images,
        batch_size=args.batch_size,
        compile=compile_note,
        albench_img_s=ours,
        reference_img_s=ref,
        ratio=m_ours / m_ref,
    )
    if args.save_throughput:
        save_throughput("cifar10", m_ours)


def save_throughput(task: str, images_per_s: float) -> None:
    """Merge ``{task: images/s}`` into throughput.json (what the runner's estimates read)."""
    path = Path(__file__).resolve().parent / "throughput.json"
    table = json.loads(path.read_text()) if path.is_file() else {}
    table[task] = round(images_per_s, 1)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    main()
