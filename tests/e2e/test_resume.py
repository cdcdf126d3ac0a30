"""Crash safety: a job killed with SIGKILL resumes to exactly the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from albench.tracking import Tracker

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# A driver that runs one small learn-loss job; MODE injects a fault through the public hooks.
DRIVER = textwrap.dedent(
    """
    import os, signal, sys, time
    import albench.checkpoint as ck
    import albench.loop as loop
    from albench.config import ALConfig, TaskConfig, TrainConfig

    mode, cycle_at, state_dir, uri = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    task = TaskConfig("digits", ALConfig(initial=20, budget=20, cycles=4, subset=100),
                      TrainConfig(epochs=2, batch_size=16, lr=0.05, lr_milestones=(),
                                  stop_grad_epoch=1, eval_batch_size=256))
    job = loop.Job(benchmark="t", experiment="resume", task=task, strategy="learn_loss",
                   tracking_uri=uri)
    real_save, real_log, real_replace = ck.JobState.save, loop._JobRun.log_cycle, os.replace
    current = {}

    def save(self, path):
        current["cycle"] = self.cycle
        real_save(self, path)
        if mode == "after-save" and self.cycle == cycle_at:
            print("PAUSED", flush=True); time.sleep(600)

    def replace(src, dst):
        if mode == "tear" and str(dst).endswith(".pt") and current.get("cycle") == cycle_at:
            print("TORN", flush=True); os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)

    def log(self, state):
        resumed = self.dedupe
        real_log(self, state)
        if mode == "after-log" and current.get("cycle") == cycle_at and not resumed:
            print("PAUSED", flush=True); time.sleep(600)

    ck.JobState.save, os.replace, loop._JobRun.log_cycle = save, replace, log
    res = loop.run_job(job, state_dir=state_dir)
    print("RESULT", res.status, flush=True)
    """
)


def _driver(tmp: Path, mode: str, uri: str, state: Path, cycle_at: int = 1):
    script = tmp / "driver.py"
    script.write_text(DRIVER)
    return subprocess.Popen(
        [sys.executable, str(script), mode, str(cycle_at), str(state), uri],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_to_end(tmp: Path, uri: str, state: Path) -> None:
    proc = _driver(tmp, "none", uri, state)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "RESULT FINISHED" in out, err


def _kill_at_marker(proc: subprocess.Popen, marker: str) -> None:
    line = proc.stdout.readline()
    while line and marker not in line:
        line = proc.stdout.readline()
    assert marker in line, proc.stderr.read()
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def _summary(uri: str, tmp: Path) -> dict:
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        tracker = Tracker()
        (run,) = tracker.runs("resume")
        keys = [k for k in run.data.metrics if not k.startswith("time/")]
        history = {k: tracker.metric_history(run.info.run_id, k) for k in keys}
        picks = [
            np.load(
                tracker.download_artifact(
                    run.info.run_id, f"selected/cycle_{c:02d}.npy", tmp / f"dl{c}"
                )
            ).tolist()
            for c in range(3)
        ]
        time_steps = [s for s, _ in tracker.metric_history(run.info.run_id, "time/train_s")]
        return {
            "status": run.info.status,
            "history": history,
            "picks": picks,
            "time_steps": time_steps,
            "tags": run.data.tags,
        }
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    uri = f"sqlite:///{tmp / 'ref.db'}"
    _run_to_end(tmp, uri, tmp / "state")
    return _summary(uri, tmp)


@pytest.mark.parametrize("mode", ["after-save", "after-log", "tear"])
def test_sigkill_then_resume_equals_an_uninterrupted_run(mode, reference, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    state = tmp_path / "state"
    _kill_at_marker(_driver(tmp_path, mode, uri, state), "TORN" if mode == "tear" else "PAUSED")
    killed = _summary_status(uri)
    assert killed == "RUNNING"  # a SIGKILL leaves the run as it was
    saved = sorted(p.name[16:] for p in (state / "resume").glob("[!.]*.pt*"))  # past the hash
    if mode == "tear":  # the torn write left a temp file and the previous state intact
        assert list((state / "resume").glob(".*.tmp")) and saved == [".pt.prev"]
    else:  # the state of the cycle, and the one before it
        assert saved == [".pt", ".pt.prev"]
    _run_to_end(tmp_path, uri, state)
    resumed = _summary(uri, tmp_path)
    assert resumed["status"] == "FINISHED"
    assert resumed["history"] == reference["history"]  # bit-equal values, one per step
    assert resumed["picks"] == reference["picks"]
    assert resumed["time_steps"] == [0, 1, 2, 3]  # no duplicated step anywhere
    assert "albench.resumed_at_cycle" in resumed["tags"]
    assert list((state / "resume").iterdir()) == []  # no state, no previous copy, no temp


def _summary_status(uri: str) -> str:
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        (run,) = Tracker().runs("resume")
        return run.info.status
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]


def test_reference_run_has_one_point_per_metric_per_step(reference):
    for key, points in reference["history"].items():
        steps = [s for s, _ in points]
        assert steps == sorted(set(steps)), key
    assert [len(p) for p in reference["picks"]] == [20, 20, 20]
