"""The hybrid: its picks are a subset of the top alpha x K by predicted loss, equal to a brute
force k-center greedy over them; it trains the same module with the same ranking loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from albench.contracts import Scan
from albench.strategies.learn_loss import LearnLossStrategy, LossPredictionModule
from albench.strategies.learn_loss_diverse import LearnLossDiverseStrategy
from tests.strategies.test_coreset import brute_force_greedy


def _scan(m=60, labeled=8, seed=0):
    rng = np.random.default_rng(seed)
    return Scan(
        candidates=rng.permutation(1000)[:m],
        stats={
            "predicted_loss": torch.from_numpy(rng.normal(size=m).astype(np.float32)),
            "embedding": torch.from_numpy(rng.normal(size=(m, 4)).astype(np.float32)),
        },
        labeled=np.arange(1000, 1000 + labeled),
        labeled_stats={
            "embedding": torch.from_numpy(rng.normal(size=(labeled, 4)).astype(np.float32))
        },
    )


@pytest.mark.parametrize(("alpha", "budget"), [(3.0, 5), (2.5, 4), (1.0, 6)])
def test_picks_are_k_center_greedy_within_the_top_alpha_k(alpha, budget):
    scan = _scan()
    picked = LearnLossDiverseStrategy(alpha=alpha).select(scan, budget, np.random.default_rng(0))
    scores = scan.stats["predicted_loss"].numpy()
    top = np.argsort(-scores, kind="stable")[: int(np.ceil(alpha * budget))]
    assert set(picked.tolist()) <= set(scan.candidates[top].tolist())
    feats = scan.stats["embedding"].numpy()[top]
    expected = top[brute_force_greedy(feats, scan.labeled_stats["embedding"].numpy(), budget)]
    assert picked.tolist() == scan.candidates[expected].tolist()


def test_alpha_one_is_learn_loss_and_a_large_alpha_is_coreset():
    scan = _scan()
    rng = np.random.default_rng(0)
    ll = LearnLossStrategy().select(scan, 6, rng)
    assert sorted(LearnLossDiverseStrategy(alpha=1.0).select(scan, 6, rng)) == sorted(ll)
    everything = LearnLossDiverseStrategy(alpha=100.0).select(scan, 6, rng)
    feats, centers = scan.stats["embedding"].numpy(), scan.labeled_stats["embedding"].numpy()
    expected = scan.candidates[brute_force_greedy(feats, centers, 6)]
    assert everything.tolist() == expected.tolist()


def test_same_module_and_ranking_loss_as_learn_loss():
    from types import SimpleNamespace

    strategy, plain = LearnLossDiverseStrategy(), LearnLossStrategy()
    assert isinstance(strategy, LearnLossStrategy) and not strategy.baseline
    assert strategy.scores == ("predicted_loss",) and strategy.scan_labeled
    task = SimpleNamespace(tap_channels=(4, 8))
    torch.manual_seed(0)
    aux = strategy.auxiliary(task)
    assert isinstance(aux, LossPredictionModule)
    taps = [torch.randn(6, 4, 3, 3), torch.randn(6, 8, 2, 2)]
    out = SimpleNamespace(taps=taps, loss=torch.rand(6), embedding=torch.randn(6, 5))
    ours = strategy.extra_losses(out, aux, detach_taps=False)
    theirs = plain.extra_losses(out, aux, detach_taps=False)
    assert ours.keys() == theirs.keys() == {"ranking"}
    torch.testing.assert_close(ours["ranking"], theirs["ranking"])
    stats = strategy.collect(out, aux, task)
    torch.testing.assert_close(stats["predicted_loss"], aux(taps))
