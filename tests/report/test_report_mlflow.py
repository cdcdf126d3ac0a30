"""`albench report` on small MLflow experiments with known logged values.

The experiment "toy" is logged through :class:`albench.tracking.Tracker` exactly as jobs log
(tags, per-cycle metrics, per-epoch losses, test_scores CSVs), with the values of
tests/report/test_report_stats.py, plus the runs a report must leave out: a FAILED run, an
unfinished one, a run superseded by a later run of the same job and a run albench did not
make. The toy runs carry the strategy and metric tags every job now logs (display name,
baseline, oracle; metric name and range); a second task named like a paper experiment
(cifar10) has one trial per strategy, logged as older jobs did: without those tags, and with
a test_scores CSV that has an empty predicted_loss column for every strategy.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from albench.cli import main
from albench.report import (
    ExperimentNotFoundError,
    ReportOptions,
    load_experiment,
    make_report,
)
from albench.report.data import RunRecord, _metric_info, _strategy_infos, load_report_data
from albench.report.figures import strategy_styles
from albench.report.sections import TaskContext, scatter_models
from albench.tracking import Tracker
from tests.conftest import copy_store

LABELED = [10, 20, 30]
ACC = {  # strategy -> trial -> accuracy per cycle (as in test_report_stats.py)
    "random": [[0.50, 0.60, 0.70], [0.40, 0.60, 0.80], [0.60, 0.60, 0.60]],
    "entropy": [[0.55, 0.65, 0.75], [0.45, 0.70, 0.85], [0.60, 0.65, 0.70]],
    "learn_loss": [[0.50, 0.70, 0.90], [0.50, 0.80, 0.90], [0.60, 0.75, 0.85]],
}
N_TEST = 2500  # test samples in the test_scores CSVs: more than the 2,000 a scatter shows
LABELS = {"random": "random", "entropy": "entropy", "learn_loss": "learning loss"}
BASELINES = {"random", "learn_loss"}


def _new_tags(strategy: str) -> dict[str, str]:
    """The tags albench.loop now logs besides the older ones."""
    return {
        "albench.strategy_label": LABELS.get(strategy, strategy),
        "albench.strategy_baseline": str(strategy in BASELINES).lower(),
        "albench.strategy_oracle": "false",
        "albench.metric_label": "accuracy",
        "albench.metric_low": "0.0",
        "albench.metric_high": "1.0",
    }


def _log_job(tracker, exp_id, task, strategy, trial, acc, status="FINISHED", error=None):
    """One job's run as albench.loop logs it (cifar10's as older jobs did); returns its id."""
    old = task == "cifar10"
    tags = {
        "albench.task": task,
        "albench.strategy": strategy,
        "albench.trial": trial,
        "albench.seed": trial,
        "albench.benchmark": "toy",
        "albench.config_hash": f"{task}-{strategy}-{trial}-{time.time_ns()}",
        "albench.git_sha": "0123abc",
        "albench.metric": "accuracy",
    } | ({} if old else _new_tags(strategy))
    run_id = tracker.start_run(exp_id, f"{task}/{strategy}/trial-{trial}", tags, {"device": "cpu"})
    rows = []
    for c, value in enumerate(acc):
        rows += [("eval/accuracy", value, c), ("labeled", LABELED[c], c)]
        rows += [("eval/rank_acc/entropy", 0.8 + 0.01 * c, c), ("time/train_s", 1.0 + c, c)]
        rows += [("train/loss/target", 1.0 / (e + 1), 2 * c + e) for e in range(2)]
        if strategy == "learn_loss":
            rows += [("eval/rank_acc/predicted_loss", 0.6 + 0.05 * c + 0.01 * trial, c)]
        if c < 2:
            rows += [("time/scan_s", 0.25, c), ("time/select_s", 0.05, c)]
    tracker.log_metrics(run_id, rows)
    if trial == 0 and status == "FINISHED":
        rng = np.random.default_rng(len(strategy))
        loss = rng.exponential(size=N_TEST)
        scores = {"index": np.arange(N_TEST), "loss": loss}
        if strategy == "learn_loss" or old:  # older jobs: an empty column for the others
            predicted = loss + rng.normal(size=N_TEST)
            scores["predicted_loss"] = predicted if strategy == "learn_loss" else np.nan
        scores["entropy"] = loss * 0.5 + rng.uniform(size=N_TEST)
        tracker.log_frame(run_id, pd.DataFrame(scores), f"test_scores/cycle_{len(acc) - 1:02d}.csv")
    if status != "RUNNING":
        tracker.end_run(run_id, status, error)
    return run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory, empty_store) -> dict:
    """The "toy" experiment (and an empty one) in a fresh sqlite store."""
    root = tmp_path_factory.mktemp("store")
    uri = copy_store(empty_store, root)
    tracker = Tracker(uri)
    exp = tracker.experiment_id("toy")
    tracker.experiment_id("empty")
    ids = {}
    ids["superseded"] = _log_job(tracker, exp, "toy", "random", 0, [0.1, 0.1, 0.1])
    time.sleep(0.01)  # start times are in ms: the later run must start later
    for strategy, trials in ACC.items():
        for trial, acc in enumerate(trials):
            ids[(strategy, trial)] = _log_job(tracker, exp, "toy", strategy, trial, acc)
    for strategy, value in [("random", 0.87), ("entropy", 0.9), ("learn_loss", 0.91)]:
        _log_job(tracker, exp, "cifar10", strategy, 0, [value - 0.1, value - 0.05, value])
    ids["failed"] = _log_job(
        tracker, exp, "toy", "learn_loss", 3, [0.5], "FAILED", "RuntimeError: loss is NaN"
    )
    ids["running"] = _log_job(tracker, exp, "toy", "entropy", 3, [0.5, 0.6], "RUNNING")
    ids["foreign"] = tracker.start_run(exp, "someone-elses-run", {}, {})
    tracker.end_run(ids["foreign"])
    return {"uri": uri, "root": root, "ids": ids}


def test_tidy_frame_has_one_row_per_run_metric_and_cycle(store):
    tracker = Tracker(store["uri"])
    data = load_experiment(tracker, "toy")
    frame = data.frame
    assert list(frame.columns) == [
        "task", "strategy", "trial", "cycle", "labeled", "metric", "value", "run_id",
    ]  # fmt: skip
    expected = set()
    for run_id in data.runs.run_id:
        run = tracker.client.get_run(run_id)
        for key in run.data.metrics:
            if key != "labeled" and not key.startswith("train/"):
                expected |= {(run_id, key, s) for s, _ in tracker.metric_history(run_id, key)}
    got = list(zip(frame.run_id, frame.metric, frame.cycle, strict=True))
    assert len(got) == len(set(got)) and set(got) == expected
    # 9 toy runs x 13 rows (+3 predicted_loss for learn_loss) + 3 cifar10 runs x 13 (+3)
    assert len(frame) == 12 * 13 + 4 * 3
    assert data.task_metrics == {"cifar10": "accuracy", "toy": "accuracy"}
    # labeled comes from the `labeled` metric of the same run and cycle
    assert (frame.labeled == frame.cycle.map(dict(enumerate(LABELED)))).all()
    ids = store["ids"]
    assert ids["superseded"] not in set(frame.run_id)  # the later random/trial-0 run counts
    acc = frame[(frame.metric == "eval/accuracy") & (frame.run_id == ids[("random", 0)])]
    assert list(acc.value) == pytest.approx(ACC["random"][0])


def test_left_out_runs_and_their_reasons(store):
    data = load_experiment(Tracker(store["uri"]), "toy")
    ids = store["ids"]
    reasons = dict(zip(data.left_out.run_id, data.left_out.reason, strict=True))
    assert set(reasons) == {ids["superseded"], ids["failed"], ids["running"], ids["foreign"]}
    assert reasons[ids["failed"]] == "FAILED: RuntimeError: loss is NaN"
    assert reasons[ids["running"]].startswith("RUNNING: unfinished")
    assert reasons[ids["superseded"]].startswith("superseded by the later run")
    assert "not an albench job run" in reasons[ids["foreign"]]
    assert len(data.runs) == 12 and set(data.runs.task) == {"toy", "cifar10"}


def _report(store, tmp_path, **kw):
    kw.setdefault("command", "albench report --experiment toy")
    options = ReportOptions("toy", tmp_path / "rep", **kw)
    return make_report(options, Tracker(store["uri"]))


def test_report_files_tables_and_mlflow_artifacts(store, tmp_path):
    result = _report(store, tmp_path)
    out = result.out_dir
    for task in ("toy", "cifar10"):
        for name in ("curve", "rank_acc", "scatter_learn_loss", "aubc", "cost"):
            for fmt in ("png", "svg"):
                assert (out / task / f"{name}.{fmt}").stat().st_size > 1000, (task, name, fmt)
        assert not (out / task / "curve.pdf").exists()  # PDF only when asked for
    # The tables hold the hand-computed numbers of test_report_stats.py.
    last = pd.read_csv(out / "toy/last_cycle.csv").set_index("strategy")
    assert last.loc["random", "mean"] == pytest.approx(0.7)
    assert last.loc["random", "std"] == pytest.approx(0.1)
    assert last.loc["random", "n"] == 3 and last.loc["random", "labeled"] == 30
    aubc = pd.read_csv(out / "toy/aubc.csv").set_index("strategy")
    assert aubc.loc["random", "aubc"] == pytest.approx(0.6)
    assert aubc.loc["learn_loss", "aubc"] == pytest.approx(np.mean([0.7, 0.75, 0.7375]))
    assert aubc.loc["learn_loss", ["ci_low", "ci_high"]].tolist() == pytest.approx([0.7, 0.75])
    eff = pd.read_csv(out / "toy/label_efficiency.csv").set_index("strategy")
    assert eff.loc["learn_loss", "labels_needed"] == 20  # the first measured budget
    assert eff.loc["learn_loss", "labels_interpolated"] == pytest.approx(10 + 10 * 0.5 / 0.65)
    paired = pd.read_csv(out / "toy/paired_tests.csv")
    row = paired[(paired.strategy == "learn_loss") & (paired.baseline == "random")]
    assert row[row.cycle == 2].wilcoxon_p.item() == pytest.approx(0.25)
    # The paper's numbers beside cifar10's; one trial: no std, no p-value, and it says why.
    cifar = pd.read_csv(out / "cifar10/last_cycle.csv").set_index("strategy")
    assert cifar.loc["random", "paper"] == 0.8764 and cifar.loc["learn_loss", "paper"] == 0.9101
    assert math.isnan(cifar.loc["random", "std"])
    cifar_paired = pd.read_csv(out / "cifar10/paired_tests.csv")
    assert cifar_paired.note.str.contains("n=1: no test").all()
    # index.html references every figure written, and every file it references exists.
    page = (out / "index.html").read_text()
    refs = set(re.findall(r'(?:src|href)="([^"#]+)"', page))
    figures = {f for f in result.files if f.endswith((".png", ".svg", ".pdf"))}
    assert figures and figures <= refs and all((out / r).is_file() for r in refs)
    assert len(re.findall(r"<img ", page)) == 10  # 5 figures x 2 tasks
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    for name in ("toy/learn_loss/trial-3", "toy/entropy/trial-3", "someone-elses-run"):
        assert name in page  # the left-out runs are listed
    assert "loss is NaN" in page and "albench report --experiment toy" in page
    assert "<td>learning loss</td>" in page  # display names from the runs' tags
    assert "saving vs random" in page  # label efficiency's reference: the first baseline
    assert set(paired.baseline) == {"random", "learn_loss"}  # the runs tagged as baselines
    assert "0123abc" in page  # the runs' commit
    # The same files are the artifacts of an MLflow run named "report", which is no job run.
    tracker = Tracker(store["uri"])
    run = tracker.client.get_run(result.run_id)
    assert run.info.run_name == "report" and run.info.status == "FINISHED"
    assert run.data.tags["albench.kind"] == "report"
    assert "albench.config_hash" not in run.data.tags and "albench.task" not in run.data.tags
    assert tracker.artifact_files(result.run_id) == result.files
    again = load_experiment(tracker, "toy")
    assert result.run_id not in set(again.runs.run_id) | set(again.left_out.run_id)


def _without_timestamp(text: bytes) -> list[bytes]:
    return [line for line in text.splitlines() if b"generated" not in line]


def test_report_is_reproducible_byte_for_byte_but_the_timestamp(store, tmp_path):
    first = _report(store, tmp_path, formats=["png", "svg", "pdf"])
    assert (first.out_dir / "toy/curve.pdf").read_bytes().startswith(b"%PDF")
    copy = tmp_path / "first"
    shutil.copytree(first.out_dir, copy)
    time.sleep(1.1)  # a second later: any date written into a file would differ
    second = _report(store, tmp_path, formats=["png", "svg", "pdf"])
    assert first.files == second.files
    for rel in second.files:
        a, b = (copy / rel).read_bytes(), (second.out_dir / rel).read_bytes()
        if rel in ("index.html", "summary.md"):
            a, b = _without_timestamp(a), _without_timestamp(b)
        assert a == b, rel


def test_a_rerun_removes_the_previous_reports_files_only(store, tmp_path):
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep/notes.txt").write_text("mine")
    _report(store, tmp_path, formats=["png", "svg", "pdf"])
    result = _report(store, tmp_path, tasks=["toy"], strategies=["random", "learn_loss"])
    assert not (result.out_dir / "cifar10").exists()
    assert not (result.out_dir / "toy/curve.pdf").exists()
    assert (result.out_dir / "notes.txt").read_text() == "mine"
    last = pd.read_csv(result.out_dir / "toy/last_cycle.csv")
    assert list(last.strategy) == ["random", "learn_loss"]


@pytest.fixture
def cli_store(store, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    monkeypatch.chdir(tmp_path)
    return store


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_cli_report_default_output_and_left_out_lines(cli_store, tmp_path, capsys):
    assert main(["report", "--experiment", "toy", "--tasks", "toy"]) == 0
    err = capsys.readouterr().err
    assert (tmp_path / "reports/toy/index.html").is_file()
    assert not (tmp_path / "reports/toy/cifar10").exists()
    assert "left out toy/learn_loss/trial-3: FAILED: RuntimeError: loss is NaN" in err
    html = (tmp_path / "reports/toy/index.html").read_text()
    assert "albench report --experiment toy --out reports/toy --tasks toy" in html


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--experiment", "nope"], "experiment 'nope' does not exist"),
        (["--experiment", "empty"], "experiment 'empty' has no runs"),
        (["--experiment", "toy", "--tasks", "tyo"], "did you mean 'toy'"),
        (["--experiment", "toy", "--strategies", "randon"], "did you mean 'random'"),
        (["--experiment", "toy", "--format", "png,jpg"], "valid formats are png, svg, pdf"),
        (["--experiment", "toy", "--trial", "7"], "--trial 7: task 'cifar10' has trials 0"),
        (["--experiment", "toy", "--baselines", "coreset"], "'coreset' has no runs"),
        (["--experiment", "toy", "--baselines", "random,entropyy"], "did you mean 'entropy'"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(cli_store, capsys, argv, expected, tmp_path):
    assert main(["report", *argv]) == 2
    line = _one_line(capsys)
    assert expected in line, line
    if "experiment" in expected:
        assert "'toy'" in line  # names the experiments that exist
    assert not (tmp_path / "reports").exists()


def test_only_report_runs_counts_as_no_runs(mlflow_uri, capsys):
    tracker = Tracker(mlflow_uri)
    exp = tracker.experiment_id("quick")
    run = tracker.start_run(exp, "report", {"albench.kind": "report"}, {})
    tracker.end_run(run)
    with pytest.raises(ExperimentNotFoundError, match="'quick' has no runs"):
        make_report(ReportOptions("quick"), tracker)
    assert main(["report"]) == 2
    assert "has no runs" in _one_line(capsys)


def test_default_experiment_is_the_only_one_with_runs(mlflow_uri, tmp_path, capsys):
    tracker = Tracker(mlflow_uri)
    exp = tracker.experiment_id("solo")
    for trial, acc in enumerate(ACC["random"][:2]):
        _log_job(tracker, exp, "toy", "random", trial, acc)
    assert main(["report"]) == 0
    assert (Path(tmp_path) / "reports/solo/toy/curve.png").is_file()
    assert "reports/solo" in capsys.readouterr().err
    _log_job(tracker, tracker.experiment_id("other"), "toy", "random", 0, ACC["random"][0])
    assert main(["report"]) == 2
    line = _one_line(capsys)
    assert "several experiments" in line and "'other', 'solo'" in line


def test_baselines_option_changes_the_comparisons(store, tmp_path):
    result = _report(store, tmp_path, tasks=["toy"], baselines=["entropy"])
    out = result.out_dir
    paired = pd.read_csv(out / "toy/paired_tests.csv")
    assert set(paired.baseline) == {"entropy"}
    assert list(dict.fromkeys(paired.strategy)) == ["random", "learn_loss"]  # strategy order
    eff = pd.read_csv(out / "toy/label_efficiency.csv")
    assert eff.target.unique() == pytest.approx([(0.75 + 0.85 + 0.70) / 3])  # entropy's
    page = (out / "index.html").read_text()
    assert "saving vs entropy" in page and "--baselines" not in page  # command given as is


def _record(strategy: str, tags: dict[str, str], task: str = "toy") -> RunRecord:
    tags = {"albench.task": task, "albench.strategy": strategy, "albench.trial": "0"} | tags
    return RunRecord(f"id-{strategy}", f"{task}/{strategy}/trial-0", "FINISHED", 0, tags, {}, ())


def test_strategy_info_comes_from_tags_else_from_the_class():
    plugin = {"albench.strategy_label": "Plug-in", "albench.strategy_oracle": "true"}
    runs = [
        _record("zz_plugin", plugin),
        _record("learn_loss", {}),  # an older run: the class says it is a baseline
        _record("random", {"albench.strategy_baseline": "false"}),  # the tag wins
        _record("aa_unknown", {}),  # no tag, no class: its name, no role
    ]
    infos = _strategy_infos(runs)
    # registry order for the built-ins, then the others alphabetically
    assert list(infos) == ["random", "learn_loss", "aa_unknown", "zz_plugin"]
    assert infos["zz_plugin"].label == "Plug-in" and infos["zz_plugin"].oracle
    assert infos["learn_loss"].label == "learn_loss" and infos["learn_loss"].baseline
    assert "predicted_loss" in infos["learn_loss"].scores  # the class's `scores`
    assert not infos["random"].baseline
    unknown = infos["aa_unknown"]
    assert (unknown.label, unknown.baseline, unknown.oracle, unknown.scores) == (
        "aa_unknown", False, False, ()
    )  # fmt: skip
    styles = strategy_styles(list(infos.values()))
    assert styles["zz_plugin"].linestyle == "--" and styles["random"].linestyle == "-"
    assert len({s.colour for s in styles.values()}) == 4  # one colour each, in that order
    tagged = [_record("x", {"albench.metric_label": "mAP@0.5", "albench.metric_high": "100"})]
    m = _metric_info(tagged, "toy", "map")
    assert (m.key, m.label, m.low, m.high) == ("map", "mAP@0.5", 0.0, 100.0)
    m = _metric_info([_record("x", {})], "toy", "pckh")
    assert (m.label, m.low, m.high) == ("pckh", 0.0, 1.0)
    assert (m.equivalence_margin, m.max_trials) == (0.01, None)  # no tag, unknown task
    for bad in ("0", "-3", "x", "1e9x"):  # corrupt tags: as absent, never a crash later
        hostile = {"albench.max_trials": bad, "albench.equivalence_margin": "-1"}
        m = _metric_info([_record("x", hostile)], "toy", "pckh")
        assert (m.equivalence_margin, m.max_trials) == (0.01, None)
    good = {"albench.max_trials": "20", "albench.equivalence_margin": "0.02"}
    m = _metric_info([_record("x", good)], "toy", "pckh")
    assert (m.equivalence_margin, m.max_trials) == (0.02, 20)


def test_an_oracle_is_never_a_default_baseline_and_cannot_be_named(store, monkeypatch):
    import dataclasses

    from albench.errors import ConfigError
    from albench.report.data import pick_baselines

    data = load_experiment(Tracker(store["uri"]), "toy", tasks=["toy"])
    assert pick_baselines(data, None) == ("random", "learn_loss")
    oracle = dataclasses.replace(data.strategies["random"], oracle=True)
    data = dataclasses.replace(data, strategies=data.strategies | {"random": oracle})
    assert pick_baselines(data, None) == ("learn_loss",)
    with pytest.raises(ConfigError, match="'random' is an oracle"):
        pick_baselines(data, ["random"])
    assert pick_baselines(data, ["entropy", "learn_loss", "entropy"]) == ("entropy", "learn_loss")


def _models(data, task: str) -> list[tuple[str, tuple[str, ...]]]:
    ctx = TaskContext(data, task, strategy_styles(list(data.exp.strategies.values())), None)
    strategy = dict(zip(ctx.runs.run_id, ctx.runs.strategy, strict=True))
    return [(strategy[r], sc) for r, sc in scatter_models(ctx)]


def test_fig8_is_one_figure_per_loss_predicting_model(store):
    """Fig. 8: each loss-predicting strategy's own model, its own score beside the score
    every job logs, from the same test_scores CSV."""
    data = load_report_data(Tracker(store["uri"]), "toy", ReportOptions(tasks=["toy"]))
    assert _models(data, "toy") == [("learn_loss", ("predicted_loss", "entropy"))]
    # A plug-in's score logged by a strategy that does not select by it makes no figure of
    # its own; an all-empty column is no score.
    runs = data.exp.runs
    random0 = runs[(runs.strategy == "random") & (runs.trial == 0)].run_id.item()
    data.test_scores[random0] = data.test_scores[random0].assign(margin=1.0, bald=np.nan)
    assert _models(data, "toy") == [("learn_loss", ("predicted_loss", "entropy"))]
    # Without a loss-predicting strategy: the first run selecting by a score it holds.
    options = ReportOptions(tasks=["toy"], strategies=["random", "entropy"])
    plain = load_report_data(Tracker(store["uri"]), "toy", options)
    assert _models(plain, "toy") == [("entropy", ("entropy",))]


def test_cifar10_old_runs_csv_with_an_empty_column(store, tmp_path):
    """Older runs (no strategy tags, an all-empty predicted_loss column for every strategy)
    still get the class's roles and the same figure."""
    data = load_report_data(Tracker(store["uri"]), "toy", ReportOptions(tasks=["cifar10"]))
    assert data.baselines == ("random", "learn_loss")
    assert _models(data, "cifar10") == [("learn_loss", ("predicted_loss", "entropy"))]
    assert data.exp.paper["cifar10"]["metric"]["random"] == (0.8764, "§4.1, Fig. 4")


FORBIDDEN = re.compile(
    r"\b(random|entropy|coreset|learn_loss|learn_loss_mse|cifar10|voc|mpii|digits|shapes|"
    r"stickmen)\b"
)


def test_the_report_names_no_task_or_strategy():
    root = Path(__file__).resolve().parents[2] / "albench/report"
    files = sorted(root.glob("*.py")) + sorted((root / "templates").glob("*"))
    assert len(files) > 5
    hits = [
        f"{f.name}:{i}: {line.strip()}"
        for f in files
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
        if FORBIDDEN.search(line.replace("np.random.", "np."))
    ]
    assert hits == []
