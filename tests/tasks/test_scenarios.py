"""Scenario pools (tasks/scenarios.py, the digits parameters): each has exactly the stated
property for its fixed seed, and the default digits pool is unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from albench.errors import ConfigError
from albench.tasks.scenarios import honeypot, long_tail, redundant


def test_redundant_repeats_every_item_exactly_copies_times_in_a_shuffled_order():
    source = redundant(50, 3, np.random.default_rng(0))
    assert len(source) == 150
    assert np.bincount(source).tolist() == [3] * 50
    assert not np.array_equal(source, np.sort(source))
    with pytest.raises(ConfigError, match="copies = 0"):
        redundant(5, 0, np.random.default_rng(0))


def test_honeypot_relabels_exactly_its_share_from_its_classes_and_nothing_else():
    labels = np.arange(1000) % 10
    noisy, mask = honeypot(labels, 0.15, (8, 9), 10, np.random.default_rng(1))
    assert mask.sum() == 150
    assert set(labels[mask].tolist()) <= {8, 9}
    assert (noisy[mask] != labels[mask]).all()  # every honeypot label is wrong
    assert (noisy[~mask] == labels[~mask]).all()
    assert set(noisy[mask].tolist()) - {8, 9}  # spread over the other classes
    with pytest.raises(ConfigError, match="which have 200: lower the share"):
        honeypot(labels, 0.25, (8, 9), 10, np.random.default_rng(1))


def test_long_tail_keeps_geometric_class_counts():
    labels = np.repeat(np.arange(10), [130, 125, 140, 128, 131, 126, 127, 129, 133, 135])
    keep = long_tail(labels, 20.0, np.random.default_rng(2))
    counts = np.bincount(labels[keep], minlength=10)
    expected = [max(1, round(125 * 20.0 ** (-c / 9))) for c in range(10)]
    assert counts.tolist() == expected and expected[0] == 125 and expected[-1] == 6
    assert len(np.unique(keep)) == len(keep)
    with pytest.raises(ConfigError, match="imbalance = 0.5"):
        long_tail(labels, 0.5, np.random.default_rng(2))


def _digits(**params):
    from albench.tasks.classification.digits import DigitsTask

    task = DigitsTask(**params)
    return task, task.datasets("unused", False)


def test_default_digits_is_unchanged():
    task, data = _digits()
    assert data.pool_size == 1300 and data.arrays.pool.dtype == torch.uint8
    assert set(data.facts) == {"class"}  # no scenario, no copy or honeypot facts
    assert (data.facts["class"] == data.arrays.pool_labels.numpy()).all()
    assert task.metric == "accuracy"


def test_redundant_digits_every_image_three_times_with_its_own_noise():
    _, plain = _digits()
    _, data = _digits(copies=3)
    source = data.facts["copy_of"]
    assert data.pool_size == 3900 and np.bincount(source).tolist() == [3] * 1300
    pool = data.arrays.pool
    first = np.flatnonzero(source == 7)
    a, b = pool[first[0]], pool[first[1]]
    original = plain.arrays.pool[7].float() / 16
    assert not torch.equal(a, b)  # independent noise
    assert (a - original).abs().mean() < 0.06 and (b - original).abs().mean() < 0.06
    assert (data.arrays.pool_labels[first] == plain.arrays.pool_labels[7]).all()
    _, again = _digits(copies=3)
    assert torch.equal(again.arrays.pool, pool)  # a fixed seed: the same pool every trial


def test_honeypot_digits_has_exactly_its_share_of_wrong_labels():
    _, data = _digits(honeypot=0.15)
    given, truth = data.arrays.pool_labels.numpy(), data.facts["class"]
    trap = data.facts["honeypot"]
    assert trap.sum() == round(0.15 * 1300) == (given != truth).sum()
    assert set(truth[trap].tolist()) <= {8, 9}
    assert (data.arrays.test_labels == _digits()[1].arrays.test_labels).all()  # clean test


def test_long_tailed_digits_and_balanced_accuracy():
    from sklearn.metrics import balanced_accuracy_score

    from albench.contracts import StepOutput

    task, data = _digits(imbalance=20.0)
    counts = np.bincount(data.arrays.pool_labels.numpy(), minlength=10)
    assert counts[0] / counts[-1] == pytest.approx(20, rel=0.1)
    assert (np.diff(counts) <= 0).all()
    assert task.metric == "balanced_accuracy" and task.metric_label == "balanced accuracy"
    metric = task.new_metric()
    rng = np.random.default_rng(3)
    y = rng.integers(0, 10, 200)
    logits = torch.as_tensor(rng.standard_normal((200, 10)))
    for part in (slice(0, 120), slice(120, 200)):
        out = StepOutput(output=logits[part], loss=torch.zeros(1), taps=[], embedding=None)
        metric.update(out, (None, torch.as_tensor(y[part])))
    assert metric.compute() == pytest.approx(balanced_accuracy_score(y, logits.argmax(1)))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"copies": 0}, "tasks.digits.params.copies = 0 is invalid"),
        ({"honeypot": 1.0}, "tasks.digits.params.honeypot = 1.0 is invalid"),
        ({"imbalance": 0.5}, "tasks.digits.params.imbalance = 0.5 is invalid"),
        ({"honeypot_classes": [10]}, "tasks.digits.params.honeypot_classes = [10] is invalid"),
        ({"copy_noise": -1}, "tasks.digits.params.copy_noise = -1 is invalid"),
    ],
)
def test_bad_scenario_parameters_are_refused(params, message):
    from albench.tasks.classification.digits import DigitsTask

    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        DigitsTask(**params)


def test_pick_facts_by_hand():
    """Pool of 8: items 0-3 and 4-7 are copies of sources 0..3 (copy_of 0,1,2,3,0,1,2,3),
    classes 0,0,1,1 per source, item 2 and its copy 6 in the honeypot. Labeled {0};
    picked {4, 5, 1, 3}: 4 copies labeled 0, 5 and 1 copy each other, 3 is alone, so 3 of 4
    are copies; classes 0,0,0,1; no honeypot pick."""
    from albench.loop import pick_facts

    facts = {
        "copy_of": np.array([0, 1, 2, 3, 0, 1, 2, 3]),
        "class": np.array([0, 0, 1, 1, 0, 0, 1, 1]),
        "honeypot": np.array([0, 0, 1, 0, 0, 0, 1, 0], dtype=bool),
    }
    out = pick_facts(np.array([4, 5, 1, 3]), np.array([0]), facts)
    assert out == {
        "picks/class/0": 3.0,
        "picks/class/1": 1.0,
        "picks/copy_share": 0.75,
        "picks/honeypot_share": 0.0,
    }
    assert pick_facts(np.array([6, 7]), np.array([0]), facts)["picks/honeypot_share"] == 0.5
    assert pick_facts(np.array([1]), np.array([0]), {}) == {}


def test_each_scenario_states_its_known_answers_and_a_run_logs_them(mlflow_uri, tmp_path):
    """No scenario, no expectation; each scenario its own, with a source; a run of a
    scenario logs them as expectations.json."""
    import json

    from albench.loop import Job, run_job
    from albench.tasks.classification.digits import DigitsTask
    from albench.tracking import Tracker
    from tests.conftest import tiny_digits

    assert DigitsTask().expectations() == ()
    copies = DigitsTask(copies=3, head_dropout=0.5).expectations()
    assert len(copies) == 20 and {e.verdicts for e in copies} == {("better",)}
    assert ("coreset", "entropy") in {(e.strategy, e.baseline) for e in copies}
    # without dropout BALD has no definition on digits: no expectation names it
    assert len(DigitsTask(copies=3).expectations()) == 16
    trap = DigitsTask(honeypot=0.15).expectations()
    assert [(e.strategy, e.baseline) for e in trap] == [
        ("random", "entropy"),
        ("random", "learn_loss"),
    ]
    tail = DigitsTask(imbalance=20.0).expectations()
    assert [(e.strategy, e.baseline) for e in tail] == [("entropy", "random"), ("margin", "random")]
    assert all(e.source and e.quantity == "aubc" for e in copies + trap + tail)

    task = tiny_digits()
    task = type(task)(**{**task.__dict__, "params": {"honeypot": 0.15}})
    assert run_job(Job("t", "t", task, "random", tracking_uri=mlflow_uri)).status == "FINISHED"
    tracker = Tracker(mlflow_uri)
    run = tracker.runs("t")[0]
    path = tracker.download_artifact(run.info.run_id, "expectations.json", tmp_path)
    logged = json.loads(open(path).read())
    assert [(e["strategy"], e["baseline"], e["verdicts"]) for e in logged] == [
        ("random", "entropy", ["better"]),
        ("random", "learn_loss", ["better"]),
    ]


HONEYPOT_BENCH = """
[benchmark]
name = "trap"
trials = 2
strategies = ["random", "entropy"]

[tasks.digits_trap]
task = "digits"
params = {honeypot = 0.15}
al = {initial = 20, budget = 40, cycles = 3, subset = 300}
train = {epochs = 2, batch_size = 16, lr_milestones = [], stop_grad_epoch = 0}
"""


def test_a_scenario_run_and_its_report_check(mlflow_uri, tmp_path):
    """A honeypot variant of digits under its own table name: every run logs the share of
    its picks in the honeypot; the report has a scenario check with the two expectations
    (one not run: learn_loss is not in the benchmark) and the picks' figure."""
    import pandas as pd

    from albench.cli import main
    from albench.tracking import Tracker

    path = tmp_path / "trap.toml"
    path.write_text(HONEYPOT_BENCH)
    assert main(["run", "--benchmark", str(path), "--no-progress", "--jobs", "1"]) == 0
    tracker = Tracker()
    for run in tracker.runs("trap"):
        shares = tracker.metric_history(run.info.run_id, "picks/honeypot_share")
        assert [step for step, _ in shares] == [0, 1]  # the two selections
        assert all(0.0 <= v <= 1.0 for _, v in shares)
    assert main(["report", "--experiment", "trap", "--out", "rep"]) == 0
    check = pd.read_csv("rep/digits_trap/scenario_check.csv")
    assert check[["strategy", "baseline"]].values.tolist() == [
        ["random", "entropy"],
        ["random", "learn_loss"],
    ]
    assert check.outcome.tolist()[1] == "not run"
    assert check.outcome.tolist()[0] in {"confirmed", "contradicted", "undecided"}
    assert (tmp_path / "rep/digits_trap/picks.png").exists()
    assert "Scenario check" in open("rep/index.html").read()
    for run in tracker.runs("trap"):  # every job: near-duplicates in the model's embedding
        if run.info.run_name == "report":
            continue
        near = tracker.metric_history(run.info.run_id, "picks/near_share")
        assert [step for step, _ in near] == [0, 1] and all(0 <= v <= 1 for _, v in near)
    table = pd.read_csv("rep/digits_trap/picks_table.csv")
    assert {"picks/honeypot_share", "picks/near_share"} <= set(table.metric)
    mix = pd.read_csv("rep/digits_trap/class_mix.csv")
    assert set(mix.strategy) == {"random", "entropy"} and set(mix["class"]) == set(range(10))
    assert mix.groupby("strategy").share.sum().round(9).tolist() == [1.0, 1.0]
    overlap = pd.read_csv("rep/digits_trap/overlap.csv")
    assert overlap[["strategy", "other", "n"]].values.tolist() == [
        ["entropy", "random", 2],
        ["random", "entropy", 2],
    ]
    assert 0 <= overlap["mean"].iloc[0] <= 1


def test_a_scenario_in_rounds_stops_on_its_expectations(mlflow_uri, tmp_path, capsys):
    """trials = "auto" on a scenario: each round decides the expectations that were run
    (here random vs entropy; learn_loss is not in the benchmark), not the baselines'
    family, and the report says so."""
    from albench.cli import main

    path = tmp_path / "trap.toml"
    path.write_text(HONEYPOT_BENCH.replace("trials = 2", 'trials = "auto"\nmax_trials = 6'))
    assert main(["run", "--benchmark", str(path), "--no-progress", "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "digits_trap: 0 of 1 expectations decided at 5 trials" in err or (
        "digits_trap: 1 of 1 expectations decided at 5 trials; stopping" in err
    )
    assert main(["report", "--experiment", "trap", "--out", "rep"]) == 0
    summary = open("rep/summary.md").read()
    assert "Trials in rounds of 5, 6" in summary
    assert (
        "every expectation of the scenario was decided" in summary
        or "max_trials = 6 was reached" in summary
    )


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"strategy": "a"}',
        '[{"strategy": "a", "baseline": "b", "verdicts": "better"}]',
        '[{"strategy": 1, "baseline": "b", "verdicts": ["better"]}]',
    ],
)
def test_a_corrupt_expectations_file_counts_as_absent(content, tmp_path):
    """A hand-edited or corrupt expectations.json never breaks a report: no scenario check."""
    import types

    import pandas as pd

    from albench.report.data import load_expectations

    class Store:
        def artifact_files(self, run_id):
            return ["expectations.json"]

        def download_artifact(self, run_id, name, dst):
            path = tmp_path / name
            path.write_text(content)
            return path

    data = types.SimpleNamespace(runs=pd.DataFrame({"task": ["t"], "run_id": ["r"]}))
    assert load_expectations(Store(), data) == {}


# ------------------------------------------------------------------ redundant scenes, facts
def test_redundant_shapes_repeat_every_scene_with_its_objects_and_its_own_noise(tmp_path):
    from albench.tasks.detection.shapes import ShapesTask

    plain = ShapesTask(pool_size=30, test_size=5).datasets(str(tmp_path), False)
    task = ShapesTask(pool_size=30, test_size=5, copies=3)
    data = task.datasets(str(tmp_path), False)
    source = data.facts["copy_of"]
    assert data.pool_size == 90 == task.sizes[0] and np.bincount(source).tolist() == [3] * 30
    for i in (0, 41, 89):
        image, target = data.pool_eval[i]
        original, truth = plain.pool_eval[int(source[i])]
        assert torch.equal(target["boxes"], truth["boxes"])
        assert torch.equal(target["labels"], truth["labels"])
        gap = (image.float() - original.float()).abs().mean()
        assert 0 < gap < 0.06 * 255  # its own noise, std 0.05 x 255 (clipped)
    copies = np.flatnonzero(source == 4)
    assert not torch.equal(data.pool_eval[copies[0]][0], data.pool_eval[copies[1]][0])
    again = ShapesTask(pool_size=30, test_size=5, copies=3).datasets(str(tmp_path), False)
    assert torch.equal(again.pool_eval[7][0], data.pool_eval[7][0])  # fixed, every trial
    for name, values in plain.facts.items():  # the copies' facts are their scene's
        assert np.array_equal(data.facts[name], values[source]), name
    pairs = {(e.strategy, e.baseline) for e in task.expectations()}
    assert ("kmeans", "learn_loss") in pairs and not {s for p in pairs for s in p} & {
        "bald",
        "badge",
    }  # no definition on detection: no expectation


def test_redundant_stickmen_repeat_every_figure_with_its_own_noise(tmp_path):
    from albench.tasks.pose.stickmen import StickmenTask

    plain = StickmenTask(pool_size=20, test_size=4).datasets(str(tmp_path), False)
    data = StickmenTask(pool_size=20, test_size=4, copies=2).datasets(str(tmp_path), False)
    source = data.facts["copy_of"]
    assert data.pool_size == 40 and np.bincount(source).tolist() == [2] * 20
    assert np.array_equal(data.facts["visible_joints"], plain.facts["visible_joints"][source])
    first, second = np.flatnonzero(source == 3)
    a, b = data.pool_eval[first], data.pool_eval[second]
    assert not torch.equal(a["image"], b["image"])  # own noise
    gap = (a["image"] - plain.pool_eval[3]["image"]).abs().mean()
    assert 0 < gap < 0.3  # normalised pixels: noise std 0.05 x 255 grey levels, clipped
    for key in ("joints", "visible", "head_size", "target"):  # the same figure
        assert torch.equal(a[key], b[key]) and torch.equal(a[key], plain.pool_eval[3][key])


@pytest.mark.parametrize(
    "task, params, message",
    [
        ("shapes", {"copies": 0}, "tasks.shapes.params.copies = 0 is invalid"),
        ("shapes", {"copies": True}, "tasks.shapes.params.copies = True is invalid"),
        ("stickmen", {"copy_noise": 2.0}, "tasks.stickmen.params.copy_noise = 2.0 is invalid"),
    ],
)
def test_bad_copies_are_refused_on_every_twin(task, params, message):
    from albench.registry import TASKS

    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        TASKS.create(task, params, f"tasks.{task}.params")


def test_scene_facts_by_hand():
    """Image 0: two regular objects, 16x16 and 8x32 px on a 64 px side (extents 0.25 and
    0.25), overlapping in 8x8 = 64 px: IoU 64 / (256 + 256 - 64) = 1/7; a tiny difficult
    object besides. Image 1: one 32x8 triangle, no tiny object, level 0.5."""
    from albench.tasks.detection.shapes import ShapeSet, scene_facts

    boxes = np.zeros((2, 3, 4), np.float32)
    boxes[0, 0], boxes[0, 1], boxes[0, 2] = [0, 0, 16, 16], [8, 8, 16, 40], [50, 50, 54, 54]
    boxes[1, 0] = [0, 0, 32, 8]
    data = ShapeSet(
        images=np.zeros((2, 64, 64, 3), np.uint8),
        boxes=boxes,
        labels=np.array([[1, 2, 3], [3, 0, 0]]),
        difficult=np.array([[False, False, True], [False, False, False]]),
        levels=np.array([0.0, 0.5], np.float32),
    )
    facts = scene_facts(data, 64)
    assert facts["objects"].tolist() == [2, 1]
    assert facts["rectangles"].tolist() == [1, 0] and facts["triangles"].tolist() == [0, 1]
    assert facts["discs"].tolist() == [1, 0]
    assert facts["object_size"] == pytest.approx([0.25, 0.25])
    assert facts["smallest_object"] == pytest.approx([0.25, 0.25])
    assert facts["overlap"] == pytest.approx([1 / 7, 0.0])
    assert facts["tiny"].tolist() == [1, 0] and facts["level"].tolist() == [0.0, 0.5]


def test_figure_facts_by_hand():
    """One figure: joints spanning 10..42 px in x and 6..54 in y on a 64 px canvas (size
    48 / 64), a 6x8 head box (diagonal 10 / 64), 14 of 16 joints visible, the right hip
    (joint 2) left of the left hip (3): facing the camera."""
    from albench.tasks.pose.stickmen import figure_facts

    joints = np.full((1, 16, 2), 30.0)
    joints[0, 0], joints[0, 9] = [10, 6], [42, 54]
    joints[0, 2], joints[0, 3] = [26, 30], [34, 30]
    visible = np.ones((1, 16), bool)
    visible[0, :2] = False
    arrays = {
        "joints": joints,
        "head_box": np.array([[0, 0, 6, 8]], float),
        "visible": visible,
        "levels": np.array([0.25]),
    }
    facts = figure_facts(arrays, 64)
    assert facts["visible_joints"].tolist() == [14]
    assert facts["figure_size"] == pytest.approx([48 / 64])
    assert facts["head_size"] == pytest.approx([10 / 64])
    assert facts["facing_away"].tolist() == [0] and facts["level"].tolist() == [0.25]


def test_pick_facts_mean_of_numeric_facts_by_hand():
    from albench.loop import pick_facts

    facts = {"objects": np.array([1, 2, 3, 4]), "class": np.array([0, 1, 0, 1])}
    out = pick_facts(np.array([1, 3]), np.array([0]), facts)
    assert out == {"picks/class/0": 0.0, "picks/class/1": 2.0, "picks/mean/objects": 3.0}


def test_near_share_by_hand():
    """Initial set (2-D points) (0,0), (10,0), (0,10), (10,10), (5,5): nearest-neighbour
    distances sqrt(50) each, so the threshold (10th percentile) is sqrt(50) = 7.07. Picks
    (1,0) (1 from (0,0)), (20,20) (10 from (10,10)... sqrt(200)) and (20,21) (1 from (20,20)):
    the first and the last are near-duplicates, the middle one too (1 from the last): 3/3.
    Picks (30,0) and (0,30): 20 from the nearest: 0/2."""
    from albench.loop import near_share

    start = np.array([[0, 0], [10, 0], [0, 10], [10, 10], [5, 5]], float)
    picks = np.array([[1, 0], [20, 20], [20, 21]], float)
    assert near_share(picks, start, 5) == 1.0
    assert near_share(np.array([[30, 0], [0, 30]], float), start, 5) == 0.0
    # one near pick of two; labeled items beyond the initial ones count as neighbours too
    labeled = np.vstack([start, [[40, 40]]])
    assert near_share(np.array([[41, 40], [70, 0]], float), labeled, 5) == 0.5


# ------------------------------------------------------------------------------ low budget
def test_balanced_draw_gives_one_per_class_then_the_rest_at_random_classes():
    from albench.loop import balanced_draw

    classes = np.repeat(np.arange(10), 30)
    rng = np.random.default_rng(0)
    ten = balanced_draw(classes, 10, rng)
    assert np.bincount(classes[ten], minlength=10).tolist() == [1] * 10
    assert np.array_equal(ten, np.sort(ten)) and len(np.unique(ten)) == 10
    counts = np.bincount(classes[balanced_draw(classes, 23, rng)], minlength=10)
    assert sorted(counts.tolist()) == [2] * 7 + [3] * 3
    again = balanced_draw(classes, 10, np.random.default_rng(0))
    assert np.array_equal(again, ten)  # the trial seed fixes it


def test_a_low_budget_run_starts_from_one_label_per_class(mlflow_uri, tmp_path):
    from albench.loop import Job, run_job
    from albench.tracking import Tracker
    from tests.conftest import tiny_digits

    task = tiny_digits(initial=10, budget=10, balanced_initial=True)
    job = Job("t", "t", task, "random", tracking_uri=mlflow_uri)
    assert job.config()["al"]["balanced_initial"] is True
    assert "balanced_initial" not in Job("t", "t", tiny_digits(), "random").config()["al"]
    assert run_job(job).status == "FINISHED"
    tracker = Tracker(mlflow_uri)
    run_id = tracker.runs("t")[0].info.run_id
    initial = np.load(tracker.download_artifact(run_id, "selected/initial.npy", tmp_path))
    from albench.tasks.classification.digits import DigitsTask

    truth = DigitsTask().datasets("unused", False).facts["class"]
    assert sorted(truth[initial].tolist()) == list(range(10))


def test_low_budget_states_its_answers_only_in_its_regime():
    from albench.config import ALConfig
    from albench.tasks.classification.digits import DigitsTask

    low = ALConfig(initial=10, budget=10, cycles=6, balanced_initial=True)
    known = DigitsTask().expectations(low)
    assert [(e.strategy, e.baseline, e.verdicts) for e in known] == [
        ("entropy", "random", ("equivalent", "worse")),
        ("kmeans", "random", ("better", "equivalent")),
    ]
    assert DigitsTask().expectations(ALConfig(initial=10, budget=10, cycles=6)) == ()
    assert DigitsTask().expectations(ALConfig(initial=40, budget=40, balanced_initial=True)) == ()


@pytest.mark.parametrize(
    "table, message",
    [
        (
            "[tasks.shapes]\nal = {balanced_initial = true}",
            "tasks.shapes.al.balanced_initial = true needs a task with classes",
        ),
        ("[tasks.digits]\nal = {balanced_initial = 1}", "tasks.digits.al.balanced_initial"),
    ],
)
def test_balanced_initial_is_refused_before_any_run_where_it_has_no_meaning(table, message):
    import tomllib

    from albench.config import parse_benchmark

    raw = tomllib.loads('[benchmark]\nname = "b"\nstrategies = ["random"]\n' + table)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_benchmark(raw)


def test_balanced_initial_larger_than_the_smallest_class_allows_is_refused(tmp_path):
    from albench.loop import Job, prepare
    from tests.conftest import tiny_digits

    task = tiny_digits(initial=200, balanced_initial=True)
    task = type(task)(**{**task.__dict__, "params": {"imbalance": 20.0}})
    with pytest.raises(ConfigError, match="the smallest class has 6; lower al.initial"):
        prepare(Job("t", "t", task, "random"))


# --------------------------------------------------------------------- the report's tables
def test_class_mix_and_label_overlap_by_hand():
    """Class mix: strategy a picked 3 of class 0 and 1 of class 1 over its cycles and
    trials (3/4, 1/4). Overlap, trial 0: a picked {1, 2, 3}, b {2, 3, 4}: 2 / 4 = 0.5;
    trial 1: a {1}, b {2}: 0; mean 0.25 over n = 2; c has picks in trial 0 only."""
    import pandas as pd

    from albench.report.stats import class_mix, label_overlap

    frame = pd.DataFrame(
        {
            "task": "t",
            "strategy": ["a", "a", "a", "a"],
            "trial": [0, 0, 1, 1],
            "cycle": [0, 0, 0, 0],
            "metric": ["picks/class/0", "picks/class/1", "picks/class/0", "picks/class/1"],
            "value": [2.0, 1.0, 1.0, 0.0],
        }
    )
    mix = class_mix(frame)
    assert mix[["class", "share", "n"]].values.tolist() == [["0", 0.75, 2], ["1", 0.25, 2]]
    runs = pd.DataFrame(
        {
            "run_id": ["a0", "b0", "a1", "b1", "c0"],
            "task": "t",
            "strategy": ["a", "b", "a", "b", "c"],
            "trial": [0, 0, 1, 1, 0],
        }
    )
    picks = {
        "a0": np.array([1, 2, 3]),
        "b0": np.array([2, 3, 4]),
        "a1": np.array([1]),
        "b1": np.array([2]),
        "c0": np.array([1, 2, 3]),
    }
    out = label_overlap(runs, picks).set_index(["strategy", "other"])
    assert out.loc[("a", "b"), "mean"] == 0.25 and out.loc[("a", "b"), "n"] == 2
    assert out.loc[("b", "a"), "mean"] == 0.25
    assert out.loc[("a", "c"), "mean"] == 1.0 and out.loc[("a", "c"), "n"] == 1
    assert out.loc[("b", "c"), "mean"] == 0.5
    assert ("a", "a") not in out.index


def test_a_corrupt_picks_file_leaves_that_run_out_of_the_overlap(tmp_path):
    import types

    from albench.report.data import load_picks

    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder in (good, bad):
        (folder / "selected").mkdir(parents=True)
    np.save(good / "selected/cycle_00.npy", np.array([3, 4]))
    np.save(good / "selected/cycle_01.npy", np.array([5]))
    np.save(good / "selected/initial.npy", np.array([0, 1]))
    (bad / "selected/cycle_00.npy").write_text("not an array")
    tracker = types.SimpleNamespace(
        artifact_files=lambda run, sub: sorted(
            str(p.relative_to(tmp_path / run)) for p in (tmp_path / run / sub).iterdir()
        ),
        download_artifact=lambda run, path, dst: tmp_path / run / path,
    )
    data = types.SimpleNamespace(runs=__import__("pandas").DataFrame({"run_id": ["bad", "good"]}))
    out = load_picks(tracker, data)
    assert list(out) == ["good"] and out["good"].tolist() == [3, 4, 5]


@pytest.mark.parametrize(
    "facts, message",
    [
        ({"a b?": np.zeros(1300)}, "gives a pool fact named 'a b?'; name facts with letters"),
        ({"objects": np.zeros(7)}, "gives the pool fact 'objects' with shape (7,)"),
    ],
)
def test_facts_that_could_not_be_logged_are_refused_before_any_training(
    facts, message, monkeypatch
):
    """A plug-in's hostile or malformed facts fail in prepare (before MLflow and training),
    not when the first cycle's picks are logged."""
    import dataclasses
    import re

    from albench.errors import AlbenchError
    from albench.loop import Job, prepare
    from albench.tasks.classification.digits import DigitsTask
    from tests.conftest import tiny_digits

    real = DigitsTask.datasets
    monkeypatch.setattr(
        DigitsTask,
        "datasets",
        lambda self, root, download: dataclasses.replace(real(self, root, download), facts=facts),
    )
    with pytest.raises(AlbenchError, match=re.escape(message)):
        prepare(Job("t", "t", tiny_digits(), "random"))


def test_the_embedding_pass_of_the_picks_diagnostics_changes_no_result(
    tmp_path, monkeypatch, store_in
):
    """The near-duplicate share costs an inference pass per cycle; it touches no random
    stream and no weight, so every metric of a run is the same with and without it."""
    from albench.loop import _JobRun, run_job
    from albench.tracking import Tracker
    from tests.conftest import tiny_job

    def history(uri: str) -> dict:
        assert run_job(tiny_job("entropy", uri=uri)).status == "FINISHED"
        tracker = Tracker(uri)
        run = tracker.runs("test")[0]
        keys = [k for k in run.data.metrics if k.startswith(("eval/", "train/", "picks/class"))]
        return {k: tracker.metric_history(run.info.run_id, k) for k in sorted(keys)}

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    with_pass = history(store_in(tmp_path / "a"))
    monkeypatch.setattr(_JobRun, "_crowding", lambda self, picked, labeled: {})
    without = history(store_in(tmp_path / "b"))
    assert with_pass == without and len(with_pass["eval/accuracy"]) == 3
