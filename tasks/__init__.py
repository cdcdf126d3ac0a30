"""Tasks (installed as ``albench.tasks``): the contract, the helpers a task author needs, and
the built-in task families.

Importing this package is light: the contract comes from :mod:`albench.contracts`, and every
other name below is imported on first access, so ``from albench.tasks import Task`` never
loads torchvision's detection models or a task family. The registry
(:data:`albench.registry.TASKS`) lists the built-ins without importing them either.
"""

from __future__ import annotations

import importlib
from typing import Any

from albench import contracts
from albench.contracts import *  # noqa: F403  (the contract)
from albench.registry import builtin_classes

_LAZY = {
    # helpers for a new task (docs/adding-a-task.md)
    "ClassificationTask": "albench.tasks.classification.common",
    "ImageTensorDataset": "albench.tasks.classification.common",
    "Accuracy": "albench.tasks.classification.common",
    "softmax_entropy": "albench.tasks.classification.common",
    "classifier_head": "albench.tasks.classification.common",
    "ImageArrays": "albench.tasks.classification.resident",
    "ResidentImages": "albench.tasks.classification.resident",
    "DetectionTask": "albench.tasks.detection.common",
    "PoseTask": "albench.tasks.pose.common",
    "resize_square": "albench.tasks.images",
}

__all__ = [*contracts.__all__, *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    """A helper, or a built-in task class (from the registry's index: each is declared once,
    with ``@builtin``), imported on first access."""
    where = _LAZY | builtin_classes("task")
    if name in where:
        return getattr(importlib.import_module(where[name]), name)
    raise AttributeError(f"module 'albench.tasks' has no attribute {name!r}")
