"""Speed settings of training: compile fallback, bf16 autocast with fp32 ranking loss."""

from __future__ import annotations

import pytest
import torch

from albench.config import TrainConfig
from albench.strategies.learn_loss import LearnLossStrategy
from albench.tasks.classification.digits import DigitsTask
from albench.training import Learner, accelerate


def test_compile_failure_falls_back_to_eager_with_the_reason(monkeypatch):
    def broken_compile(model, *a, **kw):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken_compile)
    task = DigitsTask()
    model = task.build_model()
    forward, note = accelerate(task, model, TrainConfig(compile=True), torch.device("cpu"))
    assert forward is model and "fallback" in note and "no compiler here" in note
    assert accelerate(task, model, TrainConfig(), torch.device("cpu")) == (model, "off")


@pytest.mark.gpu
def test_bf16_training_keeps_the_ranking_loss_in_fp32():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    device = torch.device("cuda")
    seen = {}

    class Spy(LearnLossStrategy):
        def prediction_loss(self, pred, target):
            loss = super().prediction_loss(pred, target)
            seen.update(pred=pred.dtype, target=target.dtype, loss=loss.dtype)
            return loss

    task = DigitsTask()
    model = task.build_model().to(device)
    strategy = Spy()
    aux = strategy.auxiliary(task).to(device)
    cfg = TrainConfig(epochs=1, batch_size=8, lr=0.01, lr_milestones=(), precision="bf16")
    batch = task.to_device(task.example_batch(8), device)
    logits_dtype = {}
    hook = model.linear.register_forward_hook(lambda m, i, o: logits_dtype.update(d=o.dtype))
    Learner(task, strategy, model, aux, device).train([batch], cfg)
    hook.remove()
    assert logits_dtype["d"] == torch.bfloat16  # the target model ran in bf16
    assert seen == {"pred": torch.float32, "target": torch.float32, "loss": torch.float32}
