"""albench/cpu.py: the reproducible CPU mode's pins, its in-process settings, and what a job
records of them. Each check that pins runs in a fresh interpreter: the pins must be in the
environment before torch and numpy are imported, and ``settle`` is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from albench import cpu
from albench.config import TaskConfig, TrainConfig


def _python(code: str, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON value, returned here."""
    import os

    clean = {k: v for k, v in os.environ.items() if k not in cpu.PINS} | (env or {})
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=clean
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pinned_process_reports_every_kernel_choice_as_pinned():
    state = _python(
        """
        import json
        from albench import cpu
        assert cpu.pin()
        import torch
        cpu.settle()
        print(json.dumps(cpu.describe()))
        """
    )
    assert cpu.pinned(state)
    assert state["capability"] == "AVX2"
    assert state["mkl_branch"] in ("COMPATIBLE", "unknown")
    assert state["mkldnn"] == "True"  # convolutions stay in oneDNN
    assert state["sqrt"] == "1/rsqrt"
    assert state["numpy_simd"] == "baseline"
    assert state["openblas"] == "Haswell"
    assert state["pins_revision"] == str(cpu.REVISION)
    assert {k: state[k] for k in cpu.PINS} == cpu.PINS
    for key in ("vendor", "model", "torch"):
        assert key in state


def test_pins_set_after_torch_was_imported_do_not_count():
    state = _python(
        """
        import json
        import torch
        from albench import cpu
        assert not cpu.pin()  # too late: torch chose its kernels at import
        print(json.dumps(cpu.describe()))
        """
    )
    assert not cpu.pinned(state)


def test_settled_sqrt_is_one_over_rsqrt_bit_for_bit_and_keeps_its_special_values():
    got = _python(
        """
        import json, math
        from albench import cpu
        cpu.pin()
        import torch
        g = torch.Generator().manual_seed(0)
        x = torch.rand(10007, generator=g) * 100
        cpu.settle()
        cpu.settle()  # idempotent
        same = bool((x.sqrt() == 1 / torch.rsqrt(x)).all())
        inplace = bool((x.clone().sqrt_() == x.sqrt()).all())
        out = torch.empty_like(x)
        torch.sqrt(x, out=out)
        special = torch.tensor([0.0, -0.0, 4.0, math.inf, -1.0, 1e-40]).sqrt().tolist()
        y = x[:5].clone().requires_grad_()
        y.sqrt().sum().backward()
        grad = bool(torch.allclose(y.grad, 0.5 / x[:5].sqrt()))
        ulp = float(((x.sqrt().double() - x.double().sqrt()).abs() / x.double().sqrt()).max())
        print(json.dumps([same, inplace, bool((out == x.sqrt()).all()), special, grad, ulp]))
        """
    )
    same, inplace, out, special, grad, ulp = got
    assert same and inplace and out and grad
    assert special[:4] == [0.0, -0.0, 2.0, float("inf")]
    assert special[4] != special[4]  # NaN for a negative input
    assert special[5] == pytest.approx(1e-20)
    assert ulp < 2.5e-7  # within about 2 ulp of float32's square root


def test_the_pins_revision_is_part_of_a_pinned_jobs_configuration():
    from albench.loop import Job

    def job(mode: bool | None) -> Job:
        train = TrainConfig(reproducible_cpu=mode)
        return Job("b", "e", TaskConfig(name="digits", train=train), "random")

    assert job(True).config()["cpu_pins"] == cpu.REVISION
    assert job(False).config()["cpu_pins"] == 0
    assert job(True).config_hash() != job(False).config_hash()


def test_a_pinned_job_in_a_process_started_without_the_pins_fails_before_any_run(
    monkeypatch, mlflow_uri
):
    """A Ray worker started by hand, say: the job's hash says reproducible CPU mode, its
    process would compute other numbers. It fails in one line naming what is missing, and no
    MLflow run is created."""
    import dataclasses

    from albench.errors import AlbenchError
    from albench.loop import run_job
    from albench.tracking import Tracker
    from tests.conftest import tiny_job

    job = tiny_job("random", uri=mlflow_uri)
    job = dataclasses.replace(
        job,
        task=dataclasses.replace(
            job.task, train=dataclasses.replace(job.task.train, reproducible_cpu=True)
        ),
    )
    for key, value in cpu.PINS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MKL_CBWR")
    with pytest.raises(AlbenchError, match=r"started without MKL_CBWR; albench puts them"):
        run_job(job)
    assert Tracker(mlflow_uri).runs("test") == []
