"""A two-node Ray cluster on loopback, and what ``tests/e2e/test_ray_cluster.py`` checks on it.

Run by that test inside a fresh network namespace (``unshare --net``), where the only network
interface is ``lo``: every address a Ray process binds or advertises is 127.0.0.1 (the script
also records the listening sockets, and the test checks them). Usage:
``python ray_cluster_script.py OUT_DIR``; writes ``OUT_DIR/cluster.json``.

Phases, each recorded under its own key:

- ``equal``: the small benchmark through ``albench run --backend ray --address ...``;
- ``plan``: ``albench plan --backend ray --address ...`` (the nodes, their CPUs and GPUs);
- ``killed``: two longer jobs, one of whose Ray worker processes is killed (SIGKILL) once the
  job has saved a state; Ray retries it and it resumes;
- ``SIGINT``, ``SIGTERM`` (side by side): the signal to the driver once both jobs saved a
  state, then the same command again;
- ``gpus``: six jobs with ``--jobs-per-gpu 2`` on the node that declares two (fake) GPUs;
- ``contract``: the cluster contract against a folder no node can write and a module version
  the nodes do not have.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

SMALL = ["--benchmark", "quick", "--tasks", "digits", "--trials", "1", "--no-progress",
         "--set", "al.cycles=2", "--set", "train.epochs=3"]  # fmt: skip


def albench(*args: str, uri: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "albench", *args],
        env=os.environ | {"MLFLOW_TRACKING_URI": uri},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def runs(uri: str, experiment: str) -> list[dict]:
    """Every run of ``experiment`` in the store at ``uri``, with its tags and eval/ histories
    (the caller's environment is left as it is: the tests import this too)."""
    from albench.tracking import Tracker

    tracker = Tracker(uri)
    out = []
    for r in tracker.runs(experiment):
        history = {
            key: [v for _, v in tracker.metric_history(r.info.run_id, key)]
            for key in r.data.metrics
            if key.startswith("eval/")
        }
        out.append({
            "name": r.info.run_name, "status": r.info.status, "tags": dict(r.data.tags),
            "start": r.info.start_time, "end": r.info.end_time, "eval": history,
        })  # fmt: skip
    return out


def ray_workers() -> list[int]:
    """Pids of the Ray worker processes that run an albench job now, in this script's
    cluster."""
    found = subprocess.run(["pgrep", "-f", "ray::_ray_job"], capture_output=True, text=True)
    # this script's cluster alone: under pytest-xdist another test may run Ray beside it
    return [int(p) for p in found.stdout.split() if _descends_from(int(p), os.getpid())]


def _descends_from(pid: int, root: int) -> bool:
    """Whether process ``pid`` is ``root`` or below it (parents read from /proc)."""
    while pid > 1:
        if pid == root:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # gone meanwhile
            return False
        pid = int(stat.rpartition(")")[2].split()[1])  # the field after the state: ppid
    return False


def main(out: Path) -> None:
    # Ctrl-C's default action in the drivers, as in a terminal: a test run started in the
    # background (`.ci/run` under nohup) ignores SIGINT, and a driver would inherit that; a
    # handler here is reset to the default in every child (no preexec_fn: threads start them)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    result: dict = {}
    started = time.perf_counter()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1")
    address = cluster.address
    times: dict[str, float] = {}
    result["seconds"] = times  # each phase's wall time, for the suite's time budget
    clock = time.perf_counter()
    times["start"] = round(clock - started, 1)

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[phase], clock = round(now - clock, 1), now

    try:
        work = out / "equal"
        work.mkdir()
        uri = f"sqlite:///{work / 'mlflow.db'}"
        plan = [a for a in SMALL if a != "--no-progress"]
        proc = albench("plan", *plan, "--backend", "ray", "--address", address, uri=uri, cwd=work)
        result["plan"] = {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}
        lap("plan")
        proc = albench("run", *SMALL, "--backend", "ray", "--address", address, uri=uri, cwd=work)
        result["equal"] = {"rc": proc.returncode, "stderr": proc.stderr[-4000:],
                           "runs": runs(uri, "quick")}  # fmt: skip
        lap("equal")

        work = out / "killed"
        uri, _, driver = two_jobs(work, address, epochs=12)
        killed, before, deadline = None, {}, time.time() + 600
        while killed is None and time.time() < deadline and driver.poll() is None:
            states = list((work / "albench-state").rglob("*.pt"))
            workers = ray_workers()
            if len(states) == 2 and len(workers) == 2:  # both runs exist, mid-job
                before = {r["name"]: r["tags"]["albench.pid"] for r in runs(uri, "quick")}
                killed = workers[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.2)
        _, err = driver.communicate(timeout=900)
        result["killed"] = {"rc": driver.returncode, "stderr": err[-4000:], "killed": killed,
                            "pids_before": before, "runs": runs(uri, "quick")}  # fmt: skip
        lap("killed")

        with ThreadPoolExecutor(2) as pool:  # side by side: 4 jobs, 4 slots
            phases = {s.name: pool.submit(interrupted, out / s.name, address, s)
                      for s in (signal.SIGINT, signal.SIGTERM)}  # fmt: skip
            result |= {name: phase.result() for name, phase in phases.items()}
        lap("SIGINT and SIGTERM")

        cluster.add_node(num_cpus=6, num_gpus=2, node_ip_address="127.0.0.1")
        result["gpus"] = gpu_phase(out / "gpus", address)
        lap("gpus")
        result["contract"] = contract_phase(out / "contract", address)
        lap("contract")
        result["listening"] = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    finally:
        ray.shutdown()
        cluster.shutdown()
        (out / "cluster.json").write_text(json.dumps(result))


def two_jobs(work: Path, address: str, epochs: int) -> tuple[str, list[str], subprocess.Popen]:
    """``albench run`` of two digits jobs (3 cycles of ``epochs``) on the cluster, started in
    ``work`` with a store of its own: (its tracking URI, its arguments, the driver)."""
    work.mkdir()
    uri = f"sqlite:///{work / 'mlflow.db'}"
    args = ["run", *SMALL[:-4], "--strategies", "random,learn_loss", "--set", "al.cycles=3",
            "--set", f"train.epochs={epochs}", "--backend", "ray",
            "--address", address]  # fmt: skip
    driver = subprocess.Popen(
        [sys.executable, "-m", "albench", *args],
        env=os.environ | {"MLFLOW_TRACKING_URI": uri},
        cwd=work,
        stderr=subprocess.PIPE,
        text=True,
    )
    return uri, args, driver


def interrupted(work: Path, address: str, sig: signal.Signals) -> dict:
    """``sig`` to the driver alone (a cluster's workers are not in the terminal's process
    group) once both jobs have saved a state; then the same command again."""
    # 3 cycles of 100 epochs: seconds of training after both jobs saved their first state
    uri, args, driver = two_jobs(work, address, epochs=100)
    deadline = time.time() + 600
    while time.time() < deadline and driver.poll() is None:
        if len(list((work / "albench-state").rglob("*.pt"))) == 2:
            break
        time.sleep(0.2)
    sent = time.perf_counter()
    driver.send_signal(sig)
    _, err = driver.communicate(timeout=300)
    exit_s = time.perf_counter() - sent
    statuses = [r["status"] for r in runs(uri, "quick")]
    rerun = time.perf_counter()
    again = albench(*args, uri=uri, cwd=work)
    return {"rc": driver.returncode, "exit_s": exit_s, "stderr": err[-3000:],
            "statuses": statuses, "again_rc": again.returncode,
            "rerun_s": round(time.perf_counter() - rerun, 1),
            "again": runs(uri, "quick")}  # fmt: skip


def gpu_phase(work: Path, address: str) -> dict:
    """Six CPU jobs scheduled as GPU jobs, two per declared GPU (the node has 6 CPUs, so
    the GPUs are what limits them)."""
    from albench import api
    from albench.cli import build_parser, options_of
    from albench.runner import ProgressBoard, Schedule, run_jobs
    from albench.tracking import Tracker

    work.mkdir()
    uri = f"sqlite:///{work / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.chdir(work)
    args = build_parser().parse_args(["run", *SMALL, "--trials", "2", "--strategies",
                                      "random,entropy,coreset", "--device", "cpu"])  # fmt: skip
    jobs = api.jobs(args.benchmark, options_of(args), read_data=True)
    Tracker(uri).experiment_id(jobs[0].experiment)
    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    schedule = Schedule("ray", gpus=[0, 1], jobs_per_gpu=2, address=address)
    results = run_jobs(jobs, str(work / "state"), schedule, ProgressBoard(tty=False))
    gpu_node = next(n["NodeID"] for n in ray.nodes() if n["Resources"].get("GPU"))
    ray.shutdown()
    return {"statuses": [r.status for _, r in results], "runs": runs(uri, "quick"),
            "gpu_node": gpu_node}  # fmt: skip


def contract_phase(work: Path, address: str) -> dict:
    """A folder no node can write, and a driver whose albench version the nodes lack."""
    from albench import api, cluster
    from albench.cli import build_parser, options_of
    from albench.errors import AlbenchError

    work.mkdir()
    os.chdir(work)
    args = build_parser().parse_args(["run", *SMALL, "--strategies", "random"])
    jobs = api.jobs(args.benchmark, options_of(args))
    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    cluster.modules_in_use = lambda jobs: {"albench": "0.0.0-elsewhere"}
    try:
        cluster.check_contract(ray, jobs, {"--state-dir": "/proc/albench-nowhere"}, "sqlite:///x")
        message = ""
    except AlbenchError as exc:
        message = str(exc)
    ray.shutdown()
    return {"message": message}


if __name__ == "__main__":
    main(Path(sys.argv[1]))
