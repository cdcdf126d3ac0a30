"""VAAL and TA-VAAL: the losses against hand-computed values, the official network's shapes,
the lowest-score selection, TA-VAAL's conditioning, seeding and reproducibility."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

import albench.strategies.vaal as vaal
from albench.contracts import Scan
from albench.loop import run_job
from albench.strategies.learn_loss import LearnLossStrategy
from albench.strategies.vaal import (
    VAE,
    AdversarialSchedule,
    Discriminator,
    TAVAALStrategy,
    VAALStrategy,
    adversarial_vae_loss,
    batch_stream,
    discriminator_loss,
    least_labeled,
    ranking_condition,
    vae_loss,
)
from albench.tracking import Tracker
from tests.conftest import PoolBatches, tiny_job

TINY = {"width": 4, "epochs": 4, "batch_size": 8}  # a VAE of 4..32 channels, 4 passes


def test_vae_loss_is_mse_plus_beta_kl_by_hand():
    x = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)
    recon = torch.tensor([0.5, 0.5]).view(1, 1, 1, 2)  # MSE = (0.25 + 0.25) / 2 = 0.25
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)]])
    # KL terms 1 + logvar - mu^2 - exp(logvar): -1 and ln 2 - 1; KL = -1/2 (ln 2 - 2)
    kl_sum = 1 - math.log(2.0) / 2
    assert vae_loss(x, recon, (mu, logvar), 1.0).item() == pytest.approx(0.25 + kl_sum)
    assert vae_loss(x, recon, (mu, logvar), 2.0, "sum").item() == pytest.approx(0.25 + 2 * kl_sum)
    # TA-VAAL averages the KL over batch x latent (2 elements here)
    assert vae_loss(x, recon, (mu, logvar), 1.0, "mean").item() == pytest.approx(0.25 + kl_sum / 2)
    zero = torch.zeros(1, 2)  # posterior = prior, perfect reconstruction: 0
    assert vae_loss(x, x, (zero, zero), 1.0).item() == 0.0


def test_discriminator_and_adversarial_losses_by_hand():
    lab = torch.tensor([0.0, math.log(3.0)])  # D = 0.5, 0.75
    unl = torch.tensor([math.log(1 / 3)])  # D = 0.25
    # Eq. 6: labeled -> 1, unlabeled -> 0, each averaged over its batch
    d = (math.log(2.0) + math.log(4 / 3)) / 2 + math.log(4 / 3)
    assert discriminator_loss(lab, unl).item() == pytest.approx(d)
    # Eq. 4: the VAE wants both sets called labeled (VAAL's fixed solver: ones for both)
    a = (math.log(2.0) + math.log(4 / 3)) / 2 + math.log(4.0)
    assert adversarial_vae_loss(lab, unl).item() == pytest.approx(a)
    # the same as the official BCELoss on the sigmoid output
    bce = nn.BCELoss()
    official = bce(torch.sigmoid(lab), torch.ones(2)) + bce(torch.sigmoid(unl), torch.zeros(1))
    assert discriminator_loss(lab, unl).item() == pytest.approx(official.item())


def test_least_labeled_takes_the_lowest_scores_as_pool_indices():
    probs = torch.tensor([0.9, 0.1, 0.5, 0.1, 0.3])
    candidates = np.array([10, 11, 12, 13, 14])
    assert least_labeled(probs, candidates, 3).tolist() == [11, 13, 14]  # ties: scan order
    with pytest.raises(ValueError):
        least_labeled(probs, candidates[:4], 2)


@pytest.mark.parametrize("strategy", [VAALStrategy, TAVAALStrategy])
def test_select_picks_the_lowest_discriminator_scores(strategy, monkeypatch):
    probs = torch.tensor([0.7, 0.2, 0.9, 0.05, 0.4, 0.3])
    monkeypatch.setattr(vaal, "fit_and_score", lambda scan, s, rng: probs)
    scan = Scan(candidates=np.array([5, 3, 8, 1, 7, 2]))
    picked = strategy().select(scan, 3, np.random.default_rng(0))
    assert picked.tolist() == [1, 3, 2]


def test_the_vae_at_32_is_the_official_network():
    """sinhasam/vaal model.py, layer by layer (parameter shapes, in order)."""
    vae = VAE(3, 32)
    shapes = [tuple(p.shape) for p in vae.parameters()]
    expected = [
        (128, 3, 4, 4), (128,), (128,),
        (256, 128, 4, 4), (256,), (256,),
        (512, 256, 4, 4), (512,), (512,),
        (1024, 512, 4, 4), (1024,), (1024,),
        (32, 4096), (32,), (32, 4096), (32,),  # fc_mu, fc_logvar: 1024 x 2 x 2 -> d
        (16384, 32), (16384,),  # decoder linear: d -> 1024 x 4 x 4
        (1024, 512, 4, 4), (512,), (512,),
        (512, 256, 4, 4), (256,), (256,),
        (256, 128, 4, 4), (128,), (128,),
        (128, 3, 1, 1), (3,),
    ]  # fmt: skip
    assert shapes == expected
    recon, mu, logvar = vae(torch.rand(2, 3, 32, 32), torch.Generator().manual_seed(0))
    assert recon.shape == (2, 3, 32, 32) and mu.shape == logvar.shape == (2, 32)
    d = Discriminator(32)  # 4 hidden layers of 512 (VAAL), 2 for TA-VAAL
    assert [m.out_features for m in d.net if isinstance(m, nn.Linear)] == [512] * 4 + [1]
    assert d(mu).shape == (2,)


@pytest.mark.parametrize(("channels", "size"), [(1, 16), (3, 64)])
def test_other_sizes_keep_four_halvings(channels, size):
    vae = VAE(channels, size, latent=8, width=4, cond=1)
    x = torch.rand(3, channels, size, size)
    recon, mu, _ = vae(x, torch.Generator().manual_seed(0), torch.rand(3, 1))
    assert recon.shape == x.shape and mu.shape == (3, 8)
    assert vae.fc_mu.in_features == 32 * (size // 16) ** 2
    with pytest.raises(ValueError):
        VAE(3, 24)


def test_batch_stream_covers_every_item_once_per_pass():
    g = torch.Generator().manual_seed(0)
    stream = batch_stream(10, 4, g)
    first = [next(stream) for _ in range(2)]  # 2 full batches, the partial one dropped
    assert all(len(b) == 4 for b in first)
    assert len(set(torch.cat(first).tolist())) == 8
    small = batch_stream(3, 8, g)
    assert sorted(next(small).tolist()) == [0, 1, 2]  # fewer items than a batch: all of them


def _scan(m=12, labeled=6, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Scan(
        candidates=np.arange(100, 100 + m),
        stats={
            "image": torch.rand(m, 1, size, size, generator=g),
            "predicted_loss": torch.randn(m, generator=g),
        },
        labeled=np.arange(labeled),
        labeled_stats={
            "image": torch.rand(labeled, 1, size, size, generator=g),
            "predicted_loss": torch.randn(labeled, generator=g),
        },
    )


def test_training_updates_the_vae_and_the_discriminator():
    """One port never stepped its VAE's optimiser: every VAE and D weight must move."""
    torch.manual_seed(0)
    vae, disc = VAE(1, 16, latent=4, width=4), Discriminator(4, depth=2)
    before = [p.detach().clone() for m in (vae, disc) for p in m.parameters()]
    lab = vaal._Set(torch.rand(6, 1, 16, 16) * 2 - 1)
    unl = vaal._Set(torch.rand(8, 1, 16, 16) * 2 - 1)
    schedule = AdversarialSchedule(epochs=1, batch_size=4, vae_steps=2)
    gens = (torch.Generator().manual_seed(1), torch.Generator().manual_seed(2))
    vaal._train((vae, disc), (lab, unl), schedule, gens)
    after = [p.detach() for m in (vae, disc) for p in m.parameters()]
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("strategy", [VAALStrategy, TAVAALStrategy])
def test_selection_is_reproducible_and_leaves_global_rng_alone(strategy):
    scan = _scan()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    s = strategy(**TINY)
    picks = [s.select(scan, 4, np.random.default_rng(7)).tolist() for _ in range(2)]
    assert picks[0] == picks[1] and len(set(picks[0])) == 4
    assert set(picks[0]) <= set(scan.candidates.tolist())
    assert torch.equal(torch.get_rng_state(), state)  # torch's global generator untouched
    probs = vaal.fit_and_score(scan, s, np.random.default_rng(7))
    assert probs.shape == (12,) and ((probs > 0) & (probs < 1)).all()


def test_ta_vaal_conditions_on_the_ranked_predicted_loss(monkeypatch):
    """Every conditioned batch: the VAE gets sigmoid(r), D gets r, of exactly its images."""
    scan = _scan()
    images = torch.cat([scan.labeled_stats["image"], scan.stats["image"]]) * 2 - 1
    r = torch.cat([scan.labeled_stats["predicted_loss"], scan.stats["predicted_loss"]])
    vae_cond, d_cond = ranking_condition(r)
    assert torch.equal(vae_cond, torch.sigmoid(r).view(-1, 1)) and torch.equal(
        d_cond, r.view(-1, 1)
    )
    seen = {"vae": 0, "d": [], "score": []}
    real_vae, real_d = VAE.forward, Discriminator.forward

    def spy_vae(self, x, generator, cond=None):
        rows = torch.cdist(x.flatten(1), images.flatten(1)).argmin(dim=1)  # which images
        assert torch.equal(cond, torch.sigmoid(r[rows]).view(-1, 1))
        seen["vae"] += 1
        return real_vae(self, x, generator, cond)

    def spy_d(self, mu, cond=None):
        seen["d" if self.training else "score"].append(cond)
        return real_d(self, mu, cond)

    monkeypatch.setattr(VAE, "forward", spy_vae)
    monkeypatch.setattr(Discriminator, "forward", spy_d)
    TAVAALStrategy(**TINY).select(scan, 4, np.random.default_rng(0))
    assert seen["vae"] > 0
    assert all(torch.isin(c, r).all() for c in seen["d"])  # the raw ranker output
    # scoring (eval mode): the candidates' own r, in scan order
    assert torch.equal(torch.cat(seen["score"]).view(-1), scan.stats["predicted_loss"])


def test_ta_vaal_trains_and_logs_learning_loss():
    s = TAVAALStrategy()
    assert isinstance(s, LearnLossStrategy) and s.scores == ("predicted_loss",)
    assert s.pairs_in_batch and s.scan_labeled and s.discriminator_depth == 2
    assert (s.vae_steps, s.kl, s.weight, s.margin) == (1, "mean", 1.0, 1.0)
    v = VAALStrategy()
    assert (v.vae_steps, v.kl, v.latent, v.width, v.epochs, v.batch_size, v.lr) == (
        2, "sum", 32, 128, 100, 128, 5e-4,
    )  # fmt: skip


def test_a_trial_run_twice_gives_identical_picks(mlflow_uri, tmp_path):
    tracker = Tracker()
    tracker.experiment_id("test")
    for name in ("vaal", "ta_vaal"):
        job = dataclasses.replace(tiny_job(name, cycles=2), strategy_params=dict(TINY))
        runs = [run_job(job) for _ in range(2)]
        assert all(r.status == "FINISHED" for r in runs)
        picks = [
            np.load(
                tracker.download_artifact(
                    r.run_id, "selected/cycle_00.npy", tmp_path / f"{name}{i}"
                )
            )
            for i, r in enumerate(runs)
        ]
        assert len(picks[0]) == 20 and np.array_equal(*picks)


def test_scans_collect_images_and_the_test_split_never_does():
    """``collect_inputs`` sees the scan batches (candidates and labeled set), not the test's."""
    from albench.registry import TASKS
    from albench.training import Learner

    task = TASKS.create("digits", {}, "p")
    strategy = TAVAALStrategy()
    torch.manual_seed(0)
    learner = Learner(
        task, strategy, task.build_model(), strategy.auxiliary(task), torch.device("cpu")
    )
    batch = task.example_batch(4)
    learner.batches = PoolBatches(lambda idx: [batch] * (len(idx) // 4))
    scan = learner.scan(np.arange(8), np.arange(8, 12))
    assert scan.stats["image"].shape == (8, 1, 16, 16)  # digits: 8x8 upsampled to 16
    assert scan.labeled_stats["image"].shape == (4, 1, 16, 16)
    assert scan.stats["predicted_loss"].shape == (8,)
    result = learner.evaluate([batch])
    assert set(result.scores) == {"entropy", "predicted_loss"}
