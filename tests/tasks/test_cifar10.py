"""cifar10 on files the test writes in the CIFAR-10 python format (no download)."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10

from albench.cli import main
from albench.errors import DatasetMissingError
from albench.strategies.learn_loss import LossPredictionModule
from albench.tasks.classification.cifar10 import Cifar10Task, channel_stats
from albench.tasks.classification.resnet import ResNet18
from albench.tracking import Tracker

PER_BATCH, TEST = 6, 8  # images per training batch file (5 files) and in test_batch


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def cifar_root(tmp_path, monkeypatch) -> tuple[Path, np.ndarray, list[int]]:
    """A CIFAR-10 tree in torchvision's layout; the checksums point at the generated files."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5 * PER_BATCH + TEST, 3 * 32 * 32), dtype=np.uint8)
    labels = rng.integers(0, 10, size=len(images)).tolist()
    train_list = []
    for b in range(5):
        sl = slice(b * PER_BATCH, (b + 1) * PER_BATCH)
        path = folder / f"data_batch_{b + 1}"
        path.write_bytes(pickle.dumps({"data": images[sl], "labels": labels[sl]}))
        train_list.append([path.name, _md5(path)])
    test = folder / "test_batch"
    test.write_bytes(pickle.dumps({"data": images[-TEST:], "labels": labels[-TEST:]}))
    meta = folder / "batches.meta"
    meta.write_bytes(pickle.dumps({"label_names": [f"class{i}" for i in range(10)]}))
    monkeypatch.setattr(CIFAR10, "train_list", train_list)
    monkeypatch.setattr(CIFAR10, "test_list", [[test.name, _md5(test)]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": _md5(meta)})
    return tmp_path, images, labels


def test_reads_the_python_format_in_order_with_training_set_statistics(cifar_root):
    root, images, labels = cifar_root
    data = Cifar10Task().datasets(str(root), download=False)
    n = 5 * PER_BATCH
    assert data.pool_size == n and len(data.test) == TEST
    hwc = images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, 3072) -> (N, H, W, C)
    mean, std = channel_stats(hwc[:n])  # training images only, never the test split
    x, y = data.pool_eval[7]
    expected = (
        torch.from_numpy(hwc[7]).permute(2, 0, 1) / 255.0 - torch.tensor(mean)[:, None, None]
    ) / torch.tensor(std)[:, None, None]
    assert y == labels[7] and torch.allclose(x, expected, atol=1e-5)
    assert data.test[3][1] == labels[n + 3]
    assert data.arrays.pool.shape == (n, 3, 32, 32) and data.arrays.pad == 2 and data.arrays.flip
    assert torch.equal(data.arrays.pool[7], torch.from_numpy(hwc[7]).permute(2, 0, 1))
    xa, ya = data.pool_train[7]  # augmented: same label, same shape
    assert xa.shape == (3, 32, 32) and ya == labels[7]


def test_missing_tree_names_the_path_and_download(tmp_path):
    with pytest.raises(DatasetMissingError, match="--download") as info:
        Cifar10Task().datasets(str(tmp_path), download=False)
    assert str(tmp_path / "cifar-10-batches-py") in str(info.value)


def test_missing_cifar10_on_the_command_line_is_one_line_exit_2(mlflow_uri, tmp_path, capsys):
    code = main(
        ["run", "--tasks", "cifar10", "--device", "cpu", "--data-root", str(tmp_path / "none")]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--download" in err
    assert Tracker().runs("paper") == []


def test_resnet18_size_taps_and_loss_module():
    model = ResNet18(10)
    assert sum(p.numel() for p in model.parameters()) == 11_173_962
    logits, taps, emb = model(torch.randn(2, 3, 32, 32))
    assert [tuple(t.shape[1:]) for t in taps] == [
        (64, 32, 32),
        (128, 16, 16),
        (256, 8, 8),
        (512, 4, 4),
    ]
    assert logits.shape == (2, 10) and emb.shape == (2, 512)
    module = LossPredictionModule(ResNet18.tap_channels)
    assert sum(p.numel() for p in module.parameters()) == 123_905
