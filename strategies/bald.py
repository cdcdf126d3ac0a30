"""Bayesian uncertainty by Monte-Carlo dropout: BALD and the entropy of the mean prediction.

Gal & Ghahramani (ICML 2016) read a network trained with dropout as an approximate Bayesian
posterior over its weights; T stochastic forward passes with dropout on give T samples
p_t(y | x). From them (Gal, Islam & Ghahramani, ICML 2017, §3, "Deep Bayesian Active Learning
with Image Data"):

- **BALD** (Houlsby et al., 2011, "Bayesian Active Learning by Disagreement"): the mutual
  information between the prediction and the weights,
  I[y; w | x] = H[mean_t p_t] - mean_t H[p_t], high where the passes disagree;
- **max entropy** of the mean prediction, H[mean_t p_t] (``mc_entropy``), which BALD's first
  term is, for free.

Both take the top K. T = ``passes`` = 20 by default (Gal et al. 2017's experiments).

Where the dropout is: albench's classification models have dropout right before the linear
classifier when the task parameter ``head_dropout`` > 0 (the task then provides
``mc_dropout``; 0 by default, so the paper's ResNet-18 is unchanged). With dropout only there,
MC dropout of the network *is* T dropout passes of the last layer on the (deterministic)
embedding: the strategy runs them itself on ``StepOutput.head`` (a
:class:`~albench.contracts.LinearHead`), T x B rows in one batched product on the device
(``max_elements`` bounds the (t, B, D) block of masked embeddings: t = max(1, max_elements //
(B x D)) passes per product), so a scan costs one network pass per batch, not T.

Masks: drawn from a ``torch.Generator`` on the embedding's device seeded with ``seed`` at every
``collect`` call (so every batch of a scan sees the same mask sequence, a candidate's score
does not depend on what was scanned before it, a resumed job scores exactly as an
uninterrupted one, and torch's global generator, which trains every strategy, is untouched).

Detection and pose: SSD and the hourglass have no dropout and no published MC-dropout
acquisition in the paper's setting; the strategies require ``class_logits`` and
``mc_dropout``, so those pairs are refused before any run, as is a classification task with
``head_dropout`` = 0.

Memory per scan batch: t x B x D x 4 bytes (masked embeddings) + T x B x C x 4 (probabilities).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from albench.contracts import CLASS_LOGITS, MC_DROPOUT, LinearHead, Scan, Strategy, top_k
from albench.errors import ConfigError
from albench.registry import builtin

__all__ = ["BaldStrategy", "MCEntropyStrategy", "bald_scores", "mc_dropout_probs"]


def mc_dropout_probs(
    head: LinearHead,
    embedding: Tensor,
    passes: int,
    generator: torch.Generator,
    max_elements: int = 1 << 24,
) -> Tensor:
    """(T, B, C) softmax of ``passes`` dropout passes of ``head`` on the (B, D) embedding.

    Pass t keeps each embedding entry with probability 1 - p and scales it by 1 / (1 - p)
    (inverted dropout, as ``nn.Dropout`` in training), then applies the linear layer.
    """
    p = head.dropout
    weight = head.linear.weight.float()  # (C, D)
    bias = head.linear.bias.float() if head.linear.bias is not None else None
    x = embedding.float()  # (B, D)
    b, d = x.shape
    per_product = max(1, max_elements // max(b * d, 1))  # passes in one batched product
    parts = []
    for start in range(0, passes, per_product):
        t = min(per_product, passes - start)
        keep = torch.rand((t, b, d), generator=generator, device=x.device) >= p  # (t, B, D)
        masked = x * keep / (1.0 - p)  # (1, B, D) * (t, B, D) -> (t, B, D)
        parts.append(F.linear(masked, weight, bias).softmax(dim=-1))  # (t, B, C)
    return torch.cat(parts)  # (T, B, C)


def bald_scores(probs: Tensor) -> tuple[Tensor, Tensor]:
    """(T, B, C) MC probabilities -> (mutual information (B,), entropy of the mean (B,)), nats.

    I = H[mean_t p_t] - mean_t H[p_t] (Houlsby et al. 2011, Eq. 3 of Gal et al. 2017); 0 log 0
    is 0. I >= 0 by Jensen; rounding is clipped at 0.
    """
    probs = probs.double()
    mean = probs.mean(dim=0)  # (T, B, C) -> (B, C)
    h_mean = -torch.special.xlogy(mean, mean).sum(dim=1)  # (B,)
    h_each = -torch.special.xlogy(probs, probs).sum(dim=2).mean(dim=0)  # (T, B) -> (B,)
    return (h_mean - h_each).clamp_min(0).float(), h_mean.float()


@builtin("bald", rank=7)
class BaldStrategy(Strategy):
    """BALD: top-K mutual information of prediction and weights by MC dropout (Gal 2017).

    Classification only, with dropout before the classifier (``mc_dropout``: the task
    parameter ``head_dropout`` > 0); T = ``passes`` dropout passes of the last layer. See the
    module docstring.
    """

    display_name = "BALD"
    requires = frozenset({CLASS_LOGITS, MC_DROPOUT})
    scores = ("bald",)
    key = "bald"

    def __init__(self, passes: int = 20, seed: int = 0, max_elements: int = 1 << 24):
        if passes < 1:
            raise ConfigError(f"strategies.{self.name}.passes = {passes!r}: expected 1 or more")
        self.passes = passes  # T, stochastic forward passes (Gal et al. 2017: 20)
        self.seed = seed  # of the dropout masks, drawn afresh for every scan batch
        self.max_elements = max_elements  # bound on the (t, B, D) block of masked embeddings

    def collect(self, out, aux, task) -> dict[str, Tensor]:
        head = out.head
        if head is None or head.dropout <= 0:
            raise ValueError(
                f"strategy {self.name!r} needs dropout before the classifier (StepOutput.head "
                "with dropout > 0): set the task's head_dropout > 0, e.g. --set "
                "params.head_dropout=0.5, for every compared strategy"
            )
        emb = out.embedding
        generator = torch.Generator(device=emb.device).manual_seed(self.seed)
        probs = mc_dropout_probs(head, emb, self.passes, generator, self.max_elements)
        mutual_information, entropy_of_mean = bald_scores(probs)
        return {"bald": mutual_information, "mc_entropy": entropy_of_mean}

    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        return top_k(scan.stats[self.key], scan.candidates, budget)


@builtin("mc_entropy", rank=8)
class MCEntropyStrategy(BaldStrategy):
    """Top-K entropy of the MC-dropout mean prediction (Gal et al. 2017, max entropy).

    H[mean_t p_t] over T = ``passes`` dropout passes of the last layer; classification with
    ``head_dropout`` > 0 only, as BALD.
    """

    display_name = "MC entropy"
    scores = ("mc_entropy",)
    key = "mc_entropy"
