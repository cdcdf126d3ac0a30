"""Report v2: figures that keep legends off the data and bands in range, one model per
Fig. 8, degenerate scorers flagged, the paper check, comparison reports, and no absolute
local path in a report.

A synthetic MLflow store, logged as albench.loop logs jobs (tags, per-cycle metrics,
test_scores CSVs), holds two experiments:

- "v2": task "toy" (accuracy) where random and entropy have *identical* curves close to 1
  with a wide spread (so a +/-1 std band would cross 1), learn-loss below them and a
  plug-in oracle above; task "flat" (pckh) whose entropy is rounding noise over the test
  set (5.54 nats give or take 3 float32 steps) for every run, and whose entropy strategy
  has the best metric and entropy the best ranking accuracy (both must be kept out of the
  "winner" statements);
  task "cifar10" with 3 trials near the paper's numbers (the paper check); and a FAILED run
  whose error names absolute paths;
- "v2b": the "toy" task again, every value shifted by +0.02, +0.03, +0.04 on trials 0-2,
  run with other seeds (the comparison report).
"""

from __future__ import annotations

import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection, PolyCollection

from albench.cli import main
from albench.report import ReportOptions, make_report
from albench.report.data import load_compare_data, load_report_data
from albench.report.document import Writer
from albench.report.figures import strategy_styles
from albench.report.paths import scrub, show_path, show_uri
from albench.report.render import REPORT_FORMAT, render, render_comparison
from albench.report.stats import holm
from albench.tracking import Tracker
from tests.conftest import copy_store

LABELED = [100, 200, 300]
N_TEST = 400
TOY = {  # strategy -> trial -> accuracy per cycle
    "random": [[0.60, 0.85, 1.00], [0.70, 0.95, 1.00], [0.50, 0.80, 0.88]],
    "entropy": [[0.60, 0.85, 1.00], [0.70, 0.95, 1.00], [0.50, 0.80, 0.88]],  # = random
    "learn_loss": [[0.55, 0.80, 0.95], [0.65, 0.90, 0.97], [0.50, 0.85, 0.90]],
    "zz_oracle": [[0.70, 0.95, 1.00], [0.75, 0.97, 1.00], [0.72, 0.96, 1.00]],
}
FLAT = {  # pckh: the entropy strategy is best, by its (degenerate) score
    "random": [[0.30, 0.40, 0.50], [0.32, 0.41, 0.52], [0.29, 0.42, 0.49]],
    "entropy": [[0.30, 0.50, 0.70], [0.32, 0.52, 0.72], [0.29, 0.51, 0.69]],
    "learn_loss": [[0.30, 0.45, 0.60], [0.32, 0.46, 0.61], [0.29, 0.44, 0.58]],
}
CIFAR = {  # last cycle near the paper's 0.9101 / 0.9059 / 0.9010; random far below 0.8764
    "random": [0.79, 0.80, 0.81],
    "entropy": [0.90, 0.905, 0.911],
    "coreset": [0.895, 0.902, 0.903],
    "learn_loss": [0.905, 0.915, 0.91],
}
SHIFT = [0.02, 0.03, 0.04]  # v2b minus v2 on trials 0, 1, 2
LABELS = {"learn_loss": "learning loss", "zz_oracle": "oracle"}
BASELINES = {"random", "learn_loss"}
PATH_ERROR = "FileNotFoundError: /home/someone/data/cifar-10-batches-py and /work/x/y missing"
ABSOLUTE = ("/tmp/", "/root/", "/home/", "/work/")


def _tags(task, strategy, trial, experiment, metric):
    return {
        "albench.task": task,
        "albench.strategy": strategy,
        "albench.trial": trial,
        "albench.seed": trial + (100 if experiment == "v2b" else 0),
        "albench.benchmark": experiment,
        "albench.config_hash": f"{experiment}-{task}-{strategy}-{trial}-{time.time_ns()}",
        "albench.git_sha": "feedbee" if experiment == "v2b" else "0123abc",
        "albench.metric": metric,
        "albench.strategy_label": LABELS.get(strategy, strategy),
        "albench.strategy_baseline": str(strategy in BASELINES).lower(),
        "albench.strategy_oracle": str(strategy == "zz_oracle").lower(),
        "albench.metric_label": {"accuracy": "accuracy", "pckh": "PCKh@0.5"}[metric],
        "albench.metric_low": "0.0",
        "albench.metric_high": "1.0",
    }


def _scores(task: str, strategy: str, trial: int) -> pd.DataFrame:
    rng = np.random.default_rng(100 * trial + len(strategy) + len(task))
    loss = rng.exponential(size=N_TEST) + 1e-3
    out = {"index": np.arange(N_TEST), "loss": loss}
    if strategy == "learn_loss":
        out["predicted_loss"] = np.log(loss) + rng.normal(scale=0.7, size=N_TEST)
    if task == "flat":  # an entropy whose values differ only in their last float32 bits
        step = float(np.spacing(np.float32(5.54)))
        out["entropy"] = float(np.float32(5.54)) + step * rng.integers(0, 4, size=N_TEST)
    else:
        out["entropy"] = 0.3 * loss + rng.uniform(size=N_TEST)
    return pd.DataFrame(out)


def _log(tracker, exp_id, experiment, job, values):
    """One finished job: (task, strategy, trial, metric) and its metric per cycle."""
    task, strategy, trial, metric = job
    tags = _tags(task, strategy, trial, experiment, metric)
    run_id = tracker.start_run(exp_id, f"{task}/{strategy}/trial-{trial}", tags, {"device": "cpu"})
    rows = []
    for c, value in enumerate(values):
        rows += [(f"eval/{metric}", value, c), ("labeled", LABELED[c], c)]
        rows += [("time/train_s", 1.0 + 0.1 * c, c)]
        rows += [("eval/rank_acc/entropy", (0.9 if task == "flat" else 0.7) + 0.01 * trial, c)]
        if strategy == "learn_loss":
            rows += [("eval/rank_acc/predicted_loss", 0.70 + 0.02 * c + 0.005 * trial, c)]
        if c < len(values) - 1:
            rows += [("time/scan_s", 0.2, c), ("time/select_s", 0.01 * (1 + len(strategy)), c)]
    tracker.log_metrics(run_id, rows)
    scores = _scores(task, strategy, trial)
    tracker.log_frame(run_id, scores, f"test_scores/cycle_{len(values) - 1:02d}.csv")
    tracker.end_run(run_id, "FINISHED")


@pytest.fixture(scope="module")
def store(tmp_path_factory, empty_store) -> dict:
    root = tmp_path_factory.mktemp("v2store")
    uri = copy_store(empty_store, root)
    tracker = Tracker(uri)
    v2, v2b = tracker.experiment_id("v2"), tracker.experiment_id("v2b")
    for strategy, trials in TOY.items():
        for trial, acc in enumerate(trials):
            _log(tracker, v2, "v2", ("toy", strategy, trial, "accuracy"), acc)
            shifted = [min(1.0, a + SHIFT[trial]) if c < 2 else a - SHIFT[trial] for c, a in
                       enumerate(acc)]  # fmt: skip
            _log(tracker, v2b, "v2b", ("toy", strategy, trial, "accuracy"), shifted)
    for strategy, trials in FLAT.items():
        for trial, pckh in enumerate(trials):
            _log(tracker, v2, "v2", ("flat", strategy, trial, "pckh"), pckh)
    for strategy, last in CIFAR.items():
        for trial, value in enumerate(last):
            _log(tracker, v2, "v2", ("cifar10", strategy, trial, "accuracy"), [0.5, 0.7, value])
    failed = tracker.start_run(
        v2, "cifar10/learn_loss/trial-3", _tags("cifar10", "learn_loss", 3, "v2", "accuracy"), {}
    )
    tracker.end_run(failed, "FAILED", f"{PATH_ERROR} (cwd {root})")
    return {"uri": uri, "root": root}


class Recorder(Writer):
    """A Writer that keeps every figure it saved, to inspect the saved artists."""

    def __init__(self, out: Path, formats):
        super().__init__(out, formats)
        self.figs = {}

    def figure(self, fig, task, head):
        item = super().figure(fig, task, head)
        self.figs[f"{task}/{head.name}"] = fig
        return item


@pytest.fixture(scope="module")
def report(store, tmp_path_factory) -> dict:
    """The v2 report rendered through a Recorder (no MLflow run), and its figures."""
    out = tmp_path_factory.mktemp("v2report") / "rep"
    data = load_report_data(Tracker(store["uri"]), "v2", ReportOptions())
    writer = Recorder(out, ["png", "svg"])
    render(data, writer, f"albench report --experiment v2 --out {out}")
    styles = strategy_styles(list(data.exp.strategies.values()))
    return {"out": out, "figs": writer.figs, "data": data, "styles": styles}


# ------------------------------------------------------------- figures: legends and ranges
def _display_points(artist) -> np.ndarray:
    """The data points an artist draws, in display (pixel) coordinates."""
    if isinstance(artist, PathCollection):  # scatter: one point per offset
        pts = artist.get_offset_transform().transform(artist.get_offsets())
    elif isinstance(artist, PolyCollection):  # fill_between: the band's outline
        verts = [p.vertices for p in artist.get_paths() if len(p.vertices)]
        pts = artist.get_transform().transform(np.concatenate(verts)) if verts else np.empty((0, 2))
    else:  # a Line2D
        pts = artist.get_transform().transform(artist.get_xydata())
    pts = np.asarray(pts, float).reshape(-1, 2)
    return pts[np.isfinite(pts).all(axis=1)]


def _legend_overlaps(fig) -> list[str]:
    """Every (legend, axes) pair whose boxes touch, and every data point inside a legend."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert legends, "every figure with several series has a legend"
    boxes = [lg.get_window_extent(renderer) for lg in legends]
    problems = []
    for ax in (a for a in fig.axes if a.get_visible()):
        frame = ax.get_window_extent(renderer)
        artists = [*ax.lines, *ax.collections]
        pts = np.concatenate([_display_points(a) for a in artists] or [np.empty((0, 2))])
        assert len(pts), "the axes draws data"
        for box in boxes:
            if box.overlaps(frame):
                problems.append(f"legend {box} overlaps axes {frame}")
            inside = (
                (pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1)
                & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1)
            )  # fmt: skip
            if inside.any():
                problems.append(f"{int(inside.sum())} data points under legend {box}")
    return problems


def test_no_legend_covers_data_in_any_figure(report):
    figs = report["figs"]
    assert {"toy/curve", "toy/rank_acc", "toy/cost", "flat/scatter_learn_loss"} <= set(figs)
    for name, fig in figs.items():
        if name.endswith("/aubc"):  # labelled on the y axis, no legend
            continue
        assert _legend_overlaps(fig) == [], name


def test_bands_and_axes_stay_in_the_metrics_range(report):
    for name in ("toy/curve", "flat/curve", "cifar10/curve", "toy/rank_acc"):
        fig = report["figs"][name]
        top = []
        for ax in fig.axes:
            lo, hi = ax.get_ylim()
            assert 0.0 <= lo < hi <= 1.0, (name, lo, hi)
            for band in (c for c in ax.collections if isinstance(c, PolyCollection)):
                ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
                ys = ys[np.isfinite(ys)]
                assert ys.min() >= 0.0 and ys.max() <= 1.0, name
                top.append(ys.max())
        assert top, name
    # toy: random's last cycle 1.0, 1.0, 0.88 -> mean + std = 1.029: clipped at 1
    toy = report["figs"]["toy/curve"].axes[0]
    bands = [c for c in toy.collections if isinstance(c, PolyCollection)]
    assert max(np.nanmax(p.vertices[:, 1]) for b in bands for p in b.get_paths()) == 1.0
    assert toy.get_ylim()[1] == 1.0  # not 1.1


def _lines(fig) -> dict[str, object]:
    return {ln.get_label(): ln for ax in fig.axes for ln in ax.lines}


def test_overlapping_curves_stay_visible_oracles_dashed_colours_fixed(report):
    lines = _lines(report["figs"]["toy/curve"])
    rnd, ent = lines["random (3 trials)"], lines["entropy (3 trials)"]
    np.testing.assert_array_equal(rnd.get_ydata(), ent.get_ydata())  # identical curves
    # the one drawn first is wider with larger markers, so it shows around the other
    assert rnd.get_linewidth() > ent.get_linewidth() and rnd.get_markersize() > ent.get_markersize()
    assert rnd.get_marker() != ent.get_marker() and rnd.get_color() != ent.get_color()
    # the one on top is broken (dash-dot): the one beneath shows through its gaps
    assert rnd.get_linestyle() == "-" and ent.get_linestyle() != "-"
    oracle = lines["oracle (3 trials)"]  # dashed, hollow markers
    assert oracle.get_linestyle() == "--" and oracle.get_markerfacecolor() == "white"
    styles = report["styles"]
    assert styles["zz_oracle"].linestyle == "--"
    assert "--" not in [st.linestyle for name, st in styles.items() if name != "zz_oracle"]
    # one colour per strategy in every figure and task
    for name in ("flat/curve", "toy/cost", "flat/rank_acc"):
        other = _lines(report["figs"][name])
        for label, line in other.items():
            strategy = label.split(" (")[0]
            same = [ln for lb, ln in lines.items() if lb.split(" (")[0] == strategy]
            if same:
                assert line.get_color() == same[0].get_color(), (name, label)


# ----------------------------------------------------------------------------- Fig. 8
def test_fig8_is_one_model_with_log_loss_and_every_point_visible(report):
    fig = report["figs"]["toy/scatter_learn_loss"]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2  # predicted loss and entropy of the same model
    titles = [ax.get_title() for ax in axes]
    # a scorer is named as a score, apart from the strategy of the same name
    assert titles[0].startswith("predicted_loss score") and titles[1].startswith("entropy score")
    # beside a log axis the order comes first: Spearman, then Pearson on the raw values
    pattern = r"Spearman ρ = -?\d\.\d{3} \(order\), Pearson r = -?\d\.\d{3} \(values\)"
    assert all(re.search(pattern, t) for t in titles)
    assert all(f"n = {N_TEST}" in t for t in titles)
    # predicted_loss here is log(loss) + noise: scores below 0 are said, entropy has none
    below = report["data"].test_scores[_run_id(report, "toy", "learn_loss", 0)].predicted_loss < 0
    assert f"{below.sum():,} of the {N_TEST:,} shown scores below 0" in titles[0]
    assert "below 0" not in titles[1]
    assert "trial 0, cycle 2" in fig.get_suptitle() and "learning loss" in fig.get_suptitle()
    assert all(ax.get_yscale() in ("log", "symlog") for ax in axes)
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    ax = axes[0]
    major = [t.get_text() for t in ax.yaxis.get_ticklabels(which="major") if t.get_visible()]
    minor = [t.get_text() for t in ax.yaxis.get_ticklabels(which="minor")]
    assert len([m for m in major if m]) >= 2 and all(re.fullmatch(r"[\d.]*", m) for m in major)
    assert not any(minor)  # only the 1-2-5 ticks carry a label: no crowded minor labels
    for ax in axes:
        grey, top = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert grey.get_alpha() < 0.5 and grey.get_zorder() < top.get_zorder()
        assert len(top.get_facecolors()) == 0  # rings: the grey points under them show
        assert len(grey.get_offsets()) + len(top.get_offsets()) == N_TEST
        assert len(top.get_offsets()) == math.ceil(0.2 * N_TEST)  # all shown: exactly the top 20 %
    # the panels' correlations are those of the same run's CSV
    data = report["data"]
    runs = data.exp.runs
    run = runs[(runs.task == "toy") & (runs.strategy == "learn_loss") & (runs.trial == 0)]
    csv = data.test_scores[run.run_id.item()]
    r = np.corrcoef(csv.loss, csv.predicted_loss)[0, 1]
    assert f"Pearson r = {r:.3f}" in titles[0]


def _run_id(report, task: str, strategy: str, trial: int) -> str:
    runs = report["data"].exp.runs
    run = runs[(runs.task == task) & (runs.strategy == strategy) & (runs.trial == trial)]
    return run.run_id.item()


# ------------------------------------------------------------------- degenerate scorers
def test_a_near_constant_scorer_is_flagged_and_kept_out_of_winner_statements(report):
    out = report["out"]
    spread = pd.read_csv(out / "flat/scorer_spread.csv")
    ent = spread[spread.scorer == "entropy"]
    assert len(ent) == 3 and ent.degenerate.all() and (ent.relative < 1e-3).all()
    assert not spread[spread.scorer == "predicted_loss"].degenerate.any()
    assert not pd.read_csv(out / "toy/scorer_spread.csv").degenerate.any()
    rank = report["figs"]["flat/rank_acc"]
    titles = {ax.get_title().split("\n")[0]: ax for ax in rank.axes}
    assert "DEGENERATE" in titles["flat: ranking accuracy of the entropy score"].get_title()
    assert (
        "DEGENERATE" not in titles["flat: ranking accuracy of the predicted_loss score"].get_title()
    )
    panel = [a for a in report["figs"]["flat/scatter_learn_loss"].axes if a.get_visible()][1]
    assert panel.get_title().startswith("entropy score: DEGENERATE")
    page = (out / "index.html").read_text()
    flat = page[page.index("flat (PCKh@0.5)</h2>") :]
    summary = flat[flat.index("<h3>Summary</h3>") : flat.index("</ul>")]
    # entropy ranks best (0.9) and its strategy has the best PCKh: both left out
    assert (
        "Best ranking of the test losses at the last cycle: the <code>predicted_loss</code> score"
        in summary
    )
    assert (
        "Highest mean AUBC (the mean PCKh@0.5 over the budget, 100-300 labels): learning loss"
        in (summary)
    )
    assert (
        "Degenerate scorers, left out of these statements: the <code>entropy</code> score"
        in summary
    )
    assert "degenerate (3 of 3 trials)" in flat  # the ranking table's flag


def test_a_baseline_winner_is_compared_with_every_other_strategy(report):
    """flat's winner, learning loss, is itself a baseline: its summary line gives its AUBC
    verdict against each other strategy (random, another baseline; entropy, which is
    compared with it), not only against 'the baselines'."""
    page = (report["out"] / "index.html").read_text()
    flat = page[page.index("flat (PCKh@0.5)</h2>") :]
    summary = flat[flat.index("<h3>Summary</h3>") : flat.index("</ul>")]
    line = next(li for li in summary.split("<li>") if li.startswith("Highest mean AUBC"))
    assert "learning loss" in line.split(":")[1]
    for other in ("random", "entropy"):
        assert re.search(rf"vs {other} [+-]\d", line), (other, line)
    assert "any baseline" not in summary


# ------------------------------------------------------------------------ honest stats
def test_intervals_name_their_method_and_p_values_carry_holm_and_effect(report):
    out = report["out"]
    pa = pd.read_csv(out / "toy/paired_aubc.csv")
    assert set(pa.ci_method) == {"range"}  # 3 trials: ranges, never a "95 % CI"
    assert pa.t_p_holm.to_numpy() == pytest.approx(holm(pa.t_p.to_numpy()), nan_ok=True)
    page = (out / "index.html").read_text()
    assert "bootstrap" not in page and "range, no CI" in page
    assert "With 3 trials (fewer than 5), intervals are ranges" in page
    assert "Holm" in page and "interval of the diff" in page
    assert "p &gt;= 1" not in page and "non-zero pairs" not in page
    eff = pd.read_csv(out / "toy/label_efficiency.csv")
    assert all(float(v).is_integer() for v in eff.labels_needed.dropna())


# -------------------------------------------------------------------------- paper check
def test_paper_check_puts_the_papers_numbers_beside_with_verdicts(report):
    out = report["out"]
    check = pd.read_csv(out / "cifar10/paper_check.csv").set_index(["quantity", "strategy"])
    ll = check.loc[("metric", "learn_loss")]
    assert ll.paper == 0.9101 and ll.measured == pytest.approx(0.91) and ll.n == 3
    assert ll.verdict == "within tolerance" and ll.tolerance == pytest.approx(0.01)
    assert check.loc[("metric", "random"), "verdict"] == "below the paper"
    rank = check.loc[("rank_acc/predicted_loss", "learn_loss")]
    assert rank.paper == 0.9074 and rank.measured == pytest.approx(0.745)
    assert rank.verdict == "below the paper"
    order = pd.read_csv(out / "cifar10/paper_ordering.csv")
    assert len(order) == 6  # learn_loss > entropy > coreset > random: every pair
    assert order.t_p_holm.to_numpy() == pytest.approx(holm(order.t_p.to_numpy()), nan_ok=True)
    row = order[(order.higher == "learn_loss") & (order.lower == "random")].iloc[0]
    assert row.mean_diff == pytest.approx(0.11)
    assert not (out / "toy/paper_check.csv").exists()  # no paper numbers: no section
    page = (out / "index.html").read_text()
    assert "Does the paper&#39;s ordering hold?" in page


# -------------------------------------------------------------------------------- paths
def _absolute_hits(folder: Path, extra: str) -> list[str]:
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for needle in (*ABSOLUTE, extra):
            if needle.encode() in data:
                hits.append(f"{path.relative_to(folder)}: {needle}")
    return hits


def test_no_absolute_path_in_a_report_from_a_tmp_experiment(store, report):
    out = report["out"]
    assert _absolute_hits(out, str(store["root"])) == []
    page = (out / "index.html").read_text()
    assert "sqlite:///../../" in page  # the store, relative to the report's folder
    assert "relative to this report" in page and f"report format</dt><dd>{REPORT_FORMAT}" in page
    left = pd.read_csv(out / "left_out.csv")
    assert "cifar-10-batches-py" in left.reason.item() and "/home/" not in left.reason.item()
    # the command as run: its --out is the folder it named (no absolute path), never "."
    assert f"--out {out}" not in page and "--out ." not in page
    assert "--out $TMPDIR/" in page


def test_the_committed_quick_report_has_no_absolute_path():
    """Checks reports/quick only once it was made by this code (its "report format" line);
    an older committed report is regenerated by the lead after a fresh quick run."""
    folder = Path(__file__).resolve().parents[2] / "reports/quick"
    summary = folder / "summary.md"
    if not summary.is_file() or f"report format: {REPORT_FORMAT}" not in summary.read_text():
        pytest.skip(f"reports/quick predates {REPORT_FORMAT!r}: regenerate it to check it")
    assert _absolute_hits(folder, str(Path.home())) == []


def test_paths_and_uris_are_shown_relative_or_abbreviated(tmp_path):
    out = tmp_path / "reports/quick"
    assert show_uri(f"sqlite:///{tmp_path}/mlflow.db", out) == "sqlite:///../../mlflow.db"
    assert show_path("/opt/elsewhere/data/x.npy", "/srv/rep") == ".../data/x.npy"
    assert show_path(Path.home() / "a/b", "/srv/rep").startswith("~/")
    assert show_uri("http://user:secret@host:5000", out) == "http://host:5000"
    text = scrub(f"missing /home/u/x.npy; eval/accuracy 1/2; sqlite:////opt/a/b.db {out}", out)
    assert "/home/" not in text and "eval/accuracy 1/2" in text and "/opt/" not in text
    assert text.endswith(" .")


def test_mlflows_view_run_lines_stay_off_stdout(store, tmp_path, monkeypatch, capsys):
    from mlflow.tracking._tracking_service.client import TrackingServiceClient

    def loud(self, run_id):  # what MLflow prints when a run ends on a tracking server
        sys.stdout.write(f"🏃 View run report at: http://host:5000/#/experiments/1/runs/{run_id}\n")

    monkeypatch.setattr(TrackingServiceClient, "_log_url", loud)
    options = ReportOptions("v2b", tmp_path / "rep", formats=["png"])
    result = make_report(options, Tracker(store["uri"]))
    assert result.run_id and "View run" not in capsys.readouterr().out


# ------------------------------------------------------------------- comparison reports
def test_comparison_report_of_two_experiments(store, tmp_path):
    out = tmp_path / "cmp"
    tracker = Tracker(store["uri"])
    data = load_compare_data(tracker, ["v2", "v2b"], ReportOptions())
    assert data.tasks() == ["toy"]
    writer = Recorder(out, ["png"])
    files = render_comparison(data, writer, "albench report --experiment v2 --experiment v2b")
    assert {"toy/curve.png", "toy/last_cycle.csv", "toy/aubc.csv", "tidy.csv"} <= set(files)
    assert _legend_overlaps(writer.figs["toy/curve"]) == []
    fig = writer.figs["toy/curve"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "experiment v2", "experiment v2b",
    ]  # fmt: skip
    for ax in (a for a in fig.axes if a.get_visible()):
        assert 0.0 <= ax.get_ylim()[0] and ax.get_ylim()[1] <= 1.0
    last = pd.read_csv(out / "toy/last_cycle.csv").set_index("strategy")
    # v2b's last cycle is v2's minus 0.02, 0.03, 0.04: paired by trial (seeds differ)
    row = last.loc["random"]
    assert row.experiment == "v2b" and row.reference == "v2" and row.n == 3
    assert row.mean_diff == pytest.approx(-0.03) and row.pairing == "paired by trial, seeds differ"
    assert (row.ci_low, row.ci_high, row.ci_method) == pytest.approx((-0.04, -0.02, "range"))
    assert last.t_p_holm.to_numpy() == pytest.approx(holm(last.t_p.to_numpy()))
    # a verdict per row: 0.03 below, outside the 0.01 margin, so worse or inconclusive only
    assert row.verdict == ("worse" if row.t_p_holm <= 0.05 else "inconclusive")
    assert row.tost_p > 0.5
    tidy = pd.read_csv(out / "tidy.csv")
    assert list(tidy.columns)[0] == "experiment" and set(tidy.experiment) == {"v2", "v2b"}
    page = (out / "index.html").read_text()
    assert "albench comparison: v2 vs v2b" in page
    assert "Tasks in only one experiment, not compared: cifar10, flat." in page
    assert "commit 0123abc" in page and "commit feedbee" in page
    assert _absolute_hits(out, str(store["root"])) == []
    # reproducible byte for byte but the "generated" line
    again = Writer(tmp_path / "again", ["png"])
    assert (
        render_comparison(data, again, "albench report --experiment v2 --experiment v2b") == files
    )
    for rel in files:
        a, b = (out / rel).read_bytes(), (tmp_path / "again" / rel).read_bytes()
        if rel.endswith((".html", ".md")):
            a, b = (
                [ln for ln in x.splitlines() if b"generated" not in ln] for x in (a, b)
            )  # fmt: skip
        assert a == b, rel


def test_comparison_from_the_command_line(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    monkeypatch.chdir(tmp_path)
    argv = ["report", "--experiment", "v2", "--experiment", "v2b", "--tasks", "toy"]
    assert main(argv) == 0
    page = (tmp_path / "reports/v2-vs-v2b/index.html").read_text()
    assert "albench report --experiment v2 --experiment v2b --out reports/v2-vs-v2b" in page
    assert "wrote" in capsys.readouterr().err
    assert main([*argv, "--baselines", "random"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "apply to the report of one experiment" in err[0]


def test_a_figure_keeps_its_first_saves_layout_whatever_the_rc(tmp_path):
    """The formats after the first keep the first save's layout, also for a caller whose rc
    asks for an automatic layout (which, set on a figure with a colorbar, would raise)."""
    import matplotlib
    from matplotlib.figure import Figure

    from albench.report.document import Heading

    with matplotlib.rc_context({"figure.autolayout": True}):
        fig = Figure(layout="constrained")
        ax = fig.subplots()
        fig.colorbar(ax.imshow([[0.0, 1.0]]))
        Writer(tmp_path, ["png", "svg"]).figure(fig, "t", Heading("f", "a figure"))
        assert fig.get_layout_engine() is None
    assert (tmp_path / "t/f.png").is_file() and (tmp_path / "t/f.svg").is_file()
