"""Packaging (README "Layout"): the top-level strategies/ and tasks/ folders are the
installed subpackages albench.strategies and albench.tasks, in the editable install and in a
built wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import albench.benchmarks
import albench.strategies
import albench.tasks

REPO = Path(__file__).resolve().parent.parent


def test_editable_install_maps_the_top_level_folders():
    assert Path(albench.strategies.__file__).resolve() == REPO / "strategies" / "__init__.py"
    assert Path(albench.tasks.__file__).resolve() == REPO / "tasks" / "__init__.py"
    assert Path(albench.benchmarks.__file__).resolve() == REPO / "benchmarks" / "__init__.py"


def test_no_top_level_strategies_or_tasks_package_is_importable_from_elsewhere(tmp_path):
    code = "import importlib.util as u; print(u.find_spec('strategies'), u.find_spec('tasks'))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["None", "None"]


def test_wheel_contains_the_subpackages_and_benchmarks(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    (wheel,) = tmp_path.glob("albench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for py in (REPO / "strategies").glob("*.py"):
        assert f"albench/strategies/{py.name}" in names
    for py in (REPO / "tasks").rglob("*.py"):
        assert f"albench/tasks/{py.relative_to(REPO / 'tasks').as_posix()}" in names
    assert {"albench/benchmarks/quick.toml", "albench/benchmarks/paper.toml"} <= names
    assert not any(n.startswith(("strategies/", "tasks/", "tests/")) for n in names)
