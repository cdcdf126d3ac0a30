"""The digits twin's transforms (``albench.tasks.classification.common``) against torchvision's,
which they replace so that a digits job never imports torchvision: the same random draws and
the same pixels, bit for bit."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torchvision import transforms

from albench.tasks.classification.common import Normalize, PaddedCrop


@pytest.mark.parametrize(("channels", "size", "pad"), [(1, 8, 1), (1, 8, 2), (3, 32, 4), (3, 5, 0)])
def test_padded_crop_and_normalize_equal_torchvision_bit_for_bit(channels, size, pad):
    mean, std = tuple(torch.rand(channels).tolist()), tuple((torch.rand(channels) + 0.1).tolist())
    ours = PaddedCrop(size, pad, Normalize(mean, std))
    theirs = transforms.Compose(
        [transforms.RandomCrop(size, padding=pad), transforms.Normalize(mean, std)]
    )
    images = torch.rand(50, channels, size, size) * 16
    torch.manual_seed(7)
    expected = [theirs(x) for x in images]
    after_theirs = torch.rand(1)  # the generator's next draw: as many draws were taken
    torch.manual_seed(7)
    got = [ours(x) for x in images]
    assert torch.equal(torch.rand(1), after_theirs)
    for e, g in zip(expected, got, strict=True):
        assert g.dtype == e.dtype and torch.equal(g, e)


def test_a_digits_job_never_imports_torchvision(tmp_path):
    code = (
        "import sys\n"
        "from albench.registry import TASKS\n"
        "task = TASKS.get('digits')()\n"
        "data = task.datasets(None, False)\n"
        "data.pool_train[0]\n"
        "print('torchvision' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1:] == ["False"], out.stdout + out.stderr
