"""Strict benchmark loading and --set overrides."""

from __future__ import annotations

import pytest

from albench.config import (
    ALConfig,
    TrainConfig,
    apply_overrides,
    builtin_benchmarks,
    load_benchmark,
    parse_benchmark,
)
from albench.errors import ConfigError, UnknownNameError

MINIMAL = {"benchmark": {"name": "t"}, "tasks": {"digits": {}}}


def test_builtin_benchmarks_load():
    assert {"quick", "paper"} <= set(builtin_benchmarks())
    quick = load_benchmark("quick")
    assert [t.name for t in quick.tasks] == ["digits", "stickmen", "shapes"]
    assert quick.trials == 3
    assert len(quick.strategies) == 5


def test_paper_benchmark_carries_the_paper_settings():
    paper = load_benchmark("paper")
    c = paper.task("cifar10")
    assert (c.al.initial, c.al.budget, c.al.cycles, c.al.subset) == (1000, 1000, 10, 10000)
    assert (c.train.epochs, c.train.batch_size, c.train.lr) == (200, 128, 0.1)
    assert (c.train.momentum, c.train.weight_decay) == (0.9, 5e-4)
    assert c.train.lr_milestones == (160,) and c.train.stop_grad_epoch == 120
    assert paper.trials == 5 and c.al.reinit_model is False
    assert paper.strategy_hparams("cifar10", "learn_loss")["weight"] == 1.0
    assert paper.strategy_hparams("cifar10", "learn_loss_mse")["weight"] == 0.1


def test_unknown_key_names_the_valid_keys_with_did_you_mean():
    raw = {"benchmark": {"name": "t"}, "tasks": {"digits": {"train": {"epoch": 3}}}}
    with pytest.raises(ConfigError) as err:
        parse_benchmark(raw)
    msg = str(err.value)
    assert "tasks.digits.train.epoch" in msg and "did you mean 'epochs'" in msg
    assert "batch_size" in msg  # the valid keys are listed


def test_wrong_type_fails():
    raw = {"benchmark": {"name": "t"}, "tasks": {"digits": {"al": {"cycles": "3"}}}}
    with pytest.raises(ConfigError, match="wrong type"):
        parse_benchmark(raw)
    raw["tasks"]["digits"]["al"]["cycles"] = True  # a bool is not an int
    with pytest.raises(ConfigError, match="wrong type"):
        parse_benchmark(raw)


def test_int_is_accepted_for_float_and_list_for_tuple():
    raw = {
        "benchmark": {"name": "t"},
        "tasks": {"digits": {"train": {"lr": 1, "lr_milestones": [3, 4]}}},
    }
    task = parse_benchmark(raw).task("digits")
    assert task.train.lr == 1.0 and isinstance(task.train.lr, float)
    assert task.train.lr_milestones == (3, 4)


def test_unknown_task_and_strategy_have_did_you_mean():
    with pytest.raises(UnknownNameError, match="did you mean 'digits'"):
        parse_benchmark({"benchmark": {"name": "t"}, "tasks": {"digit": {}}})
    with pytest.raises(UnknownNameError, match="did you mean 'entropy'"):
        parse_benchmark(MINIMAL | {"benchmark": {"name": "t", "strategies": ["entropi"]}})


def test_invalid_values_fail():
    with pytest.raises(ConfigError, match="al.cycles"):
        ALConfig(cycles=0)
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=1)
    with pytest.raises(ConfigError, match="trials"):
        parse_benchmark(MINIMAL | {"benchmark": {"name": "t", "trials": 0}})


def test_overrides_apply_to_all_tasks_or_one():
    raw = {"benchmark": {"name": "t"}, "tasks": {"digits": {}, "cifar10": {}}}
    out = apply_overrides(raw, ["train.epochs=7", "tasks.digits.al.cycles=2", "benchmark.seed=3"])
    assert out["tasks"]["cifar10"]["train"]["epochs"] == 7
    assert out["tasks"]["digits"]["train"]["epochs"] == 7
    assert out["tasks"]["digits"]["al"]["cycles"] == 2
    assert out["benchmark"]["seed"] == 3
    assert "train" not in raw["tasks"]["digits"]  # the input is not modified
    parsed = parse_benchmark(apply_overrides(raw, ["train.lr_milestones=[2, 4]"]))
    assert parsed.task("digits").train.lr_milestones == (2, 4)


def test_an_override_for_every_task_is_checked_on_the_selected_tasks_alone():
    # balanced_initial suits digits; shapes and stickmen, also in quick, have no classes
    bench = load_benchmark("quick", ["al.balanced_initial=true"], ["digits"])
    assert [t.name for t in bench.tasks] == ["digits"]
    assert bench.task("digits").al.balanced_initial
    with pytest.raises(ConfigError, match=r"^tasks\.shapes\.al\.balanced_initial .* 'shapes'"):
        load_benchmark("quick", ["al.balanced_initial=true"], ["shapes"])


def test_override_errors():
    with pytest.raises(ConfigError, match="section.key=value"):
        apply_overrides(MINIMAL, ["epochs"])
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        load_benchmark("quick", ["train.epoch=3"])


def test_unknown_benchmark_name_and_missing_file(tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean 'quick'"):
        load_benchmark("quik")
    with pytest.raises(ConfigError, match="does not exist"):
        load_benchmark(str(tmp_path / "nope.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[benchmark\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_benchmark(str(bad))


def test_strategy_overrides_per_task_merge_over_global():
    raw = {
        "benchmark": {"name": "t"},
        "strategies": {"learn_loss": {"weight": 1.0, "margin": 2.0}},
        "tasks": {"digits": {"strategies": {"learn_loss": {"weight": 1e-4}}}},
    }
    bench = parse_benchmark(raw)
    assert bench.strategy_hparams("digits", "learn_loss") == {"weight": 1e-4, "margin": 2.0}


def test_tasks_carry_their_own_trials():
    paper = load_benchmark("paper")
    assert [paper.trials_for(t) for t in ("cifar10", "voc", "mpii")] == [5, 3, 3]  # §4.1-4.3
    with pytest.raises(ConfigError, match="tasks.digits.trials"):
        parse_benchmark({"benchmark": {"name": "t"}, "tasks": {"digits": {"trials": 0}}})
    with pytest.raises(ConfigError, match="tasks.digits.trials = '3' is invalid.*\"auto\""):
        parse_benchmark({"benchmark": {"name": "t"}, "tasks": {"digits": {"trials": "3"}}})
    with pytest.raises(ConfigError, match="wrong type"):
        parse_benchmark({"benchmark": {"name": "t"}, "tasks": {"digits": {"trials": 2.5}}})


def test_trials_auto_runs_rounds_up_to_max_trials():
    """trials = "auto" per benchmark or task: rounds 5, 10, ... up to max_trials."""
    bench = parse_benchmark(
        {
            "benchmark": {"name": "t", "trials": "auto", "max_trials": 30},
            "tasks": {"digits": {}, "shapes": {"trials": 3, "equivalence_margin": 0.02}},
        }
    )
    assert bench.auto_trials("digits") and not bench.auto_trials("shapes")
    assert bench.trials_for("digits") == 30 and bench.rounds_for("digits") == (5, 10, 20, 30)
    assert bench.trials_for("shapes") == 3 and bench.rounds_for("shapes") == (3,)
    assert (
        bench.task("shapes").equivalence_margin == 0.02
        and bench.task("digits").equivalence_margin is None
    )
    for bad, match in (
        ({"benchmark": {"name": "t", "max_trials": 0}}, "max_trials = 0"),
        ({"benchmark": {"name": "t", "trials": "many"}}, "trials = 'many' is invalid"),
    ):
        with pytest.raises(ConfigError, match=match):
            parse_benchmark(bad | {"tasks": {"digits": {}}})
    with pytest.raises(ConfigError, match="tasks.digits.equivalence_margin = -0.1 is invalid"):
        parse_benchmark(
            {"benchmark": {"name": "t"}, "tasks": {"digits": {"equivalence_margin": -0.1}}}
        )
    with pytest.raises(
        ConfigError, match="tasks.digits.equivalence_margin = 'x' has the wrong type"
    ):
        parse_benchmark(
            {"benchmark": {"name": "t"}, "tasks": {"digits": {"equivalence_margin": "x"}}}
        )


def test_trials_flag_overrides_every_task(mlflow_uri, capsys):
    from albench.cli import main

    assert main(["plan", "--tasks", "all", "--strategies", "random"]) == 0
    out = capsys.readouterr().out
    assert (out.count("cifar10/"), out.count("voc/"), out.count("mpii/")) == (5, 3, 3)
    assert main(["plan", "--tasks", "all", "--strategies", "random", "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert (out.count("cifar10/"), out.count("voc/"), out.count("mpii/")) == (2, 2, 2)


ALIASES = """
[benchmark]
name = "variants"
trials = 1
strategies = ["random"]

[tasks.digits]
al = {initial = 20, budget = 20, cycles = 2, subset = 100}
train = {epochs = 1, batch_size = 16, lr_milestones = [], stop_grad_epoch = 0}

[tasks.digits_copies]
task = "digits"
params = {copies = 2}
al = {initial = 20, budget = 20, cycles = 2, subset = 100}
train = {epochs = 1, batch_size = 16, lr_milestones = [], stop_grad_epoch = 0}
"""


def test_one_task_under_several_settings_each_table_named(mlflow_uri, tmp_path, capsys):
    """[tasks.NAME] task = "digits": the table runs digits under its own name and params;
    the runs are named and tagged by the table, the registered task is tagged too, and the
    two variants are different jobs."""
    from albench.cli import main
    from albench.config import load_benchmark
    from albench.tracking import Tracker

    path = tmp_path / "variants.toml"
    path.write_text(ALIASES)
    bench = load_benchmark(str(path))
    assert [(t.name, t.registered) for t in bench.tasks] == [
        ("digits", "digits"),
        ("digits_copies", "digits"),
    ]
    assert main(["run", "--benchmark", str(path), "--no-progress", "--jobs", "1"]) == 0
    runs = {r.info.run_name: r for r in Tracker().runs("variants")}
    assert set(runs) == {"digits/random/trial-0", "digits_copies/random/trial-0"}
    copies = runs["digits_copies/random/trial-0"].data
    assert copies.tags["albench.task"] == "digits_copies"
    assert copies.tags["albench.task_registered"] == "digits"
    assert (
        copies.tags["albench.config_hash"]
        != runs["digits/random/trial-0"].data.tags["albench.config_hash"]
    )
    # --tasks picks a table by its name; a name that is neither a table nor a task is refused
    assert main(["plan", "--benchmark", str(path), "--tasks", "digits_copies"]) == 0
    assert "digits_copies/random/trial-0" in capsys.readouterr().out
    assert main(["plan", "--benchmark", str(path), "--tasks", "digits_copy"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'digits_copy' (did you mean 'digits_copies'?)" in err
    for text, message in [
        ('task = "digitz"', "unknown task 'digitz'"),
        ("task = 3", "tasks.digits_copies.task = 3 has the wrong type"),
    ]:
        path.write_text(ALIASES.replace('task = "digits"', text))
        assert main(["plan", "--benchmark", str(path)]) == 2
        assert message in capsys.readouterr().err
    path.write_text(ALIASES.replace("[tasks.digits_copies]", '[tasks."digits copies"]'))
    assert main(["plan", "--benchmark", str(path)]) == 2
    assert "is not a valid name for a task table" in capsys.readouterr().err
    path.write_text(ALIASES.replace("[tasks.digits_copies]", "[tasks.shapes]"))
    assert main(["plan", "--benchmark", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "[tasks.shapes] names the registered task 'shapes' but runs 'digits'" in err
    assert len(err.splitlines()) == 1
