"""A job state is data, bound to its job: a swapped or crafted state file never runs code
and is never loaded for another job (issue: security and reliability, round three)."""

from __future__ import annotations

import hashlib
import io
import pathlib

import numpy as np
import pytest
import torch

from albench.checkpoint import _MAGIC, CorruptStateError, ForeignStateError, JobState


class _Payload:
    """Unpickling this writes a file: what a hostile state would do instead."""

    def __init__(self, target: pathlib.Path):
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.write_text, (self.target, "ran"))


def _forge(path: pathlib.Path, payload: dict) -> None:
    """A state file with a valid magic line and checksum (the checksum has no key: anyone
    who can write the folder can compute it) around ``payload``."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    body = buffer.getvalue()
    path.write_bytes(_MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)


def test_a_crafted_state_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "job.pt"
    _forge(path, {"version": 3, "run_id": "r", "config_hash": "h", "labeled": _Payload(marker)})
    with pytest.raises(CorruptStateError) as err:
        JobState.load(path, "h")
    assert not marker.exists()  # nothing was unpickled into a call
    assert len(str(err.value).splitlines()) == 1 and "cannot be read as data" in str(err.value)
    with pytest.raises(CorruptStateError):
        JobState.peek(path, "h")  # albench plan reads the same way
    assert not marker.exists()


# One digits job of two short cycles, run here by the command line's ``main`` (``--jobs 1``:
# in this process; what these tests check is the state folder, not the scheduling).
ONE_JOB = ["--benchmark", "quick", "--tasks", "digits", "--trials", "1", "--strategies", "random",
           "--set", "train.epochs=1", "--set", "al.cycles=2", "--jobs", "1"]  # fmt: skip


def _job_hash(args: list[str]) -> str:
    """The config hash of the one job ``albench run ARGS`` would run from here."""
    from albench import api, cli

    parsed = cli.build_parser().parse_args(["run", *args])
    return api.jobs(parsed.benchmark, cli.options_of(parsed))[0].config_hash()


def test_a_crafted_state_is_refused_by_the_command_line_in_one_line(
    tmp_path, store_in, monkeypatch, capsys
):
    """`albench plan` and `albench run` over a state folder holding the crafted file in
    place of the job's own state: the plan says the state is corrupt, the run fails the job
    in one line; no code ran."""
    from albench.cli import main

    marker = tmp_path / "pwned"
    store_in(tmp_path)  # where the command line's default store goes
    monkeypatch.chdir(tmp_path)
    state_dir = tmp_path / "albench-state" / "quick"
    state_dir.mkdir(parents=True)
    _forge(state_dir / f"{_job_hash(ONE_JOB)}.pt", {"version": 3, "labeled": _Payload(marker)})
    assert main(["plan", *ONE_JOB]) == 0
    assert "corrupt saved state" in capsys.readouterr().out
    assert main(["run", *ONE_JOB, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "cannot be read as data" in err, err
    assert not marker.exists()


def _state(config_hash: str) -> JobState:
    artifacts = {"selected/cycle_00.npy": np.array([3, 4]), "scores.csv": {"loss": np.ones(2)}}
    rows = [("eval/accuracy", np.float64(0.5), 0)]  # a numpy number, as a metric can be
    return JobState("run", config_hash, np.arange(4), 0, np.float64(0.5), {}, None, rows, artifacts)


def test_a_state_round_trips_as_data_only(tmp_path):
    path = tmp_path / "job.pt"
    _state("h").save(path)
    back = JobState.load(path, "h")
    assert back.rows == [("eval/accuracy", 0.5, 0)] and back.metric == 0.5
    assert back.artifacts["selected/cycle_00.npy"].tolist() == [3, 4]
    assert back.artifacts["scores.csv"]["loss"].tolist() == [1.0, 1.0]
    assert np.array_equal(back.labeled, np.arange(4))


def test_another_job_s_state_is_refused_in_one_line(tmp_path):
    path = tmp_path / "random.pt"
    _state("learn_loss_hash").save(path)  # copied over this job's file
    with pytest.raises(ForeignStateError) as err:
        JobState.load(path, "random_hash")
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert "holds another job's state" in message and "delete random.pt*" in message


def test_a_swapped_state_fails_its_job_before_any_run_is_created(tmp_path, mlflow_uri):
    """learn_loss's saved state copied over random's: random's job refuses it (no MLflow
    run created, nothing trained), learn_loss's own job is untouched."""
    from albench.loop import checkpoint_path, run_job
    from albench.tracking import Tracker
    from tests.conftest import tiny_job

    other, mine = tiny_job("learn_loss", uri=mlflow_uri), tiny_job("random", uri=mlflow_uri)
    _state(other.config_hash()).save(checkpoint_path(tmp_path, mine))
    with pytest.raises(ForeignStateError):
        run_job(mine, state_dir=tmp_path)
    assert Tracker(mlflow_uri).runs("test") == []


@pytest.mark.parametrize("name", ["../../escape", "/abs/path", "a/b", ".", ".."])
def test_an_experiment_name_never_writes_outside_the_state_folder(
    name, tmp_path, store_in, monkeypatch, capsys
):
    """Any experiment name maps to one safe file name in the state folder: the lock and the
    states stay inside it, and a report's default folder inside reports/."""
    from albench.cli import main
    from albench.config import experiment_file_name

    work = tmp_path / "a" / "b" / "work"
    work.mkdir(parents=True)
    store_in(work)  # where the command line's default store goes
    monkeypatch.chdir(work)
    assert main(["run", *ONE_JOB, "--no-progress", "--experiment", name]) == 0, capsys.readouterr()
    outside = [p for p in tmp_path.rglob("*") if not p.is_relative_to(work)]
    assert sorted(outside) == [tmp_path / "a", tmp_path / "a" / "b"]  # only the test's own
    assert not pathlib.Path("/abs").exists()
    state = work / "albench-state"
    assert sorted(p.name for p in state.iterdir()) == [experiment_file_name(name)]  # lock gone
    assert main(["report", "--experiment", name]) == 0, capsys.readouterr()
    assert (work / "reports" / experiment_file_name(name) / "index.html").is_file()


@pytest.mark.parametrize("name", ["", "  ", "a\tb", "x" * 201, "nul\x00"])
def test_an_experiment_name_that_cannot_name_one_is_refused_in_one_line(name, tmp_path):
    from albench.config import check_experiment_name
    from albench.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot name an experiment") as err:
        check_experiment_name(name, "--experiment")
    assert len(str(err.value)) < 200


DRIVER = """
import multiprocessing, sys, time
from albench.runner import _watch_driver

if __name__ == "__main__":
    ctx = multiprocessing.get_context("forkserver")
    lifeline, keep = ctx.Pipe(duplex=False)
    worker = ctx.Process(target=_watch_driver, args=(lifeline,))
    worker.start()
    lifeline.close()
    print(worker.pid, flush=True)
    time.sleep(600)
"""


def test_a_worker_exits_when_its_driver_is_killed_even_as_an_unreaped_zombie(tmp_path):
    """A killed driver that its parent has not reaped still answers kill(pid, 0), the old
    liveness check; its workers (children of the forkserver, not of the driver) must exit
    all the same, as soon as it is gone."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from albench.preflight import running

    (tmp_path / "driver.py").write_text(DRIVER)
    driver = subprocess.Popen([sys.executable, "driver.py"], cwd=tmp_path, stdout=subprocess.PIPE)
    try:
        worker = int(driver.stdout.readline())
        time.sleep(0.5)
        assert running(worker)  # the worker waits while its driver lives
        os.kill(driver.pid, signal.SIGKILL)  # and this test does not reap it yet
        deadline = time.time() + 30
        while time.time() < deadline and "Z" not in _state_of(driver.pid):
            time.sleep(0.05)
        os.kill(driver.pid, 0)  # the zombie still answers the old liveness check
        assert not running(driver.pid)
        while time.time() < deadline and running(worker):
            time.sleep(0.05)
        assert not running(worker)
    finally:
        driver.kill()
        driver.wait()


def _state_of(pid: int) -> str:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return ""


def test_the_lock_is_per_store_and_experiment_whatever_the_state_folder(tmp_path):
    """The same experiment of the same store, run with two --state-dir: the second runner
    is refused (the lock lives with the store); another store or experiment is not."""
    from albench.preflight import ExperimentLock, LockHeldError

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with ExperimentLock(uri, "quick") as first:
        first.acquire()
        with pytest.raises(LockHeldError, match="experiment 'quick' is being run by pid"):
            ExperimentLock(uri, "quick").acquire()
        other_store = ExperimentLock(f"sqlite:///{tmp_path / 'other' / 'mlflow.db'}", "quick")
        (tmp_path / "other").mkdir()
        other_store.acquire()
        other_store.release()
        ExperimentLock(uri, "quick-s1").acquire()


TAKEOVER = """
import sys, time
from albench.preflight import ExperimentLock, LockHeldError
lock = ExperimentLock(sys.argv[1], "race")
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all start together
try:
    lock.acquire()
except LockHeldError:
    sys.exit(3)
time.sleep(1.0)  # hold it while the others try
lock.release()
"""


@pytest.mark.slow  # a system test: 8 rounds of 8 processes racing for one lock
def test_many_processes_taking_over_a_stale_lock_at_once_leave_one_holder(tmp_path):
    """8 processes find a dead holder's lock at the same moment, 8 rounds: exactly one of
    them holds the lock each round (without the folder lock, 4 rounds of 12 had two)."""
    import os
    import subprocess
    import sys
    import time

    from albench.preflight import ExperimentLock

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = ExperimentLock(uri, "race").path
    path.parent.mkdir(parents=True)
    script = tmp_path / "takeover.py"
    script.write_text(TAKEOVER)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for _ in range(8):
        path.write_text(f'{{"pid": {dead.pid}, "host": "{os.uname().nodename}", "since": "x"}}')
        start = time.time() + 3.0
        procs = [subprocess.Popen([sys.executable, str(script), uri, str(start)]) for _ in range(8)]
        codes = [p.wait(timeout=120) for p in procs]
        assert sorted(codes) == [0] + [3] * 7, codes


def test_a_job_whose_states_are_both_corrupt_fails_its_run_instead_of_leaving_it_running(
    tmp_path, mlflow_uri
):
    """A run left RUNNING by a killed process, and both its saved states corrupt: the rerun
    refuses the job in one line and marks that run FAILED with the reason."""
    from albench.loop import checkpoint_path, run_job
    from albench.tracking import Tracker
    from tests.conftest import tiny_job

    job = tiny_job("random", uri=mlflow_uri)
    tracker = Tracker(mlflow_uri)
    run_id = tracker.start_run(
        tracker.experiment_id(job.experiment), job.run_name,
        {"albench.config_hash": job.config_hash()}, {},
    )  # fmt: skip
    path = checkpoint_path(tmp_path, job)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    path.with_name(path.name + ".prev").write_bytes(b"")
    with pytest.raises(CorruptStateError):
        run_job(job, state_dir=tmp_path)
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert "CorruptStateError" in run.data.tags["albench.error"]


def test_a_finished_job_s_leftover_state_is_removed_by_the_next_run(
    tmp_path, store_in, monkeypatch, capsys
):
    """A kill between a job's FINISHED and the removal of its state leaves the file; the
    next run skips the job and removes it."""
    from albench.cli import main

    store_in(tmp_path)  # where the command line's default store goes
    monkeypatch.chdir(tmp_path)
    assert main(["run", *ONE_JOB, "--no-progress"]) == 0
    leftover = tmp_path / "albench-state" / "quick" / f"{_job_hash(ONE_JOB)}.pt"
    leftover.write_bytes(b"left by a kill")
    leftover.with_name(leftover.name + ".prev").write_bytes(b"left by a kill")
    capsys.readouterr()
    assert main(["run", *ONE_JOB, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "1 finished already" in err, err
    assert not leftover.exists() and not leftover.with_name(leftover.name + ".prev").exists()


def test_files_left_by_a_kill_while_creating_the_store_are_removed(tmp_path):
    """A kill during the creation of a sqlite store leaves `.mlflow.db.*.creating` files;
    the next creation removes those older than a creation can take, and no younger one."""
    import os
    import time

    from albench.preflight import check_tracking_store

    old = tmp_path / ".mlflow.db.abc123.creating"
    young = tmp_path / ".mlflow.db.def456.creating"
    for f in (old, young):
        f.write_bytes(b"half a database")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    check_tracking_store(f"sqlite:///{tmp_path / 'mlflow.db'}", create=True)
    assert (tmp_path / "mlflow.db").is_file()
    assert not old.exists() and young.exists()


def test_a_full_disk_under_the_store_is_one_line_when_logging():
    """sqlite's "database or disk is full", however MLflow wraps it, becomes one line that
    says so and how to go on (the job's state is saved: a rerun resumes it)."""
    from albench.tracking import StoreFullError, _retry

    def full():
        raise RuntimeError(
            "(raised as a result of Query-invoked autoflush; ...)\n"
            "(sqlite3.OperationalError) database or disk is full\n[SQL: INSERT INTO metrics]"
        )

    with pytest.raises(StoreFullError) as err:
        _retry(full)
    assert len(str(err.value).splitlines()) == 1 and "disk is full" in str(err.value)


@pytest.fixture
def full_disk(tmp_path):
    """A 300 kB file system (tmpfs), too small for a new MLflow database; skipped where
    mounting one is not allowed."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_when_creating_the_store_is_one_line_and_leaves_nothing(
    full_disk, tmp_path, albench_cli
):
    env = {**__import__("os").environ, "MLFLOW_TRACKING_URI": f"sqlite:///{full_disk}/mlflow.db"}
    out = albench_cli("run", "--benchmark", "quick", "--tasks", "digits", "--trials", "1",
                      "--state-dir", str(tmp_path / "state"), cwd=tmp_path, env=env)  # fmt: skip
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "cannot create the tracking database" in lines[0] and "the disk is full" in lines[0]
    assert list(full_disk.iterdir()) == []  # no half-made database, no temporary file
    assert not (tmp_path / "state").exists()  # nor the state folder made for it
