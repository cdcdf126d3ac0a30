"""Bad input and misplaced stores: one line on stderr, exit code 2, nothing left behind.

Each case runs the real command line in an empty folder and checks that no tracking store,
state or artifact appeared anywhere. Also a script: ``python tests/e2e/test_bad_input.py``
prints every case with its exit code, its message and its wall time (docs/cli.md).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BROKEN_PLUGIN = "raise RuntimeError('the plug-in is broken')\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cases(tmp: Path) -> dict[str, tuple[list[str], dict[str, str], str]]:
    """name -> (albench arguments, environment changes, a phrase the one line must hold)."""
    (tmp / "a_file").write_text("not a folder")
    (tmp / "plugins").mkdir()
    (tmp / "plugins" / "broken_plugin.py").write_text(BROKEN_PLUGIN)
    db = f"sqlite:///{tmp / 'work' / 'mlflow.db'}"
    quick = ["run", "--benchmark", "quick", "--tasks", "digits", "--trials", "1"]
    head = '[benchmark]\nname = "b"\nstrategies = ["random"]\n'
    files = {
        "al = 5": head + "[tasks.digits]\nal = 5\n",
        "deeply nested inline tables": head + "x = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n",
        "too large": "# " + "x" * 1_100_000 + "\n",
        "no [benchmark] table": "[tasks.digits]\n",
        "no task table": '[benchmark]\nname = "b"\n',
        "params = 5": head + "[tasks.digits]\nparams = 5\n",
        "[strategies] random = 5": head + "[strategies]\nrandom = 5\n[tasks.digits]\n",
        "tasks.digits.strategies = 5": head + "[tasks.digits]\nstrategies = 5\n",
        "deeply nested array": head + "x = " + "[" * 3000 + "]" * 3000 + "\n",
        "benchmark name with a NUL": head.replace('"b"', '"a\\u0000b"') + "[tasks.digits]\n",
        "empty benchmark name": head.replace('"b"', '""') + "[tasks.digits]\n",
    }
    for i, text in enumerate(files.values()):
        (tmp / "plugins" / f"bench{i}.toml").write_text(text)
    (tmp / "plugins" / "binary.toml").write_bytes(bytes(range(256)) * 8)
    messages = {
        "al = 5": "[tasks.digits.al] must be a table, got 5",
        "deeply nested inline tables": "nested too deeply to be a benchmark file",
        "too large": "is too large for a benchmark file (at most 1,000,000)",
        "no [benchmark] table": "needs a [benchmark] table with a name",
        "no task table": "has no [tasks.NAME] table; add at least one task",
        "params = 5": "tasks.digits.params must be a table, got 5",
        "[strategies] random = 5": "strategies.random must be a table, got 5",
        "tasks.digits.strategies = 5": "tasks.digits.strategies must be a table, got 5",
        "deeply nested array": "nested too deeply to be a benchmark file",
        "benchmark name with a NUL": "benchmark.name = 'a\\x00b' cannot name an experiment",
        "empty benchmark name": "benchmark.name = '' cannot name an experiment",
    }
    return {
        **{
            f"benchmark file: {name}": (
                ["run", "--benchmark", str(tmp / "plugins" / f"bench{i}.toml")],
                {"MLFLOW_TRACKING_URI": db},
                messages[name],
            )
            for i, name in enumerate(files)
        },
        "benchmark file: binary": (
            ["run", "--benchmark", str(tmp / "plugins" / "binary.toml")],
            {"MLFLOW_TRACKING_URI": db},
            "not a text file (not UTF-8)",
        ),
        **{
            f"--strategies {spec}": (
                [*quick, "--strategies", spec],
                {"MLFLOW_TRACKING_URI": db},
                f"strategy {spec!r} is not a Strategy class",
            )
            for spec in ("os:system", "math:pi", "collections:OrderedDict")
        },
        "tracking server not listening": (
            quick,
            {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{_free_port()}"},
            "is unreachable",
        ),
        "file:// tracking URI": (
            quick,
            {"MLFLOW_TRACKING_URI": f"file://{tmp / 'mlruns'}"},
            "refuses file stores",
        ),
        "--state-dir under a regular file": (
            [*quick, "--state-dir", str(tmp / "a_file" / "state")],
            {"MLFLOW_TRACKING_URI": db},
            "cannot be created",
        ),
        "--state-dir is a file": (
            [*quick, "--state-dir", str(tmp / "a_file")],
            {"MLFLOW_TRACKING_URI": db},
            "is a file, not a folder",
        ),
        "--data-root is a file": (
            [*quick, "--data-root", str(tmp / "a_file")],
            {"MLFLOW_TRACKING_URI": db},
            "is a file, not a folder",
        ),
        "sqlite database in a missing folder": (
            quick,
            {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'no' / 'such' / 'mlflow.db'}"},
            "does not exist; create it first",
        ),
        "--set with a misspelt table": (
            [*quick, "--set", "trian.epochs=3"],
            {"MLFLOW_TRACKING_URI": db},
            "--set 'trian.epochs=3': unknown table 'trian' (did you mean 'train'?)",
        ),
        "--set with a misspelt key": (
            [*quick, "--set", "train.epoks=3"],
            {"MLFLOW_TRACKING_URI": db},
            "(did you mean 'epochs'?)",
        ),
        "plug-in that raises at import": (
            [*quick, "--strategies", "broken_plugin:Thing"],
            {"MLFLOW_TRACKING_URI": db, "PYTHONPATH": str(tmp / "plugins")},
            "RuntimeError: the plug-in is broken",
        ),
        "learn_loss with an odd batch size": (
            [*quick, "--strategies", "learn_loss", "--set", "train.batch_size=15"],
            {"MLFLOW_TRACKING_URI": db},
            "batch_size = 15 is odd",
        ),
        **{
            f"--set {value}": ([*quick, "--set", value], {"MLFLOW_TRACKING_URI": db}, message)
            for value, message in [
                ("train.lr=inf", "train.lr = inf is invalid: expected a finite number > 0"),
                ("train.lr=1e400", "train.lr = inf is invalid"),
                ("train.momentum=nan", "train.momentum = nan is invalid: expected in [0, 1)"),
                ("train.momentum=-5", "train.momentum = -5.0 is invalid"),
                ("train.lr_gamma=nan", "train.lr_gamma = nan is invalid: expected in (0, 1]"),
                ("strategies.learn_loss.margin=abc", "margin = 'abc' is invalid: expected a"),
                ("strategies.learn_loss.margin=nan", "margin = nan is invalid: expected a finite"),
                ("strategies.learn_loss.hidden=1.5", "hidden = 1.5 is invalid: expected a whole"),
                ("tasks.digits.params.test_size=abc", "test_size = 'abc' is invalid: expected a"),
                ("al.budget=100000", "= 500040 labels, but the pool has 1300"),
                ("train.threads=0", "train.threads = 0 is invalid: expected 1 or more"),
                ("tasks.digits.params.head_dropout=2", "head_dropout = 2 is invalid"),
                ("train.lr=abc", "train.lr = 'abc' has the wrong type: expected float"),
                ("al.cycles=1.5", "al.cycles = 1.5 has the wrong type: expected int"),
            ]
        },
        **{
            f"--set {value}": ([*quick, "--set", value], {"MLFLOW_TRACKING_URI": db}, message)
            for value, message in [
                ("train.lr=0", "train.lr = 0.0 is invalid: expected a finite number > 0"),
                ("train.lr=-1", "train.lr = -1.0 is invalid"),
                ("train.momentum=1", "train.momentum = 1.0 is invalid: expected in [0, 1)"),
                ("train.weight_decay=inf", "train.weight_decay = inf is invalid"),
                ("train.lr_gamma=0", "train.lr_gamma = 0.0 is invalid: expected in (0, 1]"),
                ("train.lr_gamma=2", "train.lr_gamma = 2.0 is invalid"),
                ("train.epochs=0", "train.epochs = 0 is invalid: expected at least 1"),
                ("train.batch_size=1", "train.batch_size = 1 is invalid: expected at least 2"),
                ("train.optimizer=adamw", "train.optimizer = 'adamw' is invalid"),
                ("al.cycles=0", "al.cycles = 0 is invalid: expected at least 1"),
                ("al.budget=0", "al.budget = 0 is invalid"),
                ("al.initial=0", "al.initial = 0 is invalid"),
                ("al.subset=-1", "al.subset = -1 is invalid"),
                ("al.balanced_initial=yes", "balanced_initial = 'yes' has the wrong type"),
                ("tasks.digits.params.copies=0", "tasks.digits.params.copies = 0 is invalid"),
                ("tasks.digits.params.honeypot=1.5", "params.honeypot = 1.5 is invalid"),
                ("strategies.learn_loss.weight=true", "learn_loss.weight = True is invalid"),
                ("strategies.learn_loss.nosuch=1", "unknown key strategies.learn_loss.nosuch"),
            ]
        },
        "balanced_initial on a task without classes": (
            [
                "run",
                "--benchmark",
                "quick",
                "--tasks",
                "shapes",
                "--trials",
                "1",
                "--set",
                "al.balanced_initial=true",
            ],
            {"MLFLOW_TRACKING_URI": db},
            "tasks.shapes.al.balanced_initial = true needs a task with classes, and task 'shapes'",
        ),  # fmt: skip
        **{
            f"{' '.join(extra)}": (
                ["run", "--benchmark", "quick", "--tasks", "digits", *extra],
                {"MLFLOW_TRACKING_URI": db},
                message,
            )
            for extra, message in [
                (("--trials", "0"), "--trials 0 is invalid: give 1 to 1000 trials"),
                (("--trials", "-3"), "--trials -3 is invalid"),
                (("--trials", "auto", "--max-trials", "0"), "--max-trials 0 is invalid"),
                (("--trials", "auto", "--max-trials", "5000"), "max_trials = 5000 is invalid"),
                (("--trials", "1", "--seed", "-1"), "benchmark.seed = -1 is invalid"),
                (("--trials", "1", "--jobs", "0"), "--jobs 0: give 1 or more"),
                (("--trials", "1", "--experiment", ""), "--experiment = '' cannot name an"),
                (("--trials", "1", "--experiment", "x" * 300), "(300 chars) cannot name an"),
                (("--trials", "1", "--experiment", "a\tb"), "cannot name an experiment"),
                (("--trials", "1", "--strategies", "nosuch"), "unknown strategy 'nosuch'"),
                (
                    ("--trials", "1", "--strategies", "nosuchmodule:Thing"),
                    "cannot import module 'nosuchmodule'",
                ),
                (
                    ("--trials", "1", "--strategies", "albench.contracts:Task"),
                    "is not a Strategy class",
                ),
                (("--trials", "1", "--jobs-per-gpu", "0"), "--jobs-per-gpu 0: give 1 or more"),
                (("--trials", "1", "--device", "cuda"), "--device cuda: no CUDA device"),
                (
                    ("--trials", "1", "--device", "cpu", "--gpus", "0"),
                    "--gpus 0: the jobs run on the CPU here",
                ),
                (
                    ("--trials", "1", "--strategies", "vaal", "--set", "strategies.vaal.kl=nope"),
                    "kl = 'nope': expected one of sum, mean",
                ),
                (
                    ("--trials", "1", "--backend", "ray", "--address", "127.0.0.1:1"),
                    "--address 127.0.0.1:1: no Ray cluster answers at 127.0.0.1:1",
                ),
                (
                    ("--trials", "1", "--backend", "ray", "--address", "ray://127.0.0.1:1"),
                    "no Ray cluster answers at 127.0.0.1:1",
                ),
                (
                    ("--trials", "1", "--backend", "ray", "--address", "somehost:abc"),
                    "--address somehost:abc is not HOST:PORT",
                ),
            ]
        },
        "a table name that is not in the benchmark": (
            ["run", "--benchmark", "scenarios", "--tasks", "digits_lo", "--trials", "1"],
            {"MLFLOW_TRACKING_URI": db},
            "unknown task 'digits_lo' (did you mean 'digits_low'?)",
        ),
        "plan: a budget larger than the declared pool": (
            ["plan", "--benchmark", "paper", "--tasks", "cifar10", "--set", "al.budget=20000"],
            {"MLFLOW_TRACKING_URI": db},
            "= 181000 labels, but the pool has 50000; lower al.budget",
        ),
        "unknown benchmark": (
            ["run", "--benchmark", "nosuch"],
            {"MLFLOW_TRACKING_URI": db},
            "unknown benchmark 'nosuch'",
        ),
        "missing benchmark file": (
            ["run", "--benchmark", str(tmp / "plugins" / "missing.toml")],
            {"MLFLOW_TRACKING_URI": db},
            "does not exist; give an existing .toml path",
        ),
        "a billion trials": (
            [*quick[:-2], "--trials", "1000000000"],
            {"MLFLOW_TRACKING_URI": db},
            "--trials 1000000000 is invalid: give 1 to 1000 trials",
        ),
        "in-memory tracking store": (
            quick,
            {"MLFLOW_TRACKING_URI": "sqlite://"},
            "is an in-memory database: every run and metric would be lost",
        ),
        "in-memory tracking store :memory:": (
            quick,
            {"MLFLOW_TRACKING_URI": "sqlite:///:memory:"},
            "is an in-memory database",
        ),
        "unknown tracking URI scheme": (
            quick,
            {"MLFLOW_TRACKING_URI": "garbage://x"},
            "has the unknown scheme 'garbage'",
        ),
        "password in an unreachable server URI": (
            quick,
            {"MLFLOW_TRACKING_URI": f"http://user:secret@127.0.0.1:{_free_port()}"},
            "tracking server http://***@127.0.0.1:",
        ),
        "unknown task": (
            ["run", "--tasks", "nosuch"],
            {"MLFLOW_TRACKING_URI": db},
            "unknown task 'nosuch'",
        ),
        "report on an empty store": (
            ["report"],
            {"MLFLOW_TRACKING_URI": db},
            "no tracking store at",
        ),
    }


def run_case(tmp: Path, args: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "albench", *args],
        cwd=work,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stderr, time.perf_counter() - start


def _left(tmp: Path) -> list[str]:
    """Everything in the case's folder but what the case itself put there."""
    made = {"a_file", "plugins", "work"}
    left = [p.name for p in tmp.iterdir() if p.name not in made]
    return left + [f"work/{p.name}" for p in (tmp / "work").iterdir()]


CASE_NAMES = list(_cases(Path(tempfile.mkdtemp())))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(name, tmp_path):
    args, env, phrase = _cases(tmp_path)[name]
    code, err, _ = run_case(tmp_path, args, env)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert phrase in lines[0]
    assert "secret" not in err  # no credential of a URI is ever shown
    assert _left(tmp_path) == []


if __name__ == "__main__":
    print(f"{'case':45s} {'rc':>3s} {'lines':>5s} {'wall':>6s}  message")
    for case in CASE_NAMES:
        with tempfile.TemporaryDirectory() as d:
            case_args, case_env, _ = _cases(Path(d))[case]
            rc, message, wall = run_case(Path(d), case_args, case_env)
            lines = len(message.strip().splitlines())
            print(f"{case:45s} {rc:3d} {lines:5d} {wall:5.1f}s  {message.strip()[:110]}")
