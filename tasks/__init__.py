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
from albench.contracts import *  # noqa: F403  (the contract, as albench.tasks.base)

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
    # the built-in tasks
    "Cifar10Task": "albench.tasks.classification.cifar10",
    "DigitsTask": "albench.tasks.classification.digits",
    "VocTask": "albench.tasks.detection.voc",
    "ShapesTask": "albench.tasks.detection.shapes",
    "MpiiTask": "albench.tasks.pose.mpii",
    "StickmenTask": "albench.tasks.pose.stickmen",
}

__all__ = [*contracts.__all__, *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'albench.tasks' has no attribute {name!r}")
