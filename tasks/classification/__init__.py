"""Image classification tasks: ``cifar10`` (paper §4.1) and its embedded twin ``digits``."""

from albench.tasks.classification.cifar10 import Cifar10Task
from albench.tasks.classification.digits import DigitsTask

__all__ = ["Cifar10Task", "DigitsTask"]
