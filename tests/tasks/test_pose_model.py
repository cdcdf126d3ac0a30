"""The 2-stack hourglass of paper §4.3: taps, embedding, parameter counts, supervision."""

from __future__ import annotations

import torch

from albench.strategies.learn_loss import LossPredictionModule
from albench.tasks.pose import MpiiTask, StickmenTask


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_two_stack_hourglass_taps_are_256x64x64_and_counts_match():
    task = MpiiTask()
    torch.manual_seed(0)
    model = task.build_model()
    assert _count(model) == 6_570_400  # about 6.57 M (1 residual per level)
    assert task.tap_channels == (256, 256)
    assert _count(LossPredictionModule(task.tap_channels)) == 66_049  # 2 x (256x128+128) + 257
    model.eval()
    with torch.no_grad():
        heatmaps, taps, embedding = model(torch.randn(1, 3, 256, 256))
    assert [tuple(t.shape) for t in taps] == [(1, 256, 64, 64)] * 2
    assert [tuple(h.shape) for h in heatmaps] == [(1, 16, 64, 64)] * 2
    assert torch.allclose(embedding, taps[-1].mean(dim=(2, 3)))  # last map, spatial average


def test_intermediate_supervision_trains_every_stack():
    """The per-sample loss sums the stacks: the first stack's head gets a gradient."""
    task = StickmenTask()
    torch.manual_seed(0)
    model = task.build_model()
    two = type(model)(num_stacks=2, features=16, depth=2)
    batch = task.example_batch(2)
    out = task.step(two, batch, train=True)
    assert out.loss.shape == (2,) and len(out.taps) == 2
    out.loss.sum().backward()
    assert two.heads[0].weight.grad.abs().sum() > 0 and two.heads[1].weight.grad.abs().sum() > 0
    single = task.step(model, batch, train=True)
    assert [tuple(t.shape) for t in single.taps] == [(2, 32, 16, 16)]
    assert single.output.shape == (2, 16, 16, 16) and single.embedding.shape == (2, 32)
