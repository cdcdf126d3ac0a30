"""Name -> class registries for tasks and strategies.

Contract:
- ``register(name)`` is a class decorator; a name can be registered once.
- ``get(name)`` returns the class for a registered name, for a name published by an installed
  package under the entry-point group ``albench.<kind>s`` (loaded on first use), or for a
  ``"package.module:ClassName"`` string (imported on the spot, not registered).
- An unknown name raises :class:`~albench.errors.UnknownNameError` with a did-you-mean and
  the valid names.
- ``describe()`` maps every name to the first line of its class docstring (``albench list``).

Built-in tasks and strategies register when ``albench.tasks`` / ``albench.strategies`` are
imported; the registries import them lazily so that ``albench.registry`` stays light.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from albench.errors import ConfigError, UnknownNameError, did_you_mean, unknown

__all__ = ["Registry", "STRATEGIES", "TASKS"]


class Registry:
    """A registry of one kind of plug-in ("task" or "strategy")."""

    def __init__(self, kind: str, builtin_module: str):
        self.kind = kind
        self.group = f"albench.{'strategies' if kind == 'strategy' else kind + 's'}"
        self._builtin_module = builtin_module
        self._classes: dict[str, type] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[type], type]:
        def decorator(cls: type) -> type:
            if name in self._classes and self._classes[name] is not cls:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._classes[name] = cls
            cls.name = name
            return cls

        return decorator

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        importlib.import_module(self._builtin_module)
        for ep in entry_points(group=self.group):
            if ep.name not in self._classes:
                self._classes[ep.name] = ep.load()

    def names(self) -> list[str]:
        self._load()
        return sorted(self._classes)

    def get(self, name: str) -> type:
        if ":" in name:
            return _import_string(self.kind, name)
        self._load()
        if name not in self._classes:
            raise unknown(self.kind, name, self._classes, "or give a 'package.module:Class' path")
        return self._classes[name]

    def create(self, name: str, kwargs: dict[str, Any], where: str) -> Any:
        """Instantiate ``name`` with ``kwargs``, rejecting keys its constructor does not take."""
        cls = self.get(name)
        accepted = [
            p.name
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        for key in kwargs:
            if key not in accepted:
                raise ConfigError(
                    f"unknown key {where}.{key}{did_you_mean(key, accepted)}; {self.kind} "
                    f"{name!r} takes: {', '.join(accepted) or 'no parameters'}"
                )
        return cls(**kwargs)

    def describe(self) -> dict[str, str]:
        self._load()
        return {n: _first_line(c.__doc__) for n, c in sorted(self._classes.items())}


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


def _import_string(kind: str, spec: str) -> type:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownNameError(
            f"{kind} {spec!r}: cannot import module {module_name!r} ({exc}); "
            "check the module path and that its package is installed"
        ) from None
    try:
        cls = getattr(module, attr)
    except AttributeError:
        raise UnknownNameError(
            f"{kind} {spec!r}: module {module_name!r} has no attribute {attr!r}"
        ) from None
    if not getattr(cls, "name", None):
        cls.name = spec
    return cls


TASKS = Registry("task", "albench.tasks")
STRATEGIES = Registry("strategy", "albench.strategies")
