"""The paper's published numbers, printed beside the measured ones in the report.

Yoo & Kweon, "Learning Loss for Active Learning", CVPR 2019 (``shared/paper.md``). Only
numbers the paper states in its text are here (the figures' other points are not given
as numbers); each carries the section and figure it comes from. Every value is at the last
active-learning cycle, 10,000 labeled samples (K = 1,000 initial + 9 x 1,000, §4).

The keys are albench task names (``cifar10``, ``voc``, ``mpii``); a task not listed (the
embedded ``digits``, ``shapes``, ``stickmen``, or a user's own) simply has no paper column.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PAPER", "PaperValue", "paper_value"]


@dataclass(frozen=True)
class PaperValue:
    value: float
    source: str  # where in the paper the number is stated


_CIFAR = "§4.1, Fig. 4"
_VOC = "§4.2, Fig. 6"
_MPII = "§4.3, Fig. 7"

# (task, strategy, quantity) -> value. quantity: "metric" is the task's metric
# (accuracy, mAP@0.5, PCKh@0.5); "rank_acc/<scorer>" ranking accuracy of a scorer (Fig. 5);
# "pearson/<scorer>" the correlation with the true loss (Fig. 8).
PAPER: dict[tuple[str, str, str], PaperValue] = {
    ("cifar10", "learn_loss", "metric"): PaperValue(0.9101, _CIFAR),
    ("cifar10", "entropy", "metric"): PaperValue(0.9059, _CIFAR),
    ("cifar10", "coreset", "metric"): PaperValue(0.9010, _CIFAR),
    ("cifar10", "random", "metric"): PaperValue(0.8764, _CIFAR),
    ("cifar10", "learn_loss", "rank_acc/predicted_loss"): PaperValue(0.9074, "§4.1, Fig. 5"),
    ("voc", "learn_loss", "metric"): PaperValue(0.7338, _VOC),
    ("voc", "entropy", "metric"): PaperValue(0.7222, _VOC),
    ("voc", "coreset", "metric"): PaperValue(0.7171, _VOC),
    ("voc", "random", "metric"): PaperValue(0.7117, _VOC),
    # "about 70% ranking accuracy" (§4.2) and "about 75%" (§4.3): approximate in the text.
    ("voc", "learn_loss", "rank_acc/predicted_loss"): PaperValue(0.70, "§4.2, Fig. 5 (about)"),
    ("mpii", "learn_loss", "metric"): PaperValue(0.8046, _MPII),
    ("mpii", "coreset", "metric"): PaperValue(0.7985, _MPII),
    ("mpii", "entropy", "metric"): PaperValue(0.7899, _MPII),
    ("mpii", "random", "metric"): PaperValue(0.7862, _MPII),
    ("mpii", "learn_loss", "rank_acc/predicted_loss"): PaperValue(0.75, "§4.3, Fig. 5 (about)"),
    ("mpii", "learn_loss", "pearson/predicted_loss"): PaperValue(0.68, "§4.3, Fig. 8 (top)"),
    ("mpii", "entropy", "pearson/entropy"): PaperValue(0.45, "§4.3, Fig. 8 (bottom)"),
}


def paper_value(task: str, strategy: str, quantity: str = "metric") -> PaperValue | None:
    """The paper's number for (task, strategy, quantity), or None when it states none."""
    return PAPER.get((task, strategy, quantity))
