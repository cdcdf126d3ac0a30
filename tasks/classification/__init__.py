"""Image classification tasks: ``cifar10`` (paper §4.1) and its embedded twin ``digits``.

Each class is imported on first access, so a digits job never imports torchvision (which
``cifar10`` reads CIFAR-10 with; about 2 s of CPU in every process that imports it)."""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {"Cifar10Task": "cifar10", "DigitsTask": "digits"}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
