"""BALD and MC entropy: the mutual information against a direct computation, the MC-dropout
passes against their definition, reproducibility, and the refusal without dropout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from albench.contracts import LinearHead, StepOutput
from albench.errors import UnsupportedPairError
from albench.registry import STRATEGIES, TASKS, check_pair
from albench.strategies.bald import BaldStrategy, MCEntropyStrategy, bald_scores, mc_dropout_probs


def direct_bald(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Loops over samples, passes and classes: H[mean] - mean H, and H[mean]."""
    t, b, c = probs.shape
    mi, hm = np.zeros(b), np.zeros(b)
    for i in range(b):
        mean = [sum(probs[s, i, k] for s in range(t)) / t for k in range(c)]
        h_mean = -sum(m * np.log(m) for m in mean if m > 0)
        h_each = sum(-sum(p * np.log(p) for p in probs[s, i] if p > 0) for s in range(t)) / t
        mi[i], hm[i] = h_mean - h_each, h_mean
    return mi, hm


def test_mutual_information_equals_a_direct_computation():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(5, 4, 3, generator=g).softmax(dim=2)  # (T, B, C)
    probs[:, 3] = torch.tensor([1.0, 0.0, 0.0])  # a certain sample: 0 log 0 = 0, MI 0
    mi, h_mean = bald_scores(probs)
    ref_mi, ref_h = direct_bald(probs.double().numpy())
    np.testing.assert_allclose(mi.numpy(), np.maximum(ref_mi, 0), atol=1e-6)
    np.testing.assert_allclose(h_mean.numpy(), ref_h, atol=1e-6)
    assert mi[3] == 0 and h_mean[3] == 0


def test_agreeing_passes_have_no_mutual_information():
    probs = torch.tensor([[0.2, 0.8]]).expand(6, 1, 2)  # every pass says the same
    mi, h_mean = bald_scores(probs)
    assert float(mi) == pytest.approx(0.0, abs=1e-7)
    assert float(h_mean) == pytest.approx(-(0.2 * np.log(0.2) + 0.8 * np.log(0.8)), rel=1e-6)


def _head(p: float, d: int = 6, c: int = 3) -> LinearHead:
    torch.manual_seed(0)
    return LinearHead(nn.Linear(d, c), p)


def test_mc_passes_are_inverted_dropout_of_the_head():
    head, emb = _head(0.3), torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    probs = mc_dropout_probs(head, emb, 5, torch.Generator().manual_seed(7))
    keep = torch.rand((5, 4, 6), generator=torch.Generator().manual_seed(7)) >= 0.3
    expected = head.linear(emb * keep / 0.7).softmax(dim=-1)  # (T, B, C)
    torch.testing.assert_close(probs, expected.detach())


def test_mc_passes_average_to_the_deterministic_head():
    """Inverted dropout is unbiased for a linear layer: the mean logit over many passes is the
    eval-mode logit (a check of the 1 / (1 - p) scaling)."""
    head, emb = _head(0.5), torch.randn(3, 6, generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(0)
    keep = torch.rand((20000, 3, 6), generator=g) >= 0.5
    mean_logit = head.linear(emb * keep / 0.5).mean(dim=0)
    torch.testing.assert_close(mean_logit, head.linear(emb), atol=0.05, rtol=0.0)


def test_chunked_passes_keep_shape_and_values_are_probabilities():
    head, emb = _head(0.5), torch.randn(4, 6)
    probs = mc_dropout_probs(head, emb, 7, torch.Generator().manual_seed(0), max_elements=30)
    assert probs.shape == (7, 4, 3)  # 30 // (4 x 6) = 1 pass per product
    torch.testing.assert_close(probs.sum(dim=2), torch.ones(7, 4))


def _out(p: float) -> StepOutput:
    head = _head(p)
    emb = torch.randn(8, 6, generator=torch.Generator().manual_seed(3))
    return StepOutput(head.linear(emb).detach(), torch.zeros(8), [], emb, head)


def test_collect_is_reproducible_and_leaves_the_global_generator_alone():
    out = _out(0.5)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = BaldStrategy().collect(out, None, None)
    assert torch.equal(torch.get_rng_state(), state)
    second = BaldStrategy().collect(out, None, None)
    torch.testing.assert_close(first["bald"], second["bald"], rtol=0, atol=0)
    assert (first["bald"] > 0).all()
    other = BaldStrategy(seed=1).collect(out, None, None)
    assert not torch.equal(first["bald"], other["bald"])
    mc = MCEntropyStrategy().collect(out, None, None)
    torch.testing.assert_close(mc["mc_entropy"], first["mc_entropy"])


def test_select_takes_the_highest_mutual_information():
    from albench.contracts import Scan

    scan = Scan(
        candidates=np.array([5, 6, 7]),
        stats={"bald": torch.tensor([0.1, 0.3, 0.2]), "mc_entropy": torch.tensor([0.9, 0.1, 0.5])},
    )
    rng = np.random.default_rng(0)
    assert BaldStrategy().select(scan, 2, rng).tolist() == [6, 7]
    assert MCEntropyStrategy().select(scan, 2, rng).tolist() == [5, 7]


def test_no_dropout_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="head_dropout"):
        BaldStrategy().collect(_out(0.0), None, None)
    plain = TASKS.create("digits", {}, "tasks.digits.params")  # head_dropout 0: the default
    with pytest.raises(UnsupportedPairError, match="mc_dropout"):
        check_pair("digits", plain.provides, "bald", STRATEGIES.capabilities("bald"))
    dropout = TASKS.create("digits", {"head_dropout": 0.2}, "tasks.digits.params")
    check_pair("digits", dropout.provides, "bald", STRATEGIES.capabilities("bald"))
    for task in ("shapes", "stickmen"):  # no published MC-dropout definition there
        with pytest.raises(UnsupportedPairError):
            check_pair(task, TASKS.capabilities(task), "bald", STRATEGIES.capabilities("bald"))


def test_head_dropout_leaves_the_eval_model_unchanged_and_feeds_the_head():
    """The same weights give the same eval-mode logits with and without head dropout (dropout
    is only active in training), and the step hands the model's last layer to strategies."""
    base = TASKS.create("digits", {}, "p")
    drop = TASKS.create("digits", {"head_dropout": 0.5}, "p")
    torch.manual_seed(0)
    m0 = base.build_model().eval()
    torch.manual_seed(0)
    m1 = drop.build_model().eval()
    batch = base.example_batch(4)
    with torch.no_grad():
        o0, o1 = base.step(m0, batch, train=False), drop.step(m1, batch, train=False)
    torch.testing.assert_close(o0.output, o1.output, rtol=0, atol=0)
    assert o1.head.dropout == 0.5 and o1.head.linear is m1.linear
    torch.testing.assert_close(o1.head.linear(o1.embedding), o1.output)


def test_passes_must_be_positive():
    from albench.errors import ConfigError

    with pytest.raises(ConfigError, match="passes"):
        BaldStrategy(passes=0)
