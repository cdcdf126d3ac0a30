"""Registries: built-ins, module:Class strings, unknown names, parameter checks."""

from __future__ import annotations

import pytest

from albench.errors import ConfigError, UnknownNameError
from albench.registry import STRATEGIES, TASKS, Registry
from albench.strategies.base import Strategy


class EveryOther(Strategy):
    """Takes every other candidate (a third-party strategy used by this test)."""

    def select(self, scan, budget, rng):
        return scan.candidates[::2][:budget]


def test_builtins_are_registered():
    assert STRATEGIES.names() == ["coreset", "entropy", "learn_loss", "learn_loss_mse", "random"]
    assert {"digits", "cifar10"} <= set(TASKS.names())
    assert all(STRATEGIES.describe().values())  # every entry has a one-line description


def test_module_class_string():
    from albench.strategies.entropy import EntropyStrategy

    assert STRATEGIES.get("albench.strategies.entropy:EntropyStrategy") is EntropyStrategy
    cls = STRATEGIES.get(f"{__name__}:EveryOther")  # a class outside the package
    assert cls.__name__ == "EveryOther" and issubclass(cls, Strategy)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        STRATEGIES.get("learn_los")
    assert "did you mean 'learn_loss'" in str(err.value) and "coreset" in str(err.value)
    with pytest.raises(UnknownNameError, match="cannot import"):
        STRATEGIES.get("no_such_module_xyz:Thing")
    with pytest.raises(UnknownNameError, match="no attribute"):
        STRATEGIES.get("albench.strategies:NoSuchThing")


def test_create_rejects_unknown_hyperparameters():
    assert STRATEGIES.create("learn_loss", {"weight": 0.5}, "s").weight == 0.5
    with pytest.raises(ConfigError, match="did you mean 'margin'"):
        STRATEGIES.create("learn_loss", {"margn": 1.0}, "strategies.learn_loss")
    with pytest.raises(ConfigError, match="no parameters"):
        STRATEGIES.create("random", {"x": 1}, "strategies.random")


def test_double_registration_fails():
    reg = Registry("thing", "albench.strategies")
    reg.register("a")(EveryOther)
    with pytest.raises(ValueError):
        reg.register("a")(Strategy)


def test_entry_points_are_discovered(monkeypatch):
    from importlib.metadata import EntryPoint

    import albench.registry as registry

    def fake_entry_points(group):
        assert group == "albench.strategies"
        return [EntryPoint("third_party", "tests.test_registry:EveryOther", group)]

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    reg = Registry("strategy", "albench.strategies")
    assert "third_party" in reg.names() and "entropy" not in reg.names()  # fresh registry
    assert reg.get("third_party").__name__ == "EveryOther"
    assert reg.describe()["third_party"].startswith("Takes every other candidate")
