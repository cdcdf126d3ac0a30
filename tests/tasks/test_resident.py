"""Device-resident classification data: on-device crop/flip vs torchvision's CPU transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from albench.tasks.classification.resident import ImageArrays, ResidentImages, crop_flip

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def _device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    return torch.device(name)


def _marked_pool(n: int, pad: int = 2) -> ImageArrays:
    """Image i: channel 0 constant i % 251 (its identity), channel 1 a two-pixel marker
    (100 then 200, left to right) at row 14, cols 15-16, far enough from the border to
    survive any 4-pixel shift."""
    x = torch.zeros(n, 2, 32, 32, dtype=torch.uint8)
    x[:, 0] = (torch.arange(n) % 251).to(torch.uint8)[:, None, None]
    x[:, 1, 14, 15], x[:, 1, 14, 16] = 100, 200
    labels = (torch.arange(n) % 251) % 10  # a function of the identity
    return ImageArrays(
        pool=x,
        pool_labels=labels,
        test=x[:5],
        test_labels=labels[:5],
        scale=1.0,
        mean=(0.0, 0.0),
        std=(1.0, 1.0),
        pad=pad,
        flip=True,
    )


def _decode(x: torch.Tensor, pad: int) -> tuple[np.ndarray, ...]:
    """Identity, row offset, column offset and flip of each augmented image."""
    ident = x[:, 0, 16, 16].round().long().cpu().numpy()
    pos = (x[:, 1] == 100).flatten(1).float().argmax(1).cpu().numpy()
    right = (x[:, 1] == 200).flatten(1).float().argmax(1).cpu().numpy()
    r, c = pos // 32, pos % 32
    flipped = (right % 32) < c  # 200 left of 100: mirrored
    col = np.where(flipped, 31 - c, c)  # undo the flip
    return ident, pad + 14 - r, pad + 15 - col, flipped  # offsets in [0, 2 pad], as torchvision


@pytest.mark.parametrize("pad", [2, 4])  # 2: the paper's 36x36 (§4.1); 4: public ports
@pytest.mark.parametrize("device", DEVICES)
def test_crop_flip_matches_torchvision_distribution_and_keeps_labels(device, pad):
    dev = _device(device)
    arrays = _marked_pool(2000, pad)
    data = ResidentImages(arrays, dev)
    batches = data.train_batches(np.arange(2000), batch_size=500, seed=0, drop_last=False)
    oys, oxs, flips = [], [], []
    for _ in range(5):  # 5 epochs, 10,000 draws
        for x, y in batches:
            ident, oy, ox, flipped = _decode(x, pad)
            assert np.array_equal(y.cpu().numpy(), ident % 10)  # labels never change
            oys.append(oy), oxs.append(ox), flips.append(flipped)
    oy, ox, flip = map(np.concatenate, (oys, oxs, flips))
    # torchvision RandomCrop(32, padding=pad): offsets uniform on 0..2 pad; flip: 0.5
    for offsets in (oy, ox):
        freq = np.bincount(offsets, minlength=2 * pad + 1) / len(offsets)
        assert len(freq) == 2 * pad + 1
        assert np.all(np.abs(freq - 1 / (2 * pad + 1)) < 0.02), freq
    assert abs(flip.mean() - 0.5) < 0.02


@pytest.mark.parametrize("device", DEVICES)
def test_crop_is_a_shifted_window_of_the_zero_padded_image(device):
    dev = _device(device)
    g = torch.Generator(device=dev).manual_seed(3)
    x = torch.randint(0, 255, (6, 3, 8, 8), dtype=torch.uint8, device=dev)
    out = crop_flip(x, pad=2, flip=False, generator=g)
    g = torch.Generator(device=dev).manual_seed(3)
    oy = torch.randint(0, 5, (6,), generator=g, device=dev)
    ox = torch.randint(0, 5, (6,), generator=g, device=dev)
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(6):
        a, b = int(oy[i]), int(ox[i])
        assert torch.equal(out[i], padded[i, :, a : a + 8, b : b + 8])


def test_eval_batches_are_unaugmented_and_in_order():
    arrays = _marked_pool(30)
    data = ResidentImages(arrays, torch.device("cpu"))
    order = np.array([7, 3, 29, 0])
    ((x, y),) = list(data.eval_batches("pool", order, batch_size=10))
    assert torch.equal(x, arrays.pool[order].float()) and torch.equal(y, arrays.pool_labels[order])


def test_seeded_train_batches_are_reproducible():
    arrays = _marked_pool(64)
    runs = []
    for _ in range(2):
        batches = ResidentImages(arrays, torch.device("cpu")).train_batches(
            np.arange(64), 16, seed=11, drop_last=False
        )
        runs.append([x for epoch in range(2) for x, _ in batches])
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
    assert not torch.equal(runs[0][0], runs[0][4])  # the second epoch draws anew
