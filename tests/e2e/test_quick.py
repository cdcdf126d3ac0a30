"""The quick benchmark on digits from a notebook, from the shell, and its report, one real run
for all three: the README's notebook example trains trial 0 through the Python API; ``albench
run --trials 2`` on the same store finds those five runs finished and trains trial 1 alone;
``albench report`` renders the ten runs, and the report's index.html is laid out by headless
Chromium (Debian's ``chromium`` package; .ci/run installs it) with its figures loaded."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import albench
from albench.tracking import Tracker
from tests.conftest import copy_store

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
RUN = ["--benchmark", "quick", "--tasks", "digits", "--trials", "2"]
# Headless as root in a container: no sandbox, GPU, network services or first-run UI.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Fig. 8: one figure per loss-predicting strategy (the model's own score beside entropy)
FIGURES = (
    "curve", "picks", "rank_acc", "scatter_learn_loss", "scatter_learn_loss_mse", "aubc", "cost",
)  # fmt: skip
LEARN_LOSS_RGB = (213, 94, 0)  # colorblind vermillion: learn_loss's with the built-ins' order


def notebook_example() -> str:
    """The README's five-line notebook example (the Python block after its marker)."""
    text = README.read_text()
    block = re.search(r"<!-- notebook-example -->\n```python\n(.*?)```", text, re.S)
    assert block, "README.md lost its notebook example"
    return block.group(1)


@pytest.fixture(scope="module")
def notebook(tmp_path_factory, empty_store) -> dict:
    """The notebook example, run in a fresh folder and store as a notebook would run it:
    its namespace, and what its plot drew."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    folder = tmp_path_factory.mktemp("quick")
    uri = copy_store(empty_store, folder)
    code = notebook_example()
    namespace: dict = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(folder)
        exec(compile(code, "README.md notebook example", "exec"), namespace)
    ax = pyplot.gca()
    drawn = {"lines": len(ax.get_lines()), "xlabel": ax.get_xlabel()}
    pyplot.close("all")
    return {"code": code, "namespace": namespace, "drawn": drawn, "folder": folder, "uri": uri}


def test_the_readme_notebook_example_runs_and_plots_every_strategy(notebook):
    assert len([line for line in notebook["code"].splitlines() if line.strip()]) <= 5
    curves = notebook["namespace"]["curves"]
    strategies = albench.load_benchmark("quick").strategies
    assert sorted(curves.columns) == sorted(strategies)  # one curve per strategy
    assert list(curves.index) == [40, 80, 120, 160, 200, 240]  # the labeled counts
    assert ((curves >= 0) & (curves <= 1)).all().all()
    assert notebook["drawn"] == {"lines": len(strategies), "xlabel": "labeled samples"}


@pytest.fixture(scope="module")
def shell(notebook, albench_cli) -> dict:
    """``albench run --benchmark quick --tasks digits --trials 2`` where the notebook ran."""
    env = os.environ | {"MLFLOW_TRACKING_URI": notebook["uri"]}
    proc = albench_cli("run", *RUN, "--no-progress", cwd=notebook["folder"], env=env)
    return {"proc": proc, "env": env}


def test_quick_benchmark_through_the_cli(notebook, shell):
    """Trial 0's five runs (the notebook's) count as finished, trial 1's five are trained,
    and all ten learn."""
    proc = shell["proc"]
    assert proc.returncode == 0, proc.stderr
    assert "5 of 10 jobs to run (5 finished already)" in proc.stderr
    assert "5/5 jobs FINISHED" in proc.stderr

    tracker = Tracker(notebook["uri"])
    runs = tracker.runs("quick")
    assert len(runs) == 10 and {r.info.status for r in runs} == {"FINISHED"}
    names = {r.info.run_name for r in runs}
    assert "digits/learn_loss/trial-1" in names and "digits/coreset/trial-0" in names
    last_rank_acc = []
    for run in runs:
        acc = [v for _, v in tracker.metric_history(run.info.run_id, "eval/accuracy")]
        labeled = [v for _, v in tracker.metric_history(run.info.run_id, "labeled")]
        assert len(acc) == 6 and labeled == [40, 80, 120, 160, 200, 240]
        assert acc[-1] > acc[0] + 0.1, (run.info.run_name, acc)  # learning happens
        if run.data.tags["albench.strategy"] == "learn_loss":
            hist = tracker.metric_history(run.info.run_id, "eval/rank_acc/predicted_loss")
            assert len(hist) == 6
            last_rank_acc.append(hist[-1][1])
    assert np.mean(last_rank_acc) > 0.5


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _colour_of(strategy: str, out) -> tuple[int, ...]:
    """The colour the report gives ``strategy``: by its place in the strategy order of the
    report's strategies."""
    from albench.report.data import StrategyInfo, registry_order
    from albench.report.figures import strategy_styles
    from albench.report.stats import strategy_order

    present = pd.read_csv(out / "runs.csv").strategy.unique()
    infos = [StrategyInfo(s, s) for s in strategy_order(present, registry_order())]
    return tuple(round(255 * c) for c in strategy_styles(infos)[strategy].colour)


@pytest.fixture(scope="module")
def quick_report(notebook, shell, albench_cli):
    """The report of the ten runs, made through the CLI."""
    assert shell["proc"].returncode == 0, shell["proc"].stderr
    root, env = notebook["folder"], shell["env"]
    rep = albench_cli("report", "--experiment", "quick", cwd=root, env=env)
    assert rep.returncode == 0, rep.stderr
    return {"root": root, "env": env, "out": root / "reports/quick", "stderr": rep.stderr}


def test_report_of_a_real_run_has_every_figure_and_is_logged(quick_report, albench_cli):
    out, env = quick_report["out"], quick_report["env"]
    for name in FIGURES:
        assert (out / f"digits/{name}.png").is_file() and (out / f"digits/{name}.svg").is_file()
    tables = ("last_cycle", "paired_tests", "paired_aubc", "aubc", "label_efficiency")
    for table in (*tables, "scorer_spread", "ranking_accuracy"):
        assert (out / f"digits/{table}.csv").is_file()
    files = sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != ".DS_Store"
    )
    page = (out / "index.html").read_text()
    refs = set(re.findall(r'(?:src|href)="([^"#]+)"', page))
    assert {f for f in files if f.endswith((".png", ".svg"))} <= refs
    assert "albench report --experiment quick --out reports/quick" in page
    os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
    try:
        tracker = Tracker()
        runs = tracker.runs("quick")
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    reports = [r for r in runs if r.info.run_name == "report"]
    assert len(reports) == 1 and len(runs) == 11
    assert tracker.artifact_files(reports[0].info.run_id) == files
    # `albench run`'s finished-job detection is not fooled by the report run: all 10 jobs
    # are still found finished, and nothing new would run.
    plan = albench_cli("plan", *RUN, cwd=quick_report["root"], env=env)
    assert plan.returncode == 0 and "0 of 10 jobs to run" in plan.stdout, plan.stdout


def test_index_html_renders_in_headless_chromium(quick_report, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run does)")
    index = (quick_report["out"] / "index.html").resolve()
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", index.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', dom.stdout)
    assert len(srcs) == len(FIGURES) and all(s.startswith("digits/") for s in srcs), srcs
    shot = tmp_path / "index.png"
    proc = subprocess.run(
        [chromium, *flags, "--window-size=1200,2600", f"--screenshot={shot}", index.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    assert pixels.shape[:2] == (2600, 1200)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # not a blank page
    # The figures were loaded and drawn: learn_loss's colour appears (only the figures
    # contain it; the page's own CSS does not). Colours follow the strategy order.
    rgb = _colour_of("learn_loss", quick_report["out"])
    assert rgb == LEARN_LOSS_RGB  # the built-ins' registry order puts learn_loss fourth
    near = np.abs(pixels - np.array(rgb)).max(axis=2) <= 12
    assert near.sum() > 500, near.sum()


def test_the_report_s_first_screen_shows_the_summary(quick_report, tmp_path):
    """On a 1280 x 900 window, the first task's whole Summary list lies above the fold: the
    layout is measured by the browser (a probe copy of index.html writes the list's bottom
    edge into the page, which Chromium's DOM dump returns)."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run does)")
    out = quick_report["out"]
    probe = out / "first_screen_probe.html"
    script = (
        "<script>window.addEventListener('load', () => {"
        "const h = [...document.querySelectorAll('h3')].find(e => e.textContent === 'Summary');"
        "const list = h.nextElementSibling;"
        "document.body.dataset.summaryBottom = Math.ceil(list.getBoundingClientRect().bottom);"
        "document.body.dataset.summaryItems = list.querySelectorAll('li').length;"
        "});</script>"
    )
    probe.write_text((out / "index.html").read_text().replace("</body>", f"{script}</body>"))
    try:
        flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
        dom = subprocess.run(
            [chromium, *flags, "--window-size=1280,900", "--virtual-time-budget=5000",
             "--dump-dom", probe.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        probe.unlink()
    bottom = re.search(r'data-summary-bottom="(\d+)"', dom.stdout)
    items = re.search(r'data-summary-items="(\d+)"', dom.stdout)
    assert bottom and items, dom.stderr[-2000:]
    assert int(items.group(1)) >= 2 and 0 < int(bottom.group(1)) <= 900, bottom.group(1)
