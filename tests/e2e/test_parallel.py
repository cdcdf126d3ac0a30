"""Parallel execution: loky worker processes, Ray, a shared MLflow server, Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from albench.tracking import Tracker
from tests.e2e.held import held_env, wait_until_held

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SMALL = [
    "run",
    "--benchmark",
    "quick",
    "--tasks",
    "digits",
    "--trials",
    "1",
    "--no-progress",
    "--set",
    "al.cycles=2",
    "--set",
    "train.epochs=3",
]


def _runs(uri: str, experiment: str = "quick"):
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        tracker = Tracker()
        return tracker, tracker.runs(experiment)
    finally:
        if old is None:
            del os.environ["MLFLOW_TRACKING_URI"]
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old


def test_two_worker_processes(tmp_path, albench_cli):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = os.environ | {"MLFLOW_TRACKING_URI": uri}
    proc = albench_cli(*SMALL, "--jobs", "2", env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    _, runs = _runs(uri)
    assert len(runs) == 5 and {r.info.status for r in runs} == {"FINISHED"}
    pids = {r.data.tags["albench.pid"] for r in runs}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # two workers, not the driver


def _interruptible() -> None:
    """In the child before exec: Ctrl-C's default action, as in a terminal. A test suite
    started in the background (``cmd &`` in a script) ignores SIGINT, and every process it
    starts would inherit that, so the SIGINT below would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_marks_the_run_killed_and_resume_finishes_it(tmp_path, albench_cli):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    hold = tmp_path / "hold"
    env = held_env(os.environ | {"MLFLOW_TRACKING_URI": uri}, hold)
    args = ["--benchmark", "quick", "--tasks", "digits", "--trials", "1", "--strategies",
            "held:HeldRandom", "--no-progress", "--set", "al.cycles=4",
            "--set", "train.epochs=2"]  # fmt: skip
    hold.touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "albench", "run", *args],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interruptible,
    )
    wait_until_held(hold, jobs=1, alive=lambda: proc.poll() is None)  # a cycle is saved
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    _, runs = _runs(uri)
    assert [r.info.status for r in runs] == ["KILLED"]
    hold.unlink()
    again = albench_cli("run", *args, env=env, cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr
    tracker, runs = _runs(uri)
    assert [r.info.status for r in runs] == ["FINISHED"]  # the same run, resumed
    steps = [s for s, _ in tracker.metric_history(runs[0].info.run_id, "eval/accuracy")]
    assert steps == [0, 1, 2, 3]


RAY_DRIVER = """
import sys
import ray
from albench.cli import main

# address="local": a fresh instance, never the latest one another process (another test under
# pytest-xdist, say) started on this machine
ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
         log_to_driver=False)
try:
    code = main(sys.argv[1:])
finally:
    ray.shutdown()
sys.exit(code)
"""


def test_ray_backend_with_a_local_instance(tmp_path):
    pytest.importorskip("ray", reason="Ray comes with the dev extras: pip install -e '.[dev]'")
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to confine Ray to a loopback-only namespace")
    # Ray's servers bind every interface; in a fresh network namespace the only one is lo.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "ray_driver.py").write_text(RAY_DRIVER)
    cmd = f"ip link set lo up && exec {sys.executable} ray_driver.py " + " ".join(
        [*SMALL, "--backend", "ray"]
    )
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-c", cmd],
        cwd=tmp_path,
        env=os.environ | {"MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, runs = _runs(uri)
    assert len(runs) == 5 and {r.info.status for r in runs} == {"FINISHED"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_concurrent_jobs_against_an_mlflow_server(tmp_path, albench_cli):
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                assert time.time() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.5)
        proc = albench_cli(
            *SMALL,
            "--strategies",
            "learn_loss,coreset",
            "--jobs",
            "2",
            env=os.environ | {"MLFLOW_TRACKING_URI": uri},
            cwd=tmp_path,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        tracker, runs = _runs(uri)
        assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
        for run in runs:
            rid = run.info.run_id
            assert len(tracker.metric_history(rid, "eval/accuracy")) == 2
            assert len(tracker.metric_history(rid, "train/loss/target")) == 6  # 2 x 3 epochs
            assert len(tracker.metric_history(rid, "time/scan_s")) == 1
        assert len({r.data.tags["albench.pid"] for r in runs}) == 2
    finally:
        _stop_server(server)


def _start_server(tmp_path, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server
        except OSError:
            assert time.time() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.5)


def _stop_server(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group; SIGKILL if it has not exited within 30 s (a
    loaded machine can keep a graceful shutdown waiting)."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def _histories(uri: str) -> dict:
    tracker, runs = _runs(uri)
    return {
        r.info.run_name: {
            k: tracker.metric_history(r.info.run_id, k)
            for k in r.data.metrics
            if not k.startswith("time/")
        }
        for r in runs
    }


def test_a_tracking_server_killed_mid_run_loses_and_duplicates_nothing(tmp_path, albench_cli):
    args = [*SMALL[:-4], "--set", "al.cycles=4", "--set", "train.epochs=3", "--jobs", "2"]
    args += ["--strategies", "held:HeldRandom,held:HeldLearnLoss"]
    hold = tmp_path / "hold"
    reference = tmp_path / "reference"
    reference.mkdir()
    ref_uri = f"sqlite:///{reference / 'mlflow.db'}"
    ref_env = held_env(os.environ | {"MLFLOW_TRACKING_URI": ref_uri}, hold)  # never held
    out = albench_cli(*args, env=ref_env, cwd=reference)
    assert out.returncode == 0, out.stderr

    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    fast_give_up = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    env = held_env(os.environ | {"MLFLOW_TRACKING_URI": uri} | fast_give_up, hold)
    server = _start_server(tmp_path, port)
    try:
        hold.touch()
        proc = subprocess.Popen(
            [sys.executable, "-m", "albench", *args],
            cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_until_held(hold, jobs=2, alive=lambda: proc.poll() is None)  # 2 cycles logged
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        hold.unlink()  # the jobs go on, into a dead server
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 1 and "Traceback" not in err, err
        assert len(err.strip().splitlines()) < 20, err  # no traceback flood
        server = _start_server(tmp_path, port)
        again = albench_cli(*args, env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        _, runs = _runs(uri)
        assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]
        assert _histories(uri) == _histories(ref_uri)  # equal values, every step once
    finally:
        _stop_server(server)


@pytest.mark.parametrize(("how", "code"), [("SIGINT to the group", 130), ("SIGTERM", 143)])
def test_ctrl_c_or_sigterm_stops_two_workers_at_once_and_the_rerun_resumes(
    how, code, tmp_path, albench_cli
):
    """Ctrl-C reaches the driver and its workers (the terminal signals the process group);
    SIGTERM from ``timeout`` reaches the driver alone, Slurm's or Kubernetes' every process.
    Either way each worker marks its run KILLED and stops, the command exits 130 or 143 (no
    worker is left waiting for another job: that took a minute), and the same command
    resumes both runs."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    hold = tmp_path / "hold"
    env = held_env(os.environ | {"MLFLOW_TRACKING_URI": uri}, hold)
    args = ["run", "--benchmark", "quick", "--tasks", "digits", "--trials", "1", "--strategies",
            "held:HeldRandom,held:HeldLearnLoss", "--no-progress", "--jobs", "2",
            "--set", "al.cycles=3", "--set", "train.epochs=2"]  # fmt: skip
    hold.touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "albench", *args],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interruptible,
        start_new_session=True,  # its own process group, as a shell job has
    )
    wait_until_held(hold, jobs=2, alive=lambda: proc.poll() is None)  # a cycle saved in each
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)  # a hang guard, not a timing
    assert proc.returncode == code, err
    assert f"interrupted ({'Ctrl-C' if code == 130 else 'SIGTERM'})" in err
    assert "Traceback" not in err
    _, runs = _runs(uri)
    assert [r.info.status for r in runs] == ["KILLED", "KILLED"]
    hold.unlink()
    again = albench_cli(*args, env=env, cwd=tmp_path, timeout=900)
    assert again.returncode == 0, again.stderr
    tracker, runs = _runs(uri)
    assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]  # the same two runs
    for run in runs:  # resumed where each had stopped: every cycle logged once
        steps = [s for s, _ in tracker.metric_history(run.info.run_id, "eval/accuracy")]
        assert steps == [0, 1, 2]
