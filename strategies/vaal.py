"""VAAL and TA-VAAL: select what a discriminator on a VAE's latent space deems unlabeled.

**VAAL** (Sinha, Ebrahimi & Darrell, "Variational Adversarial Active Learning", ICCV 2019,
§3): a beta-VAE learns one latent space of the labeled and the unlabeled images (Eq. 3: the
ELBO of both sets, "transductive"), a discriminator D learns to tell labeled latents from
unlabeled ones (Eq. 6: BCE, labeled -> 1, unlabeled -> 0) while the VAE learns to fool it
(Eq. 4: BCE with both sets -> 1; Eq. 5: the VAE minimises lambda1 x Eq. 3 + lambda2 x Eq. 4).
The K candidates with the lowest D(mu(x)), the least likely labeled, are selected (§3,
"Sampling strategies"; D reads the posterior mean mu). Nothing comes from the target model:
only the images, so it runs on every task family (capability ``images``).

**TA-VAAL** (Kim, Park, Kim & Chun, "Task-Aware Variational Adversarial Active Learning",
CVPR 2021, §3): learning loss's module (Yoo & Kweon 2019) is trained with the target model
by its ranking loss (the ``learn_loss`` module and loss, the same class: lambda 1, margin 1,
the stop-gradient epoch), and its output, the "ranker"'s ranked predicted loss r, conditions
VAAL: concatenated to the VAE's latent sample before the decoder and to the discriminator's
input. Selection as VAAL. ``predicted_loss`` is logged as a scorer, as ``learn_loss``'s.

Defaults follow the official code (the papers state the losses, not these numbers):

- VAAL, github.com/sinhasam/vaal: ``arguments.py``: latent d = 32, beta = 1, lambda2
  (``adversary_param``) = 1, batch 128, 100 epochs, Adam lr 5e-4 for the VAE and for D,
  2 VAE steps and 1 D step per iteration; ``solver.py``: reconstruction = MSE averaged over
  pixels, KL summed over batch and latent, each extra VAE step on a fresh batch pair,
  N x epochs / batch iterations (N: every image, labeled and unlabeled); ``model.py``: the
  VAE (4x4 stride-2 convolutions of 128, 256, 512, 1024 channels with BatchNorm and ReLU,
  linear mu and log-variance; decoder linear -> 1024 x 4 x 4, 4x4 stride-2 transposed
  convolutions of 512, 256, 128, a 1x1 one to the image channels; Kaiming-normal init of the
  convolutions and linear layers), D = 4 hidden layers of 512 with ReLU, a sigmoid output;
  ``sampler.py``: the K lowest D(mu).
- TA-VAAL, github.com/cubeyoung/TA-VAAL: ``selection_methods.py``: 1 VAE step and 1 D step
  per iteration, beta 1, lambda2 1, Adam 5e-4 for both, KL *averaged* (``torch.mean``),
  (|L| + M) x EPOCHV / BATCH iterations, the VAE conditioned on sigmoid(r), D on r itself,
  the K lowest D over the subset S_M; ``config.py``: EPOCHV = 100, BATCH = 128; ``models/
  query_models.py``: the VAE with a (d + 1)-wide decoder input, D with 2 hidden layers of 512.

Where albench departs, and why:

- The unlabeled images are the scanned subset S_M (TA-VAAL's choice; VAAL's code uses the
  whole unlabeled pool, but albench scores S_M for every strategy); iterations per cycle are
  (|L| + M) x ``epochs`` // ``batch_size`` for both (VAAL's N x epochs / batch with N = |L| +
  |U|). The task model is not trained in this loop (VAAL's solver interleaves it; albench
  trains it with its own schedule before the scan).
- Scoring runs the VAE and D in eval mode (BatchNorm running statistics); both official codes
  score in training mode, so a candidate's score depends on the random batch it lands in.
- The initial weights (under a forked torch RNG, so torch's global generator is untouched),
  the batch order and the VAE's noise come from the ``rng`` handed to ``select`` (the trial's
  SELECT stream of the cycle): a trial is reproducible and no other strategy's draws move.
- BCE is computed on D's logits (the same loss as BCE on its sigmoid output, stable).
- TA-VAAL's official code conditions its first iteration on uniform noise instead of r (a
  leftover); here r is used from the first iteration on.
- Image sizes: S = 32 is the official network exactly; another S (a multiple of 16) keeps the
  four convolutions, flattens 1024 x (S/16)^2 and starts the decoder at (S/8)^2: S = 64 is
  WAE-pytorch's CelebA network that VAAL's ``model.py`` was adapted from (its shape comments
  still read 64). Images are mapped from [0, 1] to [-1, 1] (VAAL's ``Normalize(0.5, 0.5)``).

Cost per cycle: the scan of S_M and of L (images kept on the device: (M + |L|) x C x S^2 x 4
bytes; CIFAR-10 at most 20,000 x 12 KiB = 246 MB, VOC's whole pool 16,551 x 48 KiB = 813 MB,
MPII 15,000 x 48 KiB = 737 MB), then (|L| + M) x epochs / batch iterations of (VAE steps x 2
VAE passes + D steps x 2 encoder passes), one encoder pass over S_M to score; all inside
``select``, so ``time/select_s`` is the generative models' cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from albench.contracts import IMAGES, LOSS, TAPS, CycleWork, Scan, SelectionCost, Strategy, Task
from albench.errors import ConfigError
from albench.registry import builtin
from albench.strategies.learn_loss import LearnLossStrategy

__all__ = [
    "AdversarialSchedule",
    "Discriminator",
    "TAVAALStrategy",
    "VAALStrategy",
    "VAE",
    "adversarial_vae_loss",
    "batch_stream",
    "discriminator_loss",
    "fit_and_score",
    "least_labeled",
    "ranking_condition",
    "vae_loss",
]

KL_REDUCTIONS = ("sum", "mean")


# ------------------------------------------------------------------------------ losses


def vae_loss(
    x: Tensor, recon: Tensor, posterior: tuple[Tensor, Tensor], beta: float, kl: str = "sum"
) -> Tensor:
    """The negative ELBO of Eq. 3 for one batch: MSE(recon, x) averaged over every pixel
    (a Gaussian decoder) + beta x KL(N(mu, exp(logvar)) || N(0, I)), the KL
    -1/2 (1 + logvar - mu^2 - exp(logvar)) summed (VAAL) or averaged (TA-VAAL) over batch and
    latent. ``posterior`` = (mu, logvar), each (B, d)."""
    mu, logvar = posterior
    mse = F.mse_loss(recon.float(), x.float())  # mean over B x C x S x S
    terms = 1 + logvar.float() - mu.float().pow(2) - logvar.float().exp()  # (B, d)
    kld = -0.5 * (terms.sum() if kl == "sum" else terms.mean())
    return mse + beta * kld


def adversarial_vae_loss(labeled_logits: Tensor, unlabeled_logits: Tensor) -> Tensor:
    """Eq. 4, the VAE's side: BCE of D on both sets against "labeled" (1), each averaged
    over its batch; ``*_logits`` are D's (B,) logits."""
    ones_l, ones_u = torch.ones_like(labeled_logits), torch.ones_like(unlabeled_logits)
    return F.binary_cross_entropy_with_logits(
        labeled_logits, ones_l
    ) + F.binary_cross_entropy_with_logits(unlabeled_logits, ones_u)


def discriminator_loss(labeled_logits: Tensor, unlabeled_logits: Tensor) -> Tensor:
    """Eq. 6: BCE of D, labeled latents -> 1, unlabeled -> 0, each averaged over its batch."""
    return F.binary_cross_entropy_with_logits(
        labeled_logits, torch.ones_like(labeled_logits)
    ) + F.binary_cross_entropy_with_logits(unlabeled_logits, torch.zeros_like(unlabeled_logits))


def least_labeled(probs: Tensor, candidates: np.ndarray, budget: int) -> np.ndarray:
    """Pool indices of the ``budget`` lowest D outputs (least likely labeled); ties keep scan
    order. ``probs[i]`` belongs to ``candidates[i]``."""
    p = probs.detach().float().cpu().numpy().reshape(-1)  # (M,)
    if len(p) != len(candidates):
        raise ValueError(f"{len(p)} scores for {len(candidates)} candidates")
    return candidates[np.argsort(p, kind="stable")[:budget]]  # ascending: lowest first


def ranking_condition(predicted_loss: Tensor) -> tuple[Tensor, Tensor]:
    """TA-VAAL's conditioning from the ranker's (N,) output r: (sigmoid(r), r), each (N, 1),
    for the VAE's decoder and for D (cubeyoung/TA-VAAL ``selection_methods.py``)."""
    r = predicted_loss.detach().float().reshape(-1, 1).clone()  # (N,) -> (N, 1), a copy
    return torch.sigmoid(r), r


# ------------------------------------------------------------------------------ models


def _kaiming(module: nn.Module) -> None:
    """VAAL's ``kaiming_init``: Kaiming-normal weights and zero biases for convolutions and
    linear layers, BatchNorm at (1, 0); transposed convolutions keep torch's default."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class VAE(nn.Module):
    """VAAL's beta-VAE for (B, C, S, S) images, S a multiple of 16; ``width`` the first
    convolution's channels (128: the paper's network), ``cond`` extra decoder inputs (TA-VAAL:
    1, the ranker's output)."""

    def __init__(self, channels: int, size: int, latent: int = 32, width: int = 128, cond: int = 0):
        super().__init__()
        if size < 16 or size % 16:
            raise ValueError(f"VAE input side {size}: expected a multiple of 16")
        w = [width, 2 * width, 4 * width, 8 * width]  # 128, 256, 512, 1024 in the paper
        self.top = w[3]
        self.start = size // 8  # decoder's first map side: 4 for S = 32
        layers: list[nn.Module] = []
        cin = channels
        for c in w:  # S -> S/16 in four halvings
            layers += [nn.Conv2d(cin, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
            cin = c
        self.encoder = nn.Sequential(*layers)
        flat = w[3] * (size // 16) ** 2  # 1024 x 2 x 2 for S = 32
        self.fc_mu = nn.Linear(flat, latent)
        self.fc_logvar = nn.Linear(flat, latent)
        self.fc_decode = nn.Linear(latent + cond, w[3] * self.start**2)
        up: list[nn.Module] = []
        for cin, c in zip(w[:0:-1], w[-2::-1], strict=True):  # 1024->512->256->128
            up += [
                nn.ConvTranspose2d(cin, c, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(True),
            ]
        up.append(nn.ConvTranspose2d(w[0], channels, 1))  # 1x1 to the image channels
        self.decoder = nn.Sequential(*up)
        _kaiming(self)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x).flatten(1)  # (B, 8w, S/16, S/16) -> (B, 8w (S/16)^2)
        return self.fc_mu(h), self.fc_logvar(h)  # (B, d) each

    def forward(
        self, x: Tensor, generator: torch.Generator, cond: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(reconstruction (B, C, S, S), mu (B, d), logvar (B, d)); the latent sample's
        noise is drawn from ``generator`` (on x's device)."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + eps * (0.5 * logvar).exp()  # reparameterisation, (B, d)
        if cond is not None:
            z = torch.cat([z, cond], dim=1)  # (B, d + 1): TA-VAAL's r after the sample
        h = self.fc_decode(z).view(-1, self.top, self.start, self.start)  # (B, 8w, S/8, S/8)
        return self.decoder(h), mu, logvar


class Discriminator(nn.Module):
    """D: an MLP on the latent mean (and TA-VAAL's condition) -> (B,) logits of "labeled"."""

    def __init__(self, latent: int = 32, depth: int = 4, hidden: int = 512, cond: int = 0):
        super().__init__()
        layers: list[nn.Module] = []
        cin = latent + cond
        for _ in range(depth):  # VAAL: 4 hidden layers, TA-VAAL: 2
            layers += [nn.Linear(cin, hidden), nn.ReLU(True)]
            cin = hidden
        layers.append(nn.Linear(cin, 1))  # the sigmoid is in the loss (logits)
        self.net = nn.Sequential(*layers)
        _kaiming(self)

    def forward(self, mu: Tensor, cond: Tensor | None = None) -> Tensor:
        h = mu if cond is None else torch.cat([mu, cond], dim=1)  # (B, d [+ 1])
        return self.net(h).view(-1)  # (B, 1) -> (B,)


# ------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class AdversarialSchedule:
    """How the VAE and D are trained in one cycle (see the module docstring for sources)."""

    epochs: int = 100  # passes over |L| + M images per cycle (VAAL train_epochs, TA EPOCHV)
    batch_size: int = 128  # per set: a labeled and an unlabeled batch of this size
    vae_steps: int = 2  # VAE updates per iteration (VAAL 2, TA-VAAL 1)
    adversary_steps: int = 1  # D updates per iteration (both: 1)
    lr: float = 5e-4  # Adam, for the VAE and for D
    beta: float = 1.0  # beta, Eq. 3 (VAAL's lambda1 = 1 on the whole ELBO)
    adversary_weight: float = 1.0  # lambda2, Eq. 5
    kl: str = "sum"  # KL reduction over batch and latent: VAAL "sum", TA-VAAL "mean"

    def iterations(self, labeled: int, unlabeled: int) -> int:
        return max(1, (labeled + unlabeled) * self.epochs // self.batch_size)


def batch_stream(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Endless shuffled index batches of range(n): a new permutation per pass, the last
    partial batch dropped (VAAL's labeled loader, ``drop_last``); all n when n < batch."""
    while True:
        perm = torch.randperm(n, generator=generator)
        if n <= batch_size:
            yield perm
            continue
        for i in range(0, n - batch_size + 1, batch_size):
            yield perm[i : i + batch_size]


@dataclass
class _Set:
    """Images in [-1, 1] of one side (labeled or unlabeled) and their conditions."""

    x: Tensor  # (N, C, S, S)
    vae_cond: Tensor | None = None  # (N, 1) TA-VAAL: sigmoid(r)
    d_cond: Tensor | None = None  # (N, 1) TA-VAAL: r

    def take(self, idx: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        idx = idx.to(self.x.device)
        vae_cond, d_cond = (None if c is None else c.index_select(0, idx) for c in self.conds())
        return self.x.index_select(0, idx), vae_cond, d_cond

    def conds(self) -> tuple[Tensor | None, Tensor | None]:
        return self.vae_cond, self.d_cond


def _train(
    models: tuple[VAE, Discriminator],
    sets: tuple[_Set, _Set],
    schedule: AdversarialSchedule,
    gens: tuple[torch.Generator, torch.Generator],
) -> None:
    """VAAL's solver loop: per iteration ``vae_steps`` VAE updates (Eq. 5), then
    ``adversary_steps`` D updates (Eq. 6) on the latest batch pair."""
    vae, disc = models
    lab, unl = sets
    order, noise = gens  # CPU generator for batch order, device generator for the VAE noise
    opt_vae = torch.optim.Adam(vae.parameters(), lr=schedule.lr)
    opt_d = torch.optim.Adam(disc.parameters(), lr=schedule.lr)
    vae.train()
    disc.train()
    lab_batches = batch_stream(len(lab.x), schedule.batch_size, order)
    unl_batches = batch_stream(len(unl.x), schedule.batch_size, order)
    for _ in range(schedule.iterations(len(lab.x), len(unl.x))):
        xl, vcl, dcl = lab.take(next(lab_batches))
        xu, vcu, dcu = unl.take(next(unl_batches))
        for step in range(schedule.vae_steps):
            if step > 0:  # each further VAE step on a fresh pair (VAAL solver.py)
                xl, vcl, dcl = lab.take(next(lab_batches))
                xu, vcu, dcu = unl.take(next(unl_batches))
            recon_l, mu_l, logvar_l = vae(xl, noise, vcl)
            recon_u, mu_u, logvar_u = vae(xu, noise, vcu)
            loss = (
                vae_loss(xl, recon_l, (mu_l, logvar_l), schedule.beta, schedule.kl)
                + vae_loss(xu, recon_u, (mu_u, logvar_u), schedule.beta, schedule.kl)
                + schedule.adversary_weight * adversarial_vae_loss(disc(mu_l, dcl), disc(mu_u, dcu))
            )
            opt_vae.zero_grad(set_to_none=True)
            loss.backward()
            opt_vae.step()
        for step in range(schedule.adversary_steps):
            if step > 0:
                xl, vcl, dcl = lab.take(next(lab_batches))
                xu, vcu, dcu = unl.take(next(unl_batches))
            with torch.no_grad():
                mu_l, mu_u = vae.encode(xl)[0], vae.encode(xu)[0]
            loss = discriminator_loss(disc(mu_l, dcl), disc(mu_u, dcu))
            opt_d.zero_grad(set_to_none=True)  # also drops the VAE step's gradient into D
            loss.backward()
            opt_d.step()


@torch.no_grad()
def _score(models: tuple[VAE, Discriminator], unl: _Set, batch_size: int) -> Tensor:
    """(M,) D's probability of "labeled" for every candidate, eval mode, scan order."""
    vae, disc = models
    vae.eval()
    disc.eval()
    out = []
    for i in range(0, len(unl.x), batch_size):
        idx = torch.arange(i, min(i + batch_size, len(unl.x)))
        x, _, d_cond = unl.take(idx)
        out.append(torch.sigmoid(disc(vae.encode(x)[0], d_cond)))
    return torch.cat(out)


def fit_and_score(scan: Scan, strategy: Any, rng: np.random.Generator) -> Tensor:
    """Train a fresh VAE and D on ``scan.labeled_stats`` vs ``scan.stats`` (key "image", and
    "predicted_loss" when ``strategy.conditioned``) and return D's (M,) probabilities.

    Seeds: three draws from ``rng`` (the trial's SELECT stream): weights, batch order, noise.
    """
    images_u, images_l = scan.stats["image"], scan.labeled_stats["image"]
    device = images_u.device
    init_seed, order_seed, noise_seed = (int(s) for s in rng.integers(0, 2**62, size=3))
    sets = (_Set(images_l.float() * 2 - 1), _Set(images_u.float() * 2 - 1))  # [0, 1] -> [-1, 1]
    cond = 0
    if strategy.conditioned:
        cond = 1
        for s, r in zip(sets, (scan.labeled_stats, scan.stats), strict=True):
            s.vae_cond, s.d_cond = ranking_condition(r["predicted_loss"])
    _, c, size, _ = images_u.shape
    with torch.random.fork_rng(devices=[]):  # torch's global CPU generator is left as it was
        torch.manual_seed(init_seed)
        vae = VAE(c, size, strategy.latent, strategy.width, cond)
        disc = Discriminator(strategy.latent, strategy.discriminator_depth, cond=cond)
    models = (vae.to(device), disc.to(device))
    order = torch.Generator().manual_seed(order_seed)
    noise = torch.Generator(device=device).manual_seed(noise_seed)
    _train(models, sets, strategy.schedule(), (order, noise))
    return _score(models, sets[1], strategy.batch_size)


# ------------------------------------------------------------------------------ strategies


class _Adversarial:
    """What VAAL and TA-VAAL share: the images of every scanned item and the selection."""

    conditioned = False  # TA-VAAL: the ranker's output conditions the VAE and D
    discriminator_depth = 4  # hidden layers of 512: VAAL model.py 4, TA-VAAL query_models.py 2
    scan_labeled = True  # the labeled images are the VAE's and D's "labeled" side

    def _set_generative(self, latent: int, width: int, schedule: AdversarialSchedule) -> None:
        if schedule.kl not in KL_REDUCTIONS:
            raise ConfigError(f"kl = {schedule.kl!r}: expected one of {', '.join(KL_REDUCTIONS)}")
        if min(latent, width, schedule.epochs, schedule.batch_size, schedule.vae_steps) < 1:
            raise ConfigError("latent, width, epochs, batch_size and vae_steps must be >= 1")
        self.latent = latent  # d, the latent size (VAAL arguments.py latent_dim = 32)
        self.width = width  # first convolution's channels (VAAL model.py: 128, doubling to 1024)
        self.epochs = schedule.epochs
        self.batch_size = schedule.batch_size
        self.vae_steps = schedule.vae_steps
        self.adversary_steps = schedule.adversary_steps
        self.lr = schedule.lr
        self.beta = schedule.beta
        self.adversary_weight = schedule.adversary_weight
        self.kl = schedule.kl

    def schedule(self) -> AdversarialSchedule:
        return AdversarialSchedule(
            self.epochs,
            self.batch_size,
            self.vae_steps,
            self.adversary_steps,
            self.lr,
            self.beta,
            self.adversary_weight,
            self.kl,
        )

    def collect_inputs(self, batch: Any, task: Task) -> dict[str, Tensor]:
        return {"image": task.generative_images(batch).float()}  # (B, C, S, S) in [0, 1]

    def selection_cost(self, cycle: CycleWork) -> SelectionCost:
        """The VAE's and D's training: every iteration a labeled and an unlabeled batch
        through each VAE step, and through each D step (a D step, the VAE's encoder without
        its gradient and a small MLP, costs about 0.3 of a VAE step), in images of the
        reference network (32x32, first convolution 16 channels). The work grows with the
        channels squared (each layer's input and output double with ``width``) and, as
        measured on the twins (benchmarks/plan_accuracy.py), about linearly with the side:
        the small images' fixed costs per step do not shrink with them."""
        steps = self.schedule().iterations(cycle.labeled, cycle.candidates)
        images = steps * 2 * self.batch_size * (self.vae_steps + 0.3 * self.adversary_steps)
        scale = (cycle.generative_size / 32) * (self.width / 16) ** 2
        return SelectionCost(generative=images * scale)

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        return least_labeled(fit_and_score(scan, self, rng), scan.candidates, budget)


@builtin("vaal", rank=13)
class VAALStrategy(_Adversarial, Strategy):
    """VAAL (Sinha et al. 2019): the K candidates a VAE-latent discriminator deems unlabeled.

    A beta-VAE and a discriminator trained adversarially on the labeled images vs the scanned
    subset's, fresh every cycle inside ``select``; see the module docstring.
    """

    display_name = "VAAL"
    requires = frozenset({IMAGES})

    def __init__(
        self,
        latent: int = 32,
        width: int = 128,
        epochs: int = 100,
        batch_size: int = 128,
        vae_steps: int = 2,
        adversary_steps: int = 1,
        lr: float = 5e-4,
        beta: float = 1.0,
        adversary_weight: float = 1.0,
        kl: str = "sum",
    ):
        # latent d = 32; width 128 (-> 1024); 100 epochs of (|L| + M) / 128 iterations;
        # 2 VAE + 1 D steps each; Adam 5e-4; beta 1; lambda2 1; KL summed (sinhasam/vaal)
        schedule = AdversarialSchedule(
            epochs, batch_size, vae_steps, adversary_steps, lr, beta, adversary_weight, kl
        )
        self._set_generative(latent, width, schedule)


@builtin("ta_vaal", rank=14)
class TAVAALStrategy(_Adversarial, LearnLossStrategy):
    """TA-VAAL (Kim et al. 2021): VAAL conditioned on learning loss's ranked predicted loss.

    Learning loss's module and ranking loss trained with the target model (``learn_loss``);
    its output r conditions the VAE (sigmoid(r)) and the discriminator (r); see the module
    docstring.
    """

    display_name = "TA-VAAL"
    baseline = False
    requires = frozenset({IMAGES, LOSS, TAPS})
    conditioned = True
    discriminator_depth = 2  # TA-VAAL query_models.py: 2 hidden layers of 512

    def __init__(
        self,
        weight: float = 1.0,
        margin: float = 1.0,
        hidden: int = 128,
        latent: int = 32,
        width: int = 128,
        epochs: int = 100,
        batch_size: int = 128,
        vae_steps: int = 1,
        adversary_steps: int = 1,
        lr: float = 5e-4,
        beta: float = 1.0,
        adversary_weight: float = 1.0,
        kl: str = "mean",
    ):
        # the ranker: lambda 1, margin xi 1, FC width 128 (TA-VAAL config.py WEIGHT, MARGIN;
        # Yoo & Kweon §4); VAAL's networks with d + 1 inputs, 1 VAE + 1 D step per iteration,
        # KL averaged (cubeyoung/TA-VAAL selection_methods.py)
        super().__init__(weight=weight, margin=margin, hidden=hidden)
        schedule = AdversarialSchedule(
            epochs, batch_size, vae_steps, adversary_steps, lr, beta, adversary_weight, kl
        )
        self._set_generative(latent, width, schedule)
