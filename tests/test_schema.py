"""albench.schema owns the run schema: no other module spells a tag or a metric key, and what
the loop logs is what the schema says."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from albench import schema

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("albench", "tasks", "strategies", "benchmarks")
TAG_VALUES = {v for k, v in vars(schema.Tag).items() if k.isupper()}
KEY_PREFIXES = ("eval/", "train/", "time/", "picks/", "curve/", "test_scores/", "selected/")


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string constant that is not a docstring, and of the literal
    start of every f-string."""
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.add(id(value))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            first = node.values[0] if node.values else None
            if isinstance(first, ast.Constant):
                docstrings.add(id(first))  # judged as the f-string's start below
                out.append((node.lineno, str(first.value)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                out.append((node.lineno, node.value))
    return out


def spelled_keys(source: str) -> list[str]:
    """The tag names and metric keys a module's code spells out itself."""
    found = []
    for line, text in _strings(ast.parse(source)):
        if text in TAG_VALUES or text.startswith(KEY_PREFIXES):
            found.append(f"{line}: {text!r}")
    return found


def test_no_module_but_the_schema_spells_a_tag_or_a_metric_key():
    hits = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "albench/schema.py":
                continue
            hits += [f"{path.relative_to(ROOT)}:{h}" for h in spelled_keys(path.read_text())]
    assert hits == []


def test_the_check_catches_a_tag_literal_added_to_the_loop():
    """The check above is not blind: the loop with one tag spelled out again fails it."""
    loop = (ROOT / "albench/loop.py").read_text()
    assert spelled_keys(loop) == []
    added = loop.replace("Tag.TRIAL: job.trial,", '"albench.trial": job.trial,', 1)
    assert added != loop
    assert any("albench.trial" in h for h in spelled_keys(added))
    metric = loop.replace('pick_key("copy_share")', '"picks/copy_share"', 1)
    assert any("picks/copy_share" in h for h in spelled_keys(metric))


def test_keys_and_paths():
    assert schema.eval_key("accuracy") == "eval/accuracy"
    assert schema.quality_key("rank_acc", "entropy") == "eval/rank_acc/entropy"
    assert schema.pick_key("class", 3) == "picks/class/3"
    assert schema.parse_quality("eval/rank_acc/predicted_loss") == ("rank_acc", "predicted_loss")
    assert schema.parse_quality("eval/accuracy") is None
    assert schema.parse_quality("eval/loss/entropy") is None
    assert schema.artifact("test_scores", 3) == "test_scores/cycle_03.csv"
    assert schema.artifact("selected", 12, "npy") == "selected/cycle_12.npy"
    assert schema.is_per_epoch("train/loss/target") and schema.is_per_epoch("curve/accuracy")
    assert not schema.is_per_epoch(schema.PLATEAU)
    with pytest.raises(ValueError, match="unknown artifact kind 'scores'"):
        schema.artifact("scores", 1)
    assert not schema.is_score_column("label_objects") and schema.is_score_column("entropy")


def test_the_schema_imports_nothing_heavy():
    tree = ast.parse((ROOT / "albench/schema.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"annotations"}


def test_the_scorer_qualities_logged_are_the_schema_s():
    import numpy as np

    from albench.scoring import score_quality

    values = score_quality(np.array([0.1, 0.5, 0.2]), np.array([1.0, 3.0, 2.0]))
    assert list(values) == list(schema.QUALITIES)
