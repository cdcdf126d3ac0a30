"""A two-node Ray cluster on loopback, and what ``tests/e2e/test_ray_cluster.py`` checks on it.

Run by that test inside a fresh network namespace (``unshare --net``), where the only network
interface is ``lo``: every address a Ray process binds or advertises is 127.0.0.1 (the script
also records the listening sockets, and the test checks them). Usage:
``python ray_cluster_script.py OUT_DIR``; writes ``OUT_DIR/cluster.json``.

Phases, each recorded under its own key:

- ``equal``: the small benchmark through ``albench run --backend ray --address ...``;
- ``plan``: ``albench plan --backend ray --address ...`` (the nodes, their CPUs and GPUs);
- ``killed``: two jobs, one of whose Ray worker processes is killed (SIGKILL) once both are
  held after a saved cycle (``held.py``); Ray retries it and it resumes;
- ``SIGINT``, ``SIGTERM`` (side by side): two drivers of two jobs each, the signal to each
  driver once all four jobs are held, then the same commands again;
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
from held import held_env, wait_until_held
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
    hold = out / "hold"  # the held strategies' file, in every node's environment
    os.environ.update(held_env(dict(os.environ), hold))
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
        hold.touch()
        uri, _, driver = two_jobs(work, address)
        wait_until_held(hold, jobs=2, alive=lambda: driver.poll() is None)
        deadline = time.time() + 60
        while len(workers := ray_workers()) != 2 and time.time() < deadline:
            time.sleep(0.2)
        before = {r["name"]: r["tags"]["albench.pid"] for r in runs(uri, "quick")}
        killed = workers[0] if len(workers) == 2 else None
        if killed is not None:
            os.kill(killed, signal.SIGKILL)
        release(hold)
        _, err = driver.communicate(timeout=900)
        result["killed"] = {"rc": driver.returncode, "stderr": err[-4000:], "killed": killed,
                            "pids_before": before, "runs": runs(uri, "quick")}  # fmt: skip
        lap("killed")

        result |= interrupted(out, address, hold)
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


def two_jobs(work: Path, address: str) -> tuple[str, list[str], subprocess.Popen]:
    """``albench run`` of two held digits jobs (3 cycles of 3 epochs) on the cluster, started
    in ``work`` with a store of its own: (its tracking URI, its arguments, the driver)."""
    work.mkdir()
    uri = f"sqlite:///{work / 'mlflow.db'}"
    args = ["run", *SMALL[:-4], "--strategies", "held:HeldRandom,held:HeldLearnLoss",
            "--set", "al.cycles=3", "--set", "train.epochs=3", "--backend", "ray",
            "--address", address]  # fmt: skip
    driver = subprocess.Popen(
        [sys.executable, "-m", "albench", *args],
        env=os.environ | {"MLFLOW_TRACKING_URI": uri},
        cwd=work,
        stderr=subprocess.PIPE,
        text=True,
    )
    return uri, args, driver


def release(hold: Path) -> None:
    """Let the held jobs go on, and forget which were held."""
    hold.unlink()
    for marker in hold.parent.glob(f"{hold.name}.waiting-*"):
        marker.unlink()


def interrupted(out: Path, address: str, hold: Path) -> dict[str, dict]:
    """Two drivers of two jobs each; once all four jobs are held, SIGINT to one and SIGTERM to
    the other, to the driver alone (a cluster's workers are not in the terminal's process
    group); then the same commands again, side by side (4 jobs, 4 slots)."""
    hold.touch()
    started = {sig: two_jobs(out / sig.name, address) for sig in (signal.SIGINT, signal.SIGTERM)}
    drivers = [driver for _, _, driver in started.values()]
    wait_until_held(hold, jobs=4, alive=lambda: all(d.poll() is None for d in drivers))
    for sig, (_, _, driver) in started.items():
        driver.send_signal(sig)
    result = {}
    for sig, (uri, _, driver) in started.items():
        _, err = driver.communicate(timeout=300)
        statuses = [r["status"] for r in runs(uri, "quick")]
        result[sig.name] = {"rc": driver.returncode, "stderr": err[-3000:], "statuses": statuses}
    release(hold)
    with ThreadPoolExecutor(2) as pool:
        again = {sig.name: pool.submit(albench, *args, uri=uri, cwd=out / sig.name)
                 for sig, (uri, args, _) in started.items()}  # fmt: skip
        for name, proc in again.items():
            uri = started[signal.Signals[name]][0]
            result[name] |= {"again_rc": proc.result().returncode, "again": runs(uri, "quick")}
    return result


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
