"""Reproducible CPU mode: the same job gives bit-equal results whatever kernels the
environment asks for (albench/cpu.py), and differs without the mode where the CPU has more
than one instruction-set level."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from albench.tracking import Tracker
from tests.e2e.test_faults import SMALL, _env, _per_cycle

# long enough for different kernels to round differently (2 epochs of 20 images do not)
SCHEDULE = ["--set", "al.cycles=3", "--set", "train.epochs=8", "--set", "al.initial=100"]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OTHER_KERNELS = {  # what a different (older) machine would run
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_CBWR": "COMPATIBLE",
}


def _machine_capability() -> str:
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    env = {k: v for k, v in os.environ.items() if k not in OTHER_KERNELS}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return out.stdout.strip()


def _run(tmp, albench_cli, name: str, mode: str, kernels: dict[str, str]) -> dict:
    folder = tmp / name
    folder.mkdir()
    args = [*SMALL, *SCHEDULE, "--strategies", "learn_loss,coreset", "--jobs", "1"]
    args += ["--set", f"train.reproducible_cpu={mode}"]
    env = {k: v for k, v in _env(folder).items() if k not in OTHER_KERNELS} | kernels
    out = albench_cli("run", *args, cwd=folder, env=env)
    assert out.returncode == 0, out.stderr
    tracker = Tracker(f"sqlite:///{folder / 'mlflow.db'}")
    losses = {
        r.info.run_name: tracker.metric_history(r.info.run_id, "train/loss/target")
        for r in tracker.runs("quick")
    }
    return {"per_cycle": _per_cycle(folder), "train_loss": losses}


def test_pinned_kernels_give_the_same_numbers_whatever_the_environment(tmp_path, albench_cli):
    here = _run(tmp_path, albench_cli, "on-here", "true", {})
    elsewhere = _run(tmp_path, albench_cli, "on-other", "true", OTHER_KERNELS)
    assert here == elsewhere  # per-cycle metrics and picks, bit for bit
    if _machine_capability() == "DEFAULT":
        pytest.skip("this CPU has a single instruction-set level: nothing to compare")
    off_here = _run(tmp_path, albench_cli, "off-here", "false", {})
    off_elsewhere = _run(tmp_path, albench_cli, "off-other", "false", OTHER_KERNELS)
    assert off_here != off_elsewhere  # without the pins the kernels change the numbers
