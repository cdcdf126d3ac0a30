"""EGL's closed form against autograd: per class, the gradient of the cross-entropy with
respect to the last layer's weights and bias, weighted by the model's probability."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from albench.contracts import Scan
from albench.strategies.egl import EGLStrategy, expected_gradient_length


def brute_force_egl(linear: nn.Linear, h: torch.Tensor) -> torch.Tensor:
    values = []
    for i in range(h.shape[0]):
        p = linear(h[i : i + 1]).softmax(1)[0].detach()
        total = 0.0
        for y in range(p.shape[0]):
            linear.zero_grad()
            F.cross_entropy(linear(h[i : i + 1]), torch.tensor([y])).backward()
            grad = torch.cat([linear.weight.grad.flatten(), linear.bias.grad])
            total += float(p[y]) * float(grad.norm())
        values.append(total)
    return torch.tensor(values, dtype=torch.float64)


def test_closed_form_equals_autograd():
    torch.manual_seed(0)
    linear = nn.Linear(7, 4).double()
    h = torch.randn(6, 7, dtype=torch.float64) * 2
    ours = expected_gradient_length(linear(h).detach(), h)
    torch.testing.assert_close(ours.double(), brute_force_egl(linear, h), rtol=1e-5, atol=1e-6)


def test_a_confident_prediction_has_a_small_expected_gradient():
    h = torch.ones(2, 3)
    logits = torch.tensor([[20.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    egl = expected_gradient_length(logits, h)
    assert egl[0] < 1e-3 < egl[1]


def test_strategy_scores_and_selects_the_top():
    torch.manual_seed(0)
    out = type("Out", (), {"output": torch.randn(5, 3), "embedding": torch.randn(5, 4)})()
    scores = EGLStrategy().collect(out, None, None)["egl"]
    scan = Scan(candidates=np.arange(100, 105), stats={"egl": scores})
    picked = EGLStrategy().select(scan, 2, np.random.default_rng(0))
    assert picked.tolist() == (100 + torch.argsort(scores, descending=True)[:2]).tolist()
