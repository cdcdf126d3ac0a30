"""Faults injected as a tester would (issue "Reliability", faults A-H): a kill at an exact
point, a dying worker, a dying driver, two runners at once, corrupt states, a full disk.
Nothing logged is lost or duplicated, and a rerun finishes what was left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from albench.checkpoint import CorruptStateError, JobState
from albench.tracking import Tracker
from tests.e2e.held import held_env, wait_until_held

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SMALL = ["--benchmark", "quick", "--tasks", "digits", "--trials", "1", "--no-progress"]
SHORT = ["--set", "al.cycles=3", "--set", "train.epochs=2"]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return os.environ | {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"} | extra


def _runs(tmp: Path, experiment: str = "quick") -> list:
    return Tracker(f"sqlite:///{tmp / 'mlflow.db'}").runs(experiment)


def _steps(tmp: Path, run) -> list[int]:
    tracker = Tracker(f"sqlite:///{tmp / 'mlflow.db'}")
    return [s for s, _ in tracker.metric_history(run.info.run_id, "eval/accuracy")]


def _driver(tmp: Path, patch: str, args: list[str]) -> subprocess.Popen:
    """``albench run ARGS`` in a process where ``patch`` (Python) ran first."""
    script = tmp / "driver.py"
    script.write_text(
        "import os, signal, sys, time\n"
        + textwrap.dedent(patch)
        + "\nfrom albench.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.Popen(
        [sys.executable, str(script), "run", *args],
        cwd=tmp,
        env=_env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# -- A: killed between creating the run and saving the first state -------------------------

KILL_AT_FIRST_SAVE = """
import albench.checkpoint as ck
def save(self, path):
    os.kill(os.getpid(), signal.SIGKILL)  # the run exists, its first state does not
ck.JobState.save = save
"""


def test_a_kill_before_the_first_state_is_adopted_not_duplicated(tmp_path, albench_cli):
    args = [*SMALL, *SHORT, "--strategies", "random", "--jobs", "1"]
    proc = _driver(tmp_path, KILL_AT_FIRST_SAVE, args)
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert [r.info.status for r in _runs(tmp_path)] == ["RUNNING"]
    again = albench_cli("run", *args, cwd=tmp_path, env=_env(tmp_path))
    assert again.returncode == 0, again.stderr
    (run,) = _runs(tmp_path)  # the same run, adopted
    assert run.info.status == "FINISHED" and run.data.tags["albench.adopted"] == "true"
    assert _steps(tmp_path, run) == [0, 1, 2]


# -- B: killed while the tracking database is being created --------------------------------

KILL_DURING_CREATION = """
import mlflow.store.db.utils as u
real = u._upgrade_db
def upgrade(engine):
    real(engine)
    os.kill(os.getpid(), signal.SIGKILL)  # tables made, the migration not recorded as done
u._upgrade_db = upgrade
"""


def test_b_a_kill_while_the_store_is_created_leaves_no_broken_store(tmp_path, albench_cli):
    args = [*SMALL, *SHORT, "--strategies", "random", "--jobs", "1"]
    proc = _driver(tmp_path, KILL_DURING_CREATION, args)
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "mlflow.db").exists()  # only a temporary file, never the store
    again = albench_cli("run", *args, cwd=tmp_path, env=_env(tmp_path))
    assert again.returncode == 0, again.stderr
    assert [r.info.status for r in _runs(tmp_path)] == ["FINISHED"]


# -- C: corrupt states ------------------------------------------------------------------


def _state(cycle: int) -> JobState:
    return JobState("run", "hash", np.arange(4), cycle, 0.5, {}, None, [("m", 1.0, cycle)], {})


@pytest.mark.parametrize("damage", ["truncate", "empty", "flip"])
def test_c_a_corrupt_state_falls_back_to_the_previous_one(damage, tmp_path, capsys):
    path = tmp_path / "job.pt"
    _state(0).save(path)
    _state(1).save(path)
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # 16 flipped bytes in the weights' area
        middle = len(blob) // 2
        path.write_bytes(blob[:middle] + bytes(b ^ 0xFF for b in blob[middle : middle + 16])
                         + blob[middle + 16 :])  # fmt: skip
    state = JobState.load(path, "hash")
    assert state.cycle == 0  # the previous, intact state
    assert f"corrupt job state {path}" in capsys.readouterr().err
    _previous = path.with_name("job.pt.prev")
    _previous.write_bytes(b"garbage")
    with pytest.raises(CorruptStateError, match="delete job.pt"):
        JobState.load(path, "hash")


def test_c_a_corrupt_state_does_not_stop_the_command(tmp_path, albench_cli):
    args = [*SMALL, *SHORT, "--strategies", "random,entropy", "--jobs", "1"]
    state = tmp_path / "albench-state" / "quick"
    state.mkdir(parents=True)
    for name in ("0123456789abcdef.pt", "fedcba9876543210.pt"):
        (state / name).write_bytes(b"")  # states of other jobs: empty files
    plan_args = [a for a in args if a != "--no-progress"]
    plan = albench_cli("plan", *plan_args, cwd=tmp_path, env=_env(tmp_path))
    assert plan.returncode == 0, plan.stderr
    out = albench_cli("run", *args, cwd=tmp_path, env=_env(tmp_path))
    assert out.returncode == 0, out.stderr


# -- D: a worker that dies; E: a driver that dies --------------------------------------------

SUICIDE = """
import os, signal
from albench.strategies.random import RandomStrategy


class Suicide(RandomStrategy):
    '''Dies in its first selection, as if the OOM killer struck.'''

    def select(self, scan, budget, rng):
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_d_a_dying_worker_fails_its_job_alone(tmp_path, albench_cli):
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "suicide.py").write_text(SUICIDE)
    env = _env(tmp_path, PYTHONPATH=str(tmp_path / "plug"))
    args = [*SMALL, *SHORT, "--strategies", "random,suicide:Suicide,entropy", "--jobs", "2"]
    out = albench_cli("run", *args, cwd=tmp_path, env=env)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "digits/suicide:Suicide/trial-0 FAILED: worker process killed by signal SIGKILL" in (
        out.stderr
    )
    assert "2/3 jobs FINISHED" in out.stderr
    status = {r.data.tags["albench.strategy"]: r.info.status for r in _runs(tmp_path)}
    assert status == {"random": "FINISHED", "suicide:Suicide": "FAILED", "entropy": "FINISHED"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_e_workers_exit_when_the_driver_dies(tmp_path, albench_cli):
    hold = tmp_path / "hold"
    args = [*SMALL, *SHORT, "--strategies", "held:HeldRandom,held:HeldEntropy"]
    args += ["--jobs", "2"]
    hold.touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "albench", "run", *args],
        cwd=tmp_path,
        env=held_env(_env(tmp_path), hold),
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_held(hold, jobs=2, alive=lambda: proc.poll() is None)  # both workers are busy
    runs = _runs(tmp_path)
    pids = [int(r.data.tags["albench.pid"]) for r in runs]
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(_alive(p) for p in pids)  # no orphan keeps logging
    hold.unlink()
    again = albench_cli("run", *args, cwd=tmp_path, env=held_env(_env(tmp_path), hold))
    assert again.returncode == 0, again.stderr
    runs = _runs(tmp_path)
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    assert all(_steps(tmp_path, r) == [0, 1, 2] for r in runs)


# -- F: two runners at once ------------------------------------------------------------------


def test_f_a_second_runner_of_the_same_experiment_refuses(tmp_path, albench_cli):
    hold = tmp_path / "hold"
    env = held_env(_env(tmp_path), hold)
    args = [*SMALL, *SHORT, "--strategies", "held:HeldRandom", "--jobs", "1"]
    hold.touch()
    first = subprocess.Popen(
        [sys.executable, "-m", "albench", "run", *args],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_held(hold, jobs=1, alive=lambda: first.poll() is None)  # mid-run, locked
    second = albench_cli("run", *args, cwd=tmp_path, env=env)
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2 and len(lines) == 1, second.stderr
    assert f"pid {first.pid}" in lines[0] and "--wait" in lines[0]
    waiting = subprocess.Popen(
        [sys.executable, "-m", "albench", "run", *args, "--wait"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(10)  # time to start and reach the lock; it waits while the first is held
    assert waiting.poll() is None, waiting.communicate()[1]
    hold.unlink()
    _, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "0 of 1 jobs to run (1 finished already)" in err
    first.communicate(timeout=300)
    assert first.returncode == 0
    (run,) = _runs(tmp_path)
    assert _steps(tmp_path, run) == [0, 1, 2]  # every step logged once


def test_f_a_stale_lock_is_taken_over(tmp_path, albench_cli):
    from albench.preflight import ExperimentLock

    lock = ExperimentLock(_env(tmp_path)["MLFLOW_TRACKING_URI"], "quick").path
    lock.parent.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(f'{{"pid": {dead.pid}, "host": "{os.uname().nodename}", "since": "then"}}')
    out = albench_cli("run", *SMALL, *SHORT, "--strategies", "random", cwd=tmp_path,
                      env=_env(tmp_path))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert not lock.exists()


# -- G: results do not depend on --jobs --------------------------------------------------------


def _per_cycle(tmp: Path) -> dict:
    tracker = Tracker(f"sqlite:///{tmp / 'mlflow.db'}")
    out = {}
    for run in tracker.runs("quick"):
        rid = run.info.run_id
        picks = [
            np.load(
                tracker.download_artifact(rid, f"selected/cycle_{c:02d}.npy", tmp / rid)
            ).tolist()
            for c in range(2)
        ]
        out[run.info.run_name] = (tracker.metric_history(rid, "eval/accuracy"), picks)
    return out


def test_g_jobs_1_and_jobs_2_give_bit_equal_results(tmp_path, albench_cli):
    results = []
    for jobs in ("1", "2"):
        folder = tmp_path / f"jobs{jobs}"
        folder.mkdir()
        args = [*SMALL, *SHORT, "--strategies", "random,coreset,learn_loss", "--jobs", jobs]
        out = albench_cli("run", *args, cwd=folder, env=_env(folder))
        assert out.returncode == 0, out.stderr
        results.append(_per_cycle(folder))
    assert results[0] == results[1]


# -- H: a full disk ------------------------------------------------------------------------

FULL_DISK = """
import errno
import albench.checkpoint as ck
real = ck.os.fsync
calls = {"n": 0}
def fsync(fd):
    calls["n"] += 1
    if calls["n"] == 3:  # the state after cycle 1: the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real(fd)
ck.os.fsync = fsync
"""


def test_h_a_full_disk_fails_the_job_with_one_line_and_keeps_the_last_state(tmp_path):
    args = [*SMALL, *SHORT, "--strategies", "random", "--jobs", "1"]
    proc = _driver(tmp_path, FULL_DISK, args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert "No space left on device; the previous state is intact" in err
    (saved,) = (tmp_path / "albench-state" / "quick").glob("*.pt")
    assert JobState.load(saved, saved.stem).cycle == 0  # the last good state
    assert [r.info.status for r in _runs(tmp_path)] == ["FAILED"]
