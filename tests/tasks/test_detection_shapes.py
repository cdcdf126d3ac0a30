"""The embedded ``shapes`` task: generated data, its cache, the dataset and the task."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from albench.strategies.random import RandomStrategy
from albench.tasks.detection import shapes
from albench.tasks.detection.shapes import (
    DIFFICULT_PX,
    MAX_OVERLAP,
    ShapesDataset,
    ShapesTask,
    generate,
    load_or_generate,
)
from albench.training import Learner


def test_generation_is_deterministic_per_seed_and_split():
    a, b = generate(12, 64, seed=0, split="pool"), generate(12, 64, seed=0, split="pool")
    for key in ("images", "boxes", "labels", "difficult"):
        assert np.array_equal(getattr(a, key), getattr(b, key))
    assert not np.array_equal(a.images, generate(12, 64, seed=1, split="pool").images)
    assert not np.array_equal(a.images, generate(12, 64, seed=0, split="test").images)


def test_generated_objects_follow_the_recipe():
    data = generate(200, 64, seed=3, split="pool")
    assert data.images.shape == (200, 64, 64, 3) and data.images.dtype == np.uint8
    real = data.labels > 0
    regular = real & ~data.difficult
    assert set(np.unique(data.labels[real])) == {1, 2, 3}
    assert 1 <= regular.sum(1).min() and regular.sum(1).max() <= 4  # 1 to 4 regular objects
    assert 0.3 < data.difficult.any(1).mean() < 0.7  # about half the images have a tiny one
    boxes = data.boxes
    extent = (boxes[..., 2:] - boxes[..., :2]).max(-1)  # (N, M) longest side in pixels
    assert (boxes[real] >= 0).all() and (boxes[real] <= 64).all()
    assert (extent[data.difficult] < DIFFICULT_PX).all() and (extent[regular] >= DIFFICULT_PX).all()
    assert not data.difficult[~real].any() and (boxes[~real] == 0).all()  # clean padding
    for img_boxes, keep in zip(boxes, real, strict=True):  # overlaps stay moderate
        b = img_boxes[keep]
        lt = np.maximum(b[:, None, :2], b[None, :, :2])
        rb = np.minimum(b[:, None, 2:], b[None, :, 2:])
        inter = np.clip(rb - lt, 0, None).prod(-1)
        area = (b[:, 2:] - b[:, :2]).prod(-1)
        iou = inter / (area[:, None] + area[None, :] - inter)
        off = ~np.eye(len(b), dtype=bool)
        assert (iou[off] <= MAX_OVERLAP + 1e-9).all()
        assert (inter[off] <= 0.5 * np.minimum(area[:, None], area[None, :])[off] + 1e-9).all()


def test_objects_are_drawn_inside_their_boxes():
    """Pixels far from the background colour exist inside each regular box (it is visible)."""
    data = generate(30, 64, seed=5, split="test")
    for image, boxes, labels, difficult in zip(
        data.images, data.boxes, data.labels, data.difficult, strict=True
    ):
        for box, label, dif in zip(boxes, labels, difficult, strict=True):
            if label == 0 or dif:
                continue
            x1, y1, x2, y2 = box.astype(int)
            inside = image[y1:y2, x1:x2].reshape(-1, 3).astype(int)
            corner = image[:3, :3].reshape(-1, 3).astype(int).mean(0)
            assert (np.abs(inside - corner).sum(1) > 60).mean() > 0.2


def test_cache_is_reused_keyed_by_parameters_and_written_atomically(tmp_path, monkeypatch):
    first = load_or_generate(tmp_path, 10, 64, seed=0, split="pool")
    files = list((tmp_path / "shapes").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"

    def refuse(*args, **kwargs):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(shapes, "generate", refuse)
    again = load_or_generate(tmp_path, 10, 64, seed=0, split="pool")
    assert np.array_equal(first.images, again.images) and np.array_equal(first.boxes, again.boxes)
    monkeypatch.undo()
    load_or_generate(tmp_path, 10, 64, seed=1, split="pool")  # another seed: another file
    assert len(list((tmp_path / "shapes").glob("*.npz"))) == 2
    assert not list((tmp_path / "shapes").glob("*.tmp"))


def _load(root: str) -> np.ndarray:
    return load_or_generate(root, 40, 64, seed=7, split="pool").images


def test_parallel_processes_share_one_cache_file(tmp_path):
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        results = list(pool.map(_load, [str(tmp_path)] * 4))
    assert all(np.array_equal(results[0], r) for r in results[1:])
    assert len(list((tmp_path / "shapes").iterdir())) == 1  # no temporary file left behind


def test_dataset_items_and_flip_augmentation():
    data = generate(4, 64, seed=0, split="pool")
    plain, flipped = ShapesDataset(data), ShapesDataset(data, v2.RandomHorizontalFlip(p=1.0))
    image, target = plain[2]
    n = int((data.labels[2] > 0).sum())
    assert image.shape == (3, 64, 64) and image.dtype == torch.uint8
    assert target["boxes"].shape == (n, 4) and target["labels"].shape == (n,)
    f_image, f_target = flipped[2]
    assert torch.equal(f_image, image.flip(-1))
    mirrored = torch.stack(
        [64 - target["boxes"][:, 2], target["boxes"][:, 1], 64 - target["boxes"][:, 0]]
        + [target["boxes"][:, 3]],
        dim=1,
    )
    torch.testing.assert_close(f_target["boxes"], mirrored)
    assert torch.equal(f_target["labels"], target["labels"])
    assert torch.equal(f_target["difficult"], target["difficult"])


def test_task_datasets_sizes_and_a_training_step(tmp_path):
    task = ShapesTask(pool_size=24, test_size=8)
    data = task.datasets(str(tmp_path), download=False)
    assert (data.pool_size, len(data.test)) == task.sizes == (24, 8)
    batch = task.collate([data.pool_train[i] for i in range(6)])
    torch.manual_seed(0)
    model = task.build_model()
    out = task.step(model, batch, train=True)
    assert out.loss.shape == (6,) and torch.isfinite(out.loss).all()
    assert [t.shape[1] for t in out.taps] == list(task.tap_channels)
    learner = Learner(task, RandomStrategy(), model, None, torch.device("cpu"))
    result = learner.evaluate([task.collate([data.test[i] for i in range(8)])])
    assert 0 <= result.metric <= 1 and result.scores["entropy"].shape == (8,)


@pytest.mark.parametrize("width", [8, 16])
def test_tap_channels_follow_the_width(width):
    task = ShapesTask(width=width)
    model = task.build_model()
    out = task.step(model, task.example_batch(2), train=False)
    assert tuple(t.shape[1] for t in out.taps) == task.tap_channels
