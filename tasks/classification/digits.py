"""``digits``: the embedded classification twin, on scikit-learn's bundled 8x8 digits.

Real data that ships with scikit-learn (1,797 images of handwritten digits, 16 grey levels),
so a whole benchmark runs offline on a CPU in minutes through exactly the code path of
CIFAR-10: per-sample cross-entropy, softmax entropy, accuracy, a small CNN with three
loss-module taps and a 128-d core-set embedding.

Split: a fixed permutation (seed 0, independent of the trial seed) puts ``test_size`` images in
the test split and the rest (1,300 by default) in the pool. Augmentation: a random shift of up
to ``shift`` pixels (zero padding + random crop), the 8x8 analogue of CIFAR's pad-4 crop.
Pixels are scaled to [0, 1] and normalised with the pool's mean and std.

Scenarios (off by default; ``tasks/scenarios.py``), built into the pool only, in this order,
from a fixed generator (seed 0, the same pool in every trial):
``imbalance`` (a long-tailed pool, class c keeping 1 / imbalance^(c/9) of the smallest class
count; the metric becomes balanced accuracy), ``honeypot`` (that share of the pool, drawn
from ``honeypot_classes``, gets wrong labels), ``copies`` (every pool image that many times,
each copy with independent Gaussian noise of std ``copy_noise`` on the [0, 1] pixels). The
pool's facts go to ``TaskData.facts`` for the picks' diagnostics: the true class always, the
copy group and the honeypot when those scenarios are on.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from albench.config import ALConfig
from albench.contracts import MC_DROPOUT, Expectation, Metric, TaskData
from albench.errors import ConfigError
from albench.registry import builtin
from albench.tasks.classification.common import (
    BalancedAccuracy,
    ClassificationTask,
    ImageTensorDataset,
    Normalize,
    PaddedCrop,
)
from albench.tasks.classification.resident import ImageArrays
from albench.tasks.scenarios import (
    HONEYPOT_SOURCE,
    IMBALANCE_SOURCE,
    honeypot,
    long_tail,
    low_budget_expectations,
    noisy_copies,
    redundant,
    redundant_expectations,
)

__all__ = ["DigitsNet", "DigitsTask"]


def _conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class DigitsNet(nn.Module):
    """A three-stage CNN for 8x8 digits; ``forward`` returns ``(logits, taps, embedding)``."""

    tap_channels = (32, 64, 128)

    def __init__(self, num_classes: int = 10, head_dropout: float = 0.0):
        super().__init__()
        self.stage1 = _conv_bn(1, 32, stride=1)
        self.stage2 = _conv_bn(32, 64, stride=2)
        self.stage3 = _conv_bn(64, 128, stride=2)
        self.head_dropout = head_dropout  # p before the classifier; no parameters, no state
        self.linear = nn.Linear(128, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor], Tensor]:
        t1 = self.stage1(x)  # (B, 32, 8, 8)
        t2 = self.stage2(t1)  # (B, 64, 4, 4)
        t3 = self.stage3(t2)  # (B, 128, 2, 2)
        emb = F.adaptive_avg_pool2d(t3, 1).flatten(1)  # (B, 128, 2, 2) -> (B, 128)
        h = F.dropout(emb, self.head_dropout, self.training) if self.head_dropout > 0 else emb
        return self.linear(h), [t1, t2, t3], emb


@builtin("digits", rank=3)
class DigitsTask(ClassificationTask):
    """Embedded twin of cifar10: scikit-learn's bundled 8x8 digits, small CNN; accuracy."""

    provides = ClassificationTask.provides | {MC_DROPOUT}  # mc_dropout: head_dropout > 0
    tap_channels = DigitsNet.tap_channels
    num_classes = 10
    image_shape = (1, 8, 8)
    generative_size = 16  # 8x8 upsampled: the smallest side VAAL's VAE takes (16 -> 1 pixel)
    embedded = True
    sizes = (1300, 497)  # (pool, test) with the default test_size
    throughput = 20000.0  # training images/s on one GPU (estimate)
    # training images/s of one CPU job, 1 thread, in the reproducible CPU mode, and what an
    # inference pass costs (benchmarks/speed/cpu_throughput.py --kernels albench)
    cpu_throughput = 3400.0
    inference_cost = 1 / 6.0
    default_schedule = {  # as benchmarks/quick.toml: 40 -> 240 labels in 6 cycles
        "al": {"initial": 40, "budget": 40, "cycles": 6, "subset": 400},
        "train": {
            "epochs": 30,
            "batch_size": 16,
            "lr": 0.05,
            "lr_milestones": [24],
            "stop_grad_epoch": 18,
        },
    }

    def __init__(
        self,
        test_size: int = 497,
        shift: int = 1,
        head_dropout: float = 0.0,
        copies: int = 1,
        copy_noise: float = 0.05,
        honeypot: float = 0.0,
        honeypot_classes: tuple[int, ...] | list[int] = (8, 9),
        imbalance: float = 1.0,
    ):
        self.test_size = test_size  # images held out for the test split (1,797 in all)
        self.shift = shift  # max random translation in pixels for training augmentation
        # p of the dropout before the classifier; > 0 provides mc_dropout (BALD). 0: the
        # quick benchmark's model; zoo.toml sets one value for every strategy (comparable).
        self.set_head_dropout(head_dropout)
        checks = (
            ("copies", copies, isinstance(copies, int) and copies >= 1, "a whole number >= 1"),
            ("copy_noise", copy_noise, 0.0 <= copy_noise <= 1.0, "a std in [0, 1]"),
            ("honeypot", honeypot, 0.0 <= honeypot < 1.0, "a share in [0, 1)"),
            ("imbalance", imbalance, 1.0 <= imbalance < 1e6, "a ratio >= 1"),
            (
                "honeypot_classes",
                honeypot_classes,
                len(honeypot_classes) > 0
                and all(isinstance(c, int) and 0 <= c < 10 for c in honeypot_classes),
                "classes among 0..9",
            ),
        )
        for key, value, ok, expected in checks:
            if not ok:
                raise ConfigError(
                    f"tasks.digits.params.{key} = {value!r} is invalid: expected {expected}"
                )
        self.copies, self.copy_noise = copies, float(copy_noise)  # redundant pool
        self.honeypot, self.honeypot_classes = float(honeypot), tuple(honeypot_classes)
        self.imbalance = float(imbalance)  # long-tailed pool, balanced accuracy
        if self.imbalance > 1:
            self.metric, self.metric_label = "balanced_accuracy", "balanced accuracy"
        # what a plan reads without loading the data (a long tail's size is known once drawn)
        self.sizes = ((1797 - test_size) * copies, test_size) if self.imbalance == 1 else None

    def expectations(self, al: ALConfig | None = None) -> tuple[Expectation, ...]:
        """The known answers of the scenarios switched on (module docstring) and of the
        low-budget regime when the schedule ``al`` is one (tasks/scenarios.py), on the AUBC."""
        out = list(redundant_expectations(self.copies, self.provides))
        out += low_budget_expectations(al, self.num_classes)
        if self.honeypot > 0:
            out += [
                Expectation(
                    "random", picky, ("better",), HONEYPOT_SOURCE,
                    "the honeypot's wrong labels keep its loss and uncertainty high, so "
                    "uncertainty and loss keep picking there",
                )
                for picky in ("entropy", "learn_loss")
            ]  # fmt: skip
        if self.imbalance > 1:
            out += [
                Expectation(
                    picky, "random", ("better",), IMBALANCE_SOURCE,
                    "uncertainty picks the rare classes more often than their share",
                )
                for picky in ("entropy", "margin")
            ]  # fmt: skip
        return tuple(out)

    def new_metric(self) -> Metric:
        return BalancedAccuracy(self.num_classes) if self.imbalance > 1 else super().new_metric()

    def datasets(self, root: str, download: bool) -> TaskData:
        from sklearn.datasets import load_digits  # lazily: speed benchmarks import torch only

        bunch = load_digits()
        images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
        test_idx, pool_idx = order[: self.test_size], order[self.test_size :]
        labels = torch.as_tensor(bunch.target)
        pool, pool_labels, facts = self._scenario(images[pool_idx], labels[pool_idx])
        mean, std = pool.mean().item(), pool.std().item()
        self.pixel_stats = ((mean,), (std,))  # undone by generative_images
        normalize = Normalize((mean,), (std,))
        train_tf = PaddedCrop(8, self.shift, normalize) if self.shift else normalize
        grey = self.copies == 1  # the 17 grey levels as they are; noisy copies stay floats
        arrays = ImageArrays(
            pool=(pool * 16).round().to(torch.uint8) if grey else pool,  # raw 0..16 levels
            pool_labels=pool_labels,
            test=(images[test_idx] * 16).round().to(torch.uint8) if grey else images[test_idx],
            test_labels=labels[test_idx],
            scale=1 / 16 if grey else 1.0,
            mean=(mean,),
            std=(std,),
            pad=self.shift,
            flip=False,  # digits are not mirror-symmetric
        )
        return TaskData(
            pool_train=ImageTensorDataset(pool, pool_labels, train_tf),
            pool_eval=ImageTensorDataset(pool, pool_labels, normalize),
            test=ImageTensorDataset(images[test_idx], labels[test_idx], normalize),
            arrays=arrays,
            facts=facts,
        )

    def _scenario(self, pool: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, dict]:
        """The pool with the scenarios built in (see the module docstring): images, the
        labels an annotator gives, and the facts (true class, copy group, honeypot)."""
        rng = np.random.default_rng(0)
        truth = labels.numpy()
        keep = long_tail(truth, self.imbalance, rng) if self.imbalance > 1 else None
        if keep is not None:
            pool, truth = pool[torch.as_tensor(keep)], truth[keep]
        given, trap = truth, np.zeros(len(truth), dtype=bool)
        if self.honeypot > 0:
            given, trap = honeypot(truth, self.honeypot, self.honeypot_classes, 10, rng)
        source = np.arange(len(truth))
        if self.copies > 1:
            source = redundant(len(truth), self.copies, rng)
            pool = torch.as_tensor(noisy_copies(pool.numpy(), source, self.copy_noise, 1.0, rng))
        facts = {"class": truth[source]}  # what the picks' diagnostics read (TaskData.facts)
        if self.copies > 1:
            facts["copy_of"] = source
        if self.honeypot > 0:
            facts["honeypot"] = trap[source]
        return pool, torch.as_tensor(given[source]), facts

    def build_model(self) -> nn.Module:
        return DigitsNet(self.num_classes, self.head_dropout)
