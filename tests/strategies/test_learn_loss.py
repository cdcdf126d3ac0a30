"""Learning loss: Eq. 2 by hand, the module of Fig. 2, and the stop-gradient epoch."""

from __future__ import annotations

import pytest
import torch

from albench.contracts import StepOutput
from albench.strategies.learn_loss import (
    LearnLossMSEStrategy,
    LearnLossStrategy,
    LossPredictionModule,
    mse_loss_prediction_loss,
    ranking_loss,
)
from albench.tasks.classification.digits import DigitsTask


def _hinge(p_i, p_j, l_i, l_j, margin=1.0):
    sign = 1.0 if l_i > l_j else -1.0
    return max(0.0, -sign * (p_i - p_j) + margin)


def test_ranking_loss_pairs_i_with_b_minus_1_minus_i():
    pred = torch.tensor([0.5, 2.0, -1.0, 0.3])
    true = torch.tensor([3.0, 1.0, 2.0, 0.0])
    # pairs (0, 3) and (1, 2), mean over the B/2 = 2 pairs
    expected = (_hinge(0.5, 0.3, 3.0, 0.0) + _hinge(2.0, -1.0, 1.0, 2.0)) / 2
    assert ranking_loss(pred, true).item() == pytest.approx(expected)
    assert expected == pytest.approx((0.8 + 4.0) / 2)


def test_ranking_loss_ties_take_minus_one_and_margin_applies():
    pred = torch.tensor([1.0, 0.0])
    tied = torch.tensor([2.0, 2.0])  # l_i > l_j is false -> sign -1
    assert ranking_loss(pred, tied).item() == pytest.approx(max(0, (1.0 - 0.0) + 1.0))
    assert ranking_loss(pred, tied, margin=0.5).item() == pytest.approx(1.5)
    # correctly ordered by more than the margin: no loss
    assert ranking_loss(torch.tensor([3.0, 1.0]), torch.tensor([1.0, 0.0])).item() == 0.0


def test_ranking_loss_drops_an_odd_last_sample():
    pred = torch.tensor([0.0, 1.0, 2.0, 100.0])
    true = torch.tensor([1.0, 0.0, 5.0, 9.0])
    odd = ranking_loss(pred[:3], true[:3])  # B = 3 -> only the pair (0, 1)
    assert odd.item() == pytest.approx(_hinge(0.0, 1.0, 1.0, 0.0))


def test_ranking_loss_detaches_the_true_loss():
    pred = torch.tensor([0.2, -0.4, 0.1, 0.9], requires_grad=True)
    true = torch.tensor([1.0, 2.0, 0.5, 0.1], requires_grad=True)
    ranking_loss(pred, true).backward()
    assert true.grad is None
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_mse_variant_is_squared_error_with_detached_target():
    pred = torch.tensor([1.0, 2.0], requires_grad=True)
    true = torch.tensor([0.0, 4.0], requires_grad=True)
    loss = mse_loss_prediction_loss(pred, true)
    assert loss.item() == pytest.approx((1 + 4) / 2)
    loss.backward()
    assert true.grad is None
    assert LearnLossMSEStrategy().weight == 0.1


def test_module_parameter_count_for_resnet18_taps():
    module = LossPredictionModule((64, 128, 256, 512))
    assert sum(p.numel() for p in module.parameters()) == 123_905


def test_module_registers_its_branches_and_returns_b():
    module = LossPredictionModule((4, 8))
    names = {n for n, _ in module.named_parameters()}
    assert {"branches.0.weight", "branches.1.weight", "head.weight"} <= names
    out = module([torch.randn(5, 4, 3, 3), torch.randn(5, 8, 2, 2)])
    assert out.shape == (5,)  # never (5, 1), which broadcasts to (5, 5) against (5,)


def _joint_grads(detach_taps: bool) -> tuple[float, float]:
    torch.manual_seed(0)
    task = DigitsTask()
    model = task.build_model()
    strategy = LearnLossStrategy()
    aux = strategy.auxiliary(task)
    out = task.step(model, task.example_batch(8), train=True)
    terms = strategy.extra_losses(out, aux, detach_taps=detach_taps)
    terms["ranking"].backward()
    model_grad = sum(p.grad.abs().sum().item() for p in model.parameters() if p.grad is not None)
    aux_grad = sum(p.grad.abs().sum().item() for p in aux.parameters() if p.grad is not None)
    return model_grad, aux_grad


def test_stop_gradient_blocks_the_module_gradient_from_the_target_model():
    before_model, before_aux = _joint_grads(detach_taps=False)
    after_model, after_aux = _joint_grads(detach_taps=True)
    assert before_model > 0 and before_aux > 0
    assert after_model == 0.0  # nothing reaches the target model at/after the stop epoch
    assert after_aux > 0  # the module itself still learns


def test_training_detaches_from_the_stop_epoch_on():
    from albench.config import TrainConfig
    from albench.training import Learner

    seen: list[bool] = []

    class Spy(LearnLossStrategy):
        def extra_losses(self, out, aux, *, detach_taps):
            seen.append(detach_taps)
            return super().extra_losses(out, aux, detach_taps=detach_taps)

    task = DigitsTask()
    model = task.build_model()
    strategy = Spy()
    aux = strategy.auxiliary(task)
    cfg = TrainConfig(epochs=4, batch_size=4, lr=0.01, lr_milestones=(), stop_grad_epoch=2)
    loader = [task.example_batch(4)]
    history = Learner(task, strategy, model, aux, torch.device("cpu")).train(loader, cfg)
    assert seen == [False, False, True, True]
    assert [set(h) for h in history] == [{"target", "ranking"}] * 4


def test_step_loss_is_per_sample():
    task = DigitsTask()
    out: StepOutput = task.step(task.build_model(), task.example_batch(6), train=True)
    assert out.loss.shape == (6,)
