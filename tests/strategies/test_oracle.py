"""The oracle picks the top K of the true eval-mode loss of the current model."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from albench.registry import STRATEGIES, TASKS
from albench.training import Learner
from tests.conftest import PoolBatches


def test_oracle_picks_the_top_true_losses():
    task = TASKS.get("digits")()
    strategy = STRATEGIES.get("oracle_loss")()
    assert strategy.oracle and not strategy.baseline
    torch.manual_seed(0)
    learner = Learner(task, strategy, task.build_model(), None, torch.device("cpu"))
    x, y = task.example_batch(24)
    batches = [(x[:12], y[:12]), (x[12:], y[12:])]
    candidates = np.random.default_rng(0).permutation(500)[:24]
    learner.model.train()  # the scan must switch to eval mode itself
    learner.batches = PoolBatches(lambda idx: batches)
    scan = learner.scan(candidates, np.arange(3))
    model = learner.model.eval()
    with torch.no_grad():
        true = F.cross_entropy(model(x)[0], y, reduction="none")  # eval mode, no augmentation
    torch.testing.assert_close(scan.stats["true_loss"], true)
    picked = strategy.select(scan, 5, np.random.default_rng(0))
    assert picked.tolist() == candidates[torch.argsort(true, descending=True)[:5].numpy()].tolist()
