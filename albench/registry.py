"""Lazy name -> class registries for tasks and strategies.

Contract:

- A built-in is declared once, beside its class, with :func:`builtin` (its name and rank).
  The registry reads the built-ins from ``albench/builtin_index.py``, generated from those
  declarations (``python -m albench.registry``; rebuilt on its own when the built-in
  packages' source changes): each one's ``"module:Class"``, one-line summary (its docstring's
  first line) and capabilities (what a task provides, what a strategy requires) are known
  without importing anything, and the class is imported on first ``get``.
- Installed packages add names through the entry-point groups ``albench.tasks`` and
  ``albench.strategies`` (loaded on first ``get``); ``register(name)`` adds a class at run
  time; ``get("package.module:Class")`` imports a class on the spot without registering it.
- ``get`` of an unknown name raises :class:`~albench.errors.UnknownNameError` with a
  did-you-mean and the valid names; a plug-in that fails to import raises
  :class:`~albench.errors.PluginError` naming the plug-in, the exception type and message.
- ``names()`` lists built-ins in rank order (the order reports use), then the rest sorted.

Nothing here imports torch, a task family or MLflow: ``albench list``, ``albench --help`` and
every bad-input error stay fast.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import math
import os
import sys
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from albench.errors import (
    ConfigError,
    PluginError,
    UnknownNameError,
    UnsupportedPairError,
    did_you_mean,
    unknown,
)
from albench.schema import is_score_column

__all__ = [
    "BUILTIN_PACKAGES",
    "Entry",
    "Registry",
    "STRATEGIES",
    "TASKS",
    "builtin",
    "builtin_classes",
    "check_pair",
    "missing_capabilities",
    "scan_builtins",
    "source_fingerprint",
    "write_index",
]


def missing_capabilities(provides: Iterable[str], requires: Iterable[str]) -> list[str]:
    """The required capabilities a task does not provide, sorted (empty: the pair runs).

    A requirement ``"a|b"`` lists alternatives: it is met when the task provides any of them.
    """
    have = set(provides)
    return sorted(r for r in set(requires) if not have & set(r.split("|")))


def check_pair(task: str, provides: Iterable[str], strategy: str, requires: Iterable[str]) -> None:
    """Raise :class:`~albench.errors.UnsupportedPairError` (one line naming the strategy, the
    task and what is missing) when the task lacks a capability the strategy requires."""
    missing = missing_capabilities(provides, requires)
    if missing:
        raise UnsupportedPairError(
            f"strategy {strategy!r} cannot run on task {task!r}: it needs "
            f"{', '.join(m.replace('|', ' or ') for m in missing)}, which the task does not "
            "provide (it provides "
            f"{', '.join(sorted(provides)) or 'nothing'}); drop one of them from "
            "--tasks/--strategies or change the task's parameters (albench list shows the "
            "support matrix)"
        )


@dataclass(frozen=True)
class Entry:
    """A built-in: where its class lives, its one-line summary and its capabilities."""

    target: str  # "package.module:Class"
    summary: str  # the first line of the class docstring
    capabilities: tuple[str, ...]  # a task's ``provides`` / a strategy's ``requires``
    embedded: bool = False  # a task's ``embedded``: offline data, runs on a CPU


def builtin(name: str, rank: int) -> Callable[[type], type]:
    """Declare a built-in task or strategy, beside its class: ``name`` is what benchmarks and
    the command line call it, ``rank`` its place in listings (reports give colours in this
    order). This decorator is the only declaration: the registry reads the built-ins from an
    index generated from these decorators (:func:`scan_builtins`, written to
    ``albench/builtin_index.py``), so ``albench list`` imports none of them; the index is
    rebuilt when the source of a built-in package changes (:func:`source_fingerprint`)."""

    def decorator(cls: type) -> type:
        cls.name = name
        cls._builtin = (name, rank)
        return cls

    return decorator


BUILTIN_PACKAGES = {"task": "albench.tasks", "strategy": "albench.strategies"}
_CAPABILITY_ATTRS = {"task": "provides", "strategy": "requires"}
INDEX = Path(__file__).with_name("builtin_index.py")


def _package_folders(package: str) -> list[Path]:
    """Where a built-in package's modules are, without importing the package."""
    module = sys.modules.get(package)
    if module is not None:
        return [Path(p) for p in module.__path__]
    spec = importlib.util.find_spec(package)
    return [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []


def source_fingerprint() -> str:
    """A hash of every module of the built-in packages (about 1 ms): the index is current
    when it was generated from these bytes."""
    digest = hashlib.sha256()
    for package in BUILTIN_PACKAGES.values():
        for folder in _package_folders(package):
            for path in sorted(folder.rglob("*.py")):
                digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


def scan_builtins() -> dict[str, dict[str, Entry]]:
    """kind -> name -> Entry of every class declared with :func:`builtin` in the built-in
    packages, in rank order. Imports every built-in module (seconds: torch, torchvision)."""
    import pkgutil

    tables: dict[str, dict[str, Entry]] = {}
    for kind, package in BUILTIN_PACKAGES.items():
        found: dict[str, tuple[int, Entry]] = {}
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            for cls in vars(importlib.import_module(info.name)).values():
                declared = cls.__dict__.get("_builtin") if isinstance(cls, type) else None
                if declared is None or cls.__module__ != info.name:
                    continue
                name, rank = declared
                if name in found:
                    raise ValueError(f"built-in {kind} {name!r} is declared twice")
                entry = Entry(
                    f"{cls.__module__}:{cls.__qualname__}",
                    _first_line(cls.__doc__),
                    tuple(sorted(getattr(cls, _CAPABILITY_ATTRS[kind]))),
                    bool(getattr(cls, "embedded", False)),
                )
                found[name] = (rank, entry)
        tables[kind] = {n: e for n, (_, e) in sorted(found.items(), key=lambda x: x[1][0])}
    return tables


def write_index(tables: dict[str, dict[str, Entry]], fingerprint: str) -> None:
    """Write the generated index (atomically: parallel processes may rebuild it at once)."""
    lines = [
        '"""Generated by ``python -m albench.registry`` from the @builtin declarations of the',
        "built-in tasks and strategies: do not edit (the registry rebuilds it when their source",
        'changes). The only place in albench/ that names a built-in."""',
        "",
        f"FINGERPRINT = {fingerprint!r}",
    ]
    for kind, table in tables.items():
        lines.append(f"{kind.upper()} = {{")
        for name, e in table.items():
            lines.append(
                f"    {name!r}: ({e.target!r}, {e.summary!r}, {e.capabilities!r}, {e.embedded}),"
            )
        lines.append("}")
    tmp = INDEX.with_name(f".{INDEX.name}.{os.getpid()}")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, INDEX)


def builtin_classes(kind: str) -> dict[str, str]:
    """Class name -> module of each built-in of ``kind`` (the lazy attributes of
    ``albench.tasks`` and ``albench.strategies``), from the index."""
    registry = TASKS if kind == "task" else STRATEGIES
    out = {}
    for entry in registry.builtins.values():
        module, _, cls = entry.target.partition(":")
        out[cls] = module
    return out


def _builtin_tables() -> dict[str, dict[str, Entry]]:
    """The built-ins from the generated index; rebuilt first when the built-in packages'
    source changed since it was generated (a new or edited built-in)."""
    from albench import builtin_index

    fingerprint = source_fingerprint()
    if builtin_index.FINGERPRINT == fingerprint:
        return {
            kind: {n: Entry(*v) for n, v in getattr(builtin_index, kind.upper()).items()}
            for kind in BUILTIN_PACKAGES
        }
    tables = scan_builtins()
    try:
        write_index(tables, fingerprint)
    except OSError:  # an installed, read-only copy: use what the scan found
        pass
    return tables


class Registry:
    """A registry of one kind of plug-in ("task" or "strategy"); see the module docstring."""

    def __init__(self, kind: str, builtins: dict[str, Entry] | None = None):
        self.kind = kind
        self.group = f"albench.{'strategies' if kind == 'strategy' else kind + 's'}"
        self._builtins = builtins  # None: the generated index's, read on first use
        self._capability_attr = _CAPABILITY_ATTRS.get(kind, "requires")  # or "provides"
        self._classes: dict[str, type] = {}  # loaded or registered at run time
        self._entry_points: dict[str, Any] | None = None

    @property
    def builtins(self) -> dict[str, Entry]:
        """name -> Entry of the built-ins, in rank order."""
        if self._builtins is None:
            self._builtins = _builtin_tables()[self.kind]
        return self._builtins

    # -- names
    def _plugins(self) -> dict[str, Any]:
        if self._entry_points is None:
            self._entry_points = {
                ep.name: ep for ep in entry_points(group=self.group) if ep.name not in self.builtins
            }
        return self._entry_points

    def names(self) -> list[str]:
        """Built-ins in table order, then registered and installed plug-ins, sorted."""
        others = (set(self._classes) | set(self._plugins())) - set(self.builtins)
        return list(self.builtins) + sorted(others)

    def __contains__(self, name: str) -> bool:
        return name in self.builtins or name in self._classes or name in self._plugins()

    def check(self, name: str) -> None:
        """Raise the unknown-name error for ``name`` without importing a registered class
        (a ``package.module:Class`` string is imported to check it)."""
        if ":" in name:
            self.get(name)
        elif name not in self:
            raise unknown(self.kind, name, self.names(), "or give a 'package.module:Class' path")

    # -- classes
    def register(self, name: str) -> Callable[[type], type]:
        """Class decorator: make ``name`` resolve to the class (plug-ins loaded at run time)."""

        def decorator(cls: type) -> type:
            known = self._classes.get(name)
            if (known is not None and known is not cls) or name in self.builtins:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._classes[name] = cls
            cls.name = name
            return cls

        return decorator

    def get(self, name: str) -> type:
        """The class of ``name``: a registered name or a ``package.module:Class`` string."""
        if name in self._classes:
            return self._classes[name]
        if name in self.builtins:
            cls = _import_string(self.kind, self.builtins[name].target)
        elif name in self._plugins():
            cls = _load_plugin(self.kind, name, self._plugins()[name].load)
        elif ":" in name:
            return _import_string(self.kind, name)
        else:
            raise unknown(self.kind, name, self.names(), "or give a 'package.module:Class' path")
        cls.name = name
        self._classes[name] = cls
        return cls

    def summary(self, name: str) -> str:
        """The one-line description of ``name`` (built-ins: without importing them)."""
        if name in self.builtins:
            return self.builtins[name].summary
        return _first_line(self.get(name).__doc__)

    def capabilities(self, name: str) -> frozenset[str]:
        """What ``name`` provides (tasks) or requires (strategies); built-ins without import."""
        if name in self.builtins:
            return frozenset(self.builtins[name].capabilities)
        return frozenset(getattr(self.get(name), self._capability_attr))

    def embedded(self, name: str) -> bool:
        """A task's ``embedded`` flag (built-ins: without importing them)."""
        if name in self.builtins:
            return self.builtins[name].embedded
        return bool(getattr(self.get(name), "embedded", False))

    def describe(self) -> dict[str, str]:
        return {n: self.summary(n) for n in self.names()}

    # -- instances
    def resolve_params(self, name: str, kwargs: dict[str, Any], where: str) -> dict[str, Any]:
        """Every constructor parameter of ``name`` with its value: ``kwargs`` over the code
        defaults. Unknown keys fail with the valid ones (``where`` names the config table)."""
        cls = self.get(name)
        params = {
            p.name: p
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        for key in kwargs:
            if key not in params:
                raise ConfigError(
                    f"unknown key {where}.{key}{did_you_mean(key, params)}; {self.kind} "
                    f"{name!r} takes: {', '.join(params) or 'no parameters'}"
                )
        resolved = {k: p.default for k, p in params.items() if p.default is not p.empty}
        hints = _annotations(cls.__init__)
        for key, value in kwargs.items():
            if not _check_annotation(f"{where}.{key}", value, hints.get(key)):
                _check_like_default(f"{where}.{key}", value, resolved.get(key))
        return resolved | dict(kwargs)

    def create(self, name: str, kwargs: dict[str, Any], where: str) -> Any:
        """Instantiate ``name`` with ``kwargs``, rejecting keys its constructor does not take."""
        return self.get(name)(**self.resolve_params(name, kwargs, where))


def _annotations(function: Callable[..., Any]) -> dict[str, Any]:
    """``function``'s resolved parameter annotations; none when a plug-in's cannot be
    resolved (its parameters are then checked against their defaults alone)."""
    try:
        return typing.get_type_hints(function)
    except Exception:
        return {}


def _check_annotation(key: str, value: Any, hint: Any) -> bool:
    """Check a config value against its constructor annotation (bool, int, float, str,
    ``Literal``, unions and tuples of those); False when there is none albench can judge."""
    from albench.config import type_name, type_ok

    if hint is None or hint is Any:
        return False
    try:
        ok, _ = type_ok(value, hint)
    except TypeError:  # an annotation a TOML value cannot be judged against (a Sequence, a class)
        return False
    if ok and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} = {value!r} is invalid: expected a finite number")
    if not ok:
        raise ConfigError(f"{key} = {value!r} is invalid: expected {type_name(hint, _KIND_WORDS)}")
    return True


# an annotation's types in the words of the default-based check (_check_like_default)
_KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a finite number",
               str: "a text", type(None): "nothing"}  # fmt: skip


def _check_like_default(key: str, value: Any, default: Any) -> None:
    """A parameter given in a config must be of its default's kind (a bool, a whole number,
    a finite number, a text); parameters without a plain default are left to their class."""
    kinds = (
        (bool, lambda v: isinstance(v, bool), "true or false"),
        (int, lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
        (float, lambda v: isinstance(v, int | float) and not isinstance(v, bool)
         and math.isfinite(v), "a finite number"),
        (str, lambda v: isinstance(v, str), "a text"),
    )  # fmt: skip
    for kind, ok, expected in kinds:
        if isinstance(default, kind):
            if not ok(value):
                raise ConfigError(f"{key} = {value!r} is invalid: expected {expected}")
            return


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


def _load_plugin(kind: str, label: str, load: Callable[[], Any]) -> Any:
    """Run ``load``; any exception becomes a one-line :class:`PluginError` (cause chained)."""
    try:
        return load()
    except Exception as exc:
        raise PluginError(
            f"{kind} plug-in {label!r} failed to load: {type(exc).__name__}: {exc}; fix or "
            "uninstall the plug-in (ALBENCH_DEBUG=1 shows the traceback)"
        ) from exc


def _import_string(kind: str, spec: str) -> type:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise UnknownNameError(
                f"{kind} {spec!r}: cannot import module {module_name!r} ({exc}); check the "
                "module path and that its package is installed"
            ) from None
        module = _load_plugin(kind, spec, lambda: importlib.import_module(module_name))
    except Exception:
        module = _load_plugin(kind, spec, lambda: importlib.import_module(module_name))
    cls = getattr(module, attr, None)
    if cls is None:
        raise unknown(f"class in module {module_name!r} for {kind}", attr, _classes_in(module))
    _check_base(kind, spec, cls)
    if not getattr(cls, "name", None):
        cls.name = spec
    return cls


BASES = {"task": "albench.contracts.Task", "strategy": "albench.contracts.Strategy"}


def _check_base(kind: str, spec: str, cls: Any) -> None:
    """A ``package.module:Class`` must name a subclass of the contract's base class (checked
    by name: the registry does not import torch)."""
    base = BASES.get(kind)
    mro = getattr(cls, "__mro__", ()) if isinstance(cls, type) else ()
    if base and not any(f"{b.__module__}.{b.__qualname__}" == base for b in mro):
        raise UnknownNameError(
            f"{kind} {spec!r} is not a {base.rpartition('.')[2]} class (it is a "
            f"{type(cls).__name__}); give a class deriving from {base}"
        )
    taken = [n for n in getattr(cls, "scores", ()) if not is_score_column(n)]
    if kind == "strategy" and taken:
        raise UnknownNameError(
            f"strategy {spec!r} declares the score {taken[0]!r}, a name the test-score CSV "
            "keeps for the index, the loss or the task's outcome; rename the score"
        )


def _classes_in(module: Any) -> list[str]:
    return [k for k, v in vars(module).items() if isinstance(v, type) and not k.startswith("_")]


TASKS = Registry("task")
STRATEGIES = Registry("strategy")


if __name__ == "__main__":  # python -m albench.registry: regenerate the index
    write_index(scan_builtins(), source_fingerprint())
    print(f"wrote {INDEX}")
