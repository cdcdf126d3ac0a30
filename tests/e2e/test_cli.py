"""The command line end to end: `albench list`, `plan` and bad input (the quick benchmark runs in
tests/e2e/test_quick.py)."""

from __future__ import annotations

import pytest

from albench.cli import main
from albench.tracking import Tracker

pytestmark = pytest.mark.e2e


def test_list_prints_tasks_and_strategies(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("digits", "cifar10", "random", "entropy", "coreset", "learn_loss_mse", "quick"):
        assert name in out


BAD_INPUT = [
    (["--tasks", "digit"], "did you mean 'digits'"),
    (["--strategies", "learn_los"], "did you mean 'learn_loss'"),
    (["--set", "train.epoch=3"], "did you mean 'epochs'"),
    (["--set", "benchmark.trails=3"], "did you mean 'trials'"),
    (["--trials", "0"], "--trials 0"),
    (["--set", "al.budget=1000"], "lower al.budget"),
    (["--trials", "two"], "--trials two is invalid: give 1 to 1000 trials, or 'auto'"),
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUT)
def test_bad_input_is_one_line_exit_2_and_leaves_no_run(args, expected, mlflow_uri, capsys):
    code = _exit_code(["run", "--benchmark", "quick", "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err
    assert Tracker().runs("quick") == []


def _exit_code(argv: list[str]) -> int:
    """main()'s return code, or the code argparse exits with on a malformed argument."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


def test_unknown_benchmark_and_paper_without_cuda(mlflow_uri, capsys):
    assert main(["run", "--benchmark", "quik"]) == 2
    assert "did you mean 'quick'" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        assert main(["run", "--tasks", "all", "--trials", "5"]) == 2
        err = capsys.readouterr().err
        assert "--benchmark quick" in err and len(err.strip().splitlines()) == 1


def test_console_script_error_has_no_traceback(tmp_path, albench_cli):
    proc = albench_cli("run", "--benchmark", "quick", "--tasks", "nope", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "mlflow.db").exists()  # nothing half-written


def test_plan_and_dry_run_create_nothing(mlflow_uri, capsys, tmp_path):
    assert main(["plan", "--benchmark", "quick", "--trials", "2"]) == 0
    out = capsys.readouterr().out
    for task in ("digits", "shapes", "stickmen"):
        assert out.count(f"{task}/") == 10
    assert "30 of 30 jobs to run" in out
    assert (
        main(["run", "--benchmark", "quick", "--tasks", "digits", "--trials", "1", "--dry-run"])
        == 0
    )
    assert "5 of 5 jobs to run" in capsys.readouterr().out
    assert Tracker().runs("quick") == []
