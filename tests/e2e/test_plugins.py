"""A third-party package, built from the docs' "Adding a strategy" and "Adding a task"
examples, installed with entry points and run through the command line under a built-in
benchmark that has no table for its task; unsupported pairs and read-only planning."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from albench.tracking import Tracker

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = ("adding-a-strategy.md", "adding-a-task.md")


def _readme_blocks(lang: str) -> list[str]:
    """The code blocks of the guides "Adding a strategy" and "Adding a task"."""
    text = "".join((DOCS / name).read_text() for name in GUIDES)
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """A site folder with ``my_package`` (the README's files) and its entry points, as
    ``pip install`` of the README's package would leave it."""
    site = tmp_path_factory.mktemp("site")
    pkg = site / "my_package"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    written = []
    for block in _readme_blocks("python"):
        first = block.splitlines()[0]
        if first.startswith("# my_package/"):
            (site / first[2:].strip()).write_text(block)
            written.append(first[2:].strip())
    assert sorted(written) == ["my_package/blobs.py", "my_package/ratio.py"]
    toml = next(b for b in _readme_blocks("toml") if "albench.tasks" in b)
    entry_points = toml.replace('[project.entry-points."', "[").replace('"]', "]")
    entry_points = entry_points.replace('"', "")  # TOML strings -> entry_points.txt values
    info = site / "my_package-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my_package\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    return site


def _env(site: Path, uri: str) -> dict[str, str]:
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, ALBENCH_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return env


def test_plugin_task_and_strategy_run_under_the_quick_benchmark(
    plugin_site, tmp_path, albench_cli, store_in
):
    uri = store_in(tmp_path)
    env = _env(plugin_site, uri)
    listed = albench_cli("list", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    matrix = listed.stdout.split("support")[1]
    assert re.search(r"^\s+blobs\s+yes", matrix, re.M)
    assert re.search(r"^\s+stickmen\s.*no: class_logits", matrix, re.M)
    assert "ratio" in listed.stdout.split("strategies:")[1]

    args = ["run", "--benchmark", "quick", "--tasks", "blobs", "--strategies", "random,ratio"]
    args += ["--trials", "1", "--no-progress", "--jobs", "1"]
    first = albench_cli(*args, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "task 'blobs' has no table in benchmark 'quick'" in first.stderr
    assert "2/2 jobs FINISHED" in first.stderr
    runs = Tracker(uri).runs("quick")
    assert sorted(r.info.run_name for r in runs) == ["blobs/random/trial-0", "blobs/ratio/trial-0"]
    ratio = next(r for r in runs if r.data.tags["albench.strategy"] == "ratio")
    assert ratio.data.params["strategy_params.temperature"] == "1.0"  # the code default
    assert "eval/rank_acc/ratio" in ratio.data.metrics  # its declared score is evaluated
    assert ratio.data.params["al.cycles"] == "3"  # the task's declared default schedule

    # Changing a hyper-parameter's code default is a new job, not a skip.
    source = plugin_site / "my_package" / "ratio.py"
    source.write_text(
        source.read_text().replace("temperature: float = 1.0", "temperature: float = 2.0")
    )
    second = albench_cli(*args, cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert "1 of 2 jobs to run (1 finished already)" in second.stderr
    names = sorted(r.info.run_name for r in Tracker(uri).runs("quick"))
    assert names == ["blobs/random/trial-0", "blobs/ratio/trial-0", "blobs/ratio/trial-0"]


@pytest.mark.parametrize("command", ["run", "plan"])
def test_unsupported_pair_is_refused_before_any_run(command, plugin_site, tmp_path, albench_cli):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = albench_cli(
        command, "--benchmark", "quick", "--tasks", "stickmen", "--strategies", "random,ratio",
        cwd=tmp_path, env=_env(plugin_site, uri),
    )  # fmt: skip
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "'ratio'" in lines[0] and "'stickmen'" in lines[0] and "class_logits" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no tracking store, no state


def test_plan_is_read_only(tmp_path, albench_cli):
    """plan creates no tracking store and never touches a state folder."""
    state = tmp_path / "state" / "quick"
    state.mkdir(parents=True)
    stray = state / ".abc.pt.123.tmp"  # a live run's checkpoint being written
    stray.write_bytes(b"half")
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    out = albench_cli(
        "plan", "--benchmark", "quick", "--tasks", "digits", "--state-dir", str(tmp_path / "state"),
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "digits/learn_loss/trial-0" in out.stdout and "est. CPU" in out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]
    assert stray.read_bytes() == b"half"
