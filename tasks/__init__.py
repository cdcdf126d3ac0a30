"""Tasks (installed as ``albench.tasks``); importing this registers the built-in ones."""

from albench.tasks import detection, pose  # noqa: F401  (registers their tasks)
from albench.tasks.base import DeviceData, EvalResult, Metric, StepOutput, Task, TaskData
from albench.tasks.classification import Cifar10Task, DigitsTask

__all__ = [
    "Cifar10Task",
    "DeviceData",
    "DigitsTask",
    "EvalResult",
    "Metric",
    "StepOutput",
    "Task",
    "TaskData",
]
