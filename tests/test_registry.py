"""Registries: lazy built-ins, module:Class strings, entry points, unknown names, parameters."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from typing import Literal

import pytest

from albench.contracts import Strategy
from albench.errors import ConfigError, PluginError, UnknownNameError
from albench.registry import STRATEGIES, TASKS, Entry, Registry


class EveryOther(Strategy):
    """Takes every other candidate (a third-party strategy used by this test)."""

    def select(self, scan, budget, rng):
        return scan.candidates[::2][:budget]


def test_builtins_are_listed_in_table_order():
    assert STRATEGIES.names()[:5] == [
        "random",
        "entropy",
        "coreset",
        "learn_loss",
        "learn_loss_mse",
    ]
    assert TASKS.names()[:6] == ["cifar10", "voc", "mpii", "digits", "shapes", "stickmen"]
    assert all(STRATEGIES.describe().values())  # every entry has a one-line description


def test_listing_imports_no_task_family_torch_or_mlflow():
    """Names, summaries and capabilities of built-ins come from the tables alone."""
    code = (
        "import sys; from albench.registry import TASKS, STRATEGIES; "
        "[TASKS.summary(n) + str(TASKS.capabilities(n)) for n in TASKS.names()]; "
        "[STRATEGIES.summary(n) + str(STRATEGIES.capabilities(n)) for n in STRATEGIES.names()]; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'mlflow') "
        "or m.startswith(('albench.tasks', 'albench.strategies'))]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_contract_import_is_light():
    """``from albench.tasks import Task`` loads neither detection models nor MLflow."""
    code = (
        "import sys; from albench.tasks import Task; from albench.strategies import Strategy; "
        "print([m for m in sys.modules if m.startswith(('torchvision.models.detection', "
        "'mlflow', 'albench.tasks.', 'albench.strategies.'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_module_class_string():
    from albench.strategies.entropy import EntropyStrategy

    assert STRATEGIES.get("albench.strategies.entropy:EntropyStrategy") is EntropyStrategy
    cls = STRATEGIES.get(f"{__name__}:EveryOther")  # a class outside the package
    assert cls.__name__ == "EveryOther" and issubclass(cls, Strategy)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        STRATEGIES.get("learn_los")
    assert "did you mean 'learn_loss'" in str(err.value) and "coreset" in str(err.value)
    with pytest.raises(UnknownNameError) as err:
        STRATEGIES.check("learn_los")
    assert "did you mean 'learn_loss'" in str(err.value)
    with pytest.raises(UnknownNameError, match="cannot import"):
        STRATEGIES.get("no_such_module_xyz:Thing")
    with pytest.raises(UnknownNameError, match="NoSuchThing"):
        STRATEGIES.get("albench.strategies.random:NoSuchThing")


def test_a_plugin_that_raises_at_import_is_one_error(tmp_path, monkeypatch):
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="broken_plugin:X.*RuntimeError: boom at import"):
        STRATEGIES.get("broken_plugin:X")


def test_resolve_params_fills_in_code_defaults():
    assert STRATEGIES.resolve_params("learn_loss", {"weight": 0.5}, "s") == {
        "weight": 0.5,
        "margin": 1.0,
        "hidden": 128,
    }
    assert STRATEGIES.create("learn_loss", {"weight": 0.5}, "s").weight == 0.5
    with pytest.raises(ConfigError, match="did you mean 'margin'"):
        STRATEGIES.create("learn_loss", {"margn": 1.0}, "strategies.learn_loss")
    with pytest.raises(ConfigError, match="no parameters"):
        STRATEGIES.create("random", {"x": 1}, "strategies.random")


class Annotated(Strategy):
    """A plug-in whose parameters are checked against their annotations."""

    def __init__(
        self,
        k: int | None = None,
        mode: Literal["near", "far"] = "near",
        rate: float = 0.5,
        shape: Sequence[int] = (1,),
    ):
        self.k, self.mode, self.rate, self.shape = k, mode, rate, shape

    def select(self, scan, budget, rng):
        return scan.candidates[:budget]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("k", "three", "expected a whole number or nothing"),  # default None: the annotation
        ("k", 2.5, "expected a whole number or nothing"),
        ("k", True, "expected a whole number or nothing"),
        ("mode", "middle", "expected one of 'near', 'far'"),
        ("rate", float("nan"), "expected a finite number"),
        ("rate", "fast", "expected a finite number"),
    ],
)
def test_plugin_parameters_are_checked_against_their_annotations(key, value, expected):
    reg = Registry("strategy", {})
    reg.register("annotated")(Annotated)
    with pytest.raises(ConfigError, match=re.escape(f"s.{key} = {value!r} is invalid: {expected}")):
        reg.resolve_params("annotated", {key: value}, "s")
    good = {"k": 3, "mode": "far", "rate": 1, "shape": [2, 3]}  # a Sequence is left to the class
    assert reg.resolve_params("annotated", good, "s") == good


def test_double_registration_fails():
    reg = Registry("thing", {})
    reg.register("a")(EveryOther)
    with pytest.raises(ValueError):
        reg.register("a")(Strategy)


def test_entry_points_are_discovered(monkeypatch):
    from importlib.metadata import EntryPoint

    import albench.registry as registry

    def fake_entry_points(group):
        assert group == "albench.strategies"
        return [
            EntryPoint("third_party", "tests.test_registry:EveryOther", group),
            EntryPoint("broken", "no_such_module_xyz:Thing", group),
        ]

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    builtins = {"entropy": Entry("albench.strategies.entropy:EntropyStrategy", "e", ())}
    reg = Registry("strategy", builtins)
    assert reg.names() == ["entropy", "broken", "third_party"]
    assert reg.get("third_party").__name__ == "EveryOther"
    assert reg.summary("third_party").startswith("Takes every other candidate")
    with pytest.raises(PluginError, match="'broken' failed to load: ModuleNotFoundError"):
        reg.get("broken")


# ------------------------------------------------------------------ one declaration each
RATIO = '''
from albench.contracts import Strategy, top_k
from albench.registry import builtin


@builtin("ratio", rank=99)
class RatioStrategy(Strategy):
    """Top-K ratio of the second to the first class probability (a test's built-in)."""

    requires = frozenset({"class_logits"})

    def collect(self, out, aux, task):
        top2 = out.output.softmax(dim=1).topk(2, dim=1).values
        return {"ratio": top2[:, 1] / top2[:, 0]}

    def select(self, scan, budget, rng):
        return top_k(scan.stats["ratio"], scan.candidates, budget)
'''


def test_the_committed_index_is_what_the_declarations_say():
    """albench/builtin_index.py is generated from the @builtin declarations: current, and
    equal to a fresh scan of them (regenerate: python -m albench.registry)."""
    from albench import builtin_index
    from albench.registry import Entry, scan_builtins, source_fingerprint

    assert builtin_index.FINGERPRINT == source_fingerprint(), "run python -m albench.registry"
    scanned = scan_builtins()
    for kind in ("task", "strategy"):
        committed = {n: Entry(*v) for n, v in getattr(builtin_index, kind.upper()).items()}
        assert committed == scanned[kind]
        assert list(committed) == list(scanned[kind])  # rank order


def test_a_new_builtin_is_one_file_beside_the_others(tmp_path, monkeypatch):
    """Adding a built-in strategy is writing its module: the scan finds its @builtin with
    its summary and capabilities, the fingerprint sees the index is stale, and the rebuilt
    registry lists and loads it, without another table to edit."""
    import albench.strategies
    from albench import registry

    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "ratio.py").write_text(RATIO)
    before = registry.source_fingerprint()
    monkeypatch.setattr(albench.strategies, "__path__", [*albench.strategies.__path__, str(folder)])
    assert registry.source_fingerprint() != before  # the committed index is now stale
    tables = registry.scan_builtins()
    entry = tables["strategy"]["ratio"]
    assert entry == registry.Entry(
        "albench.strategies.ratio:RatioStrategy",
        "Top-K ratio of the second to the first class probability (a test's built-in).",
        ("class_logits",),
    )
    assert list(tables["strategy"])[-1] == "ratio"  # rank 99: listed last
    monkeypatch.setattr(registry, "INDEX", tmp_path / "builtin_index.py")  # not the real one
    monkeypatch.setattr(registry, "STRATEGIES", registry.Registry("strategy"))
    monkeypatch.setattr("albench.builtin_index.FINGERPRINT", "stale")
    fresh = registry.Registry("strategy")
    assert "ratio" in fresh.names() and fresh.summary("ratio") == entry.summary
    assert fresh.get("ratio").name == "ratio"
    assert (tmp_path / "builtin_index.py").read_text().count("'ratio'") == 1  # rewritten
    assert albench.strategies.RatioStrategy is fresh.get("ratio")  # the lazy attribute too
