"""The Ray backend on a two-node cluster (``ray.cluster_utils.Cluster``), loopback only.

The cluster runs inside a fresh network namespace (``unshare --net``: its only interface is
``lo``), so no Ray process can bind or advertise another address; the listening sockets are
recorded there and checked here. One script (``ray_cluster_script.py``) starts the cluster
once and runs every phase; each test below checks one of them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("ray_cluster_script.py")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> dict:
    pytest.importorskip("ray", reason="Ray comes with the dev extras: pip install -e '.[dev]'")
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to confine Ray to a loopback-only namespace")
    out = tmp_path_factory.mktemp("ray_cluster")
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-c",
         f"ip link set lo up && exec {sys.executable} {SCRIPT} {out}"],
        cwd=out, capture_output=True, text=True, timeout=2400,
    )  # fmt: skip
    result_file = out / "cluster.json"
    assert result_file.exists(), proc.stderr[-4000:]
    result = json.loads(result_file.read_text())
    result["out"] = str(out)
    return result


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> list[dict]:
    """The same small benchmark on the local backend: the reference the cluster must equal."""
    sys.path.insert(0, str(SCRIPT.parent))
    from ray_cluster_script import SMALL, albench, runs

    work = tmp_path_factory.mktemp("local")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    proc = albench("run", *SMALL, uri=uri, cwd=work)
    assert proc.returncode == 0, proc.stderr
    return runs(uri, "quick")


def _by_name(runs: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in runs}


def test_every_ray_process_listens_on_loopback_only(cluster):
    addresses = [line.split()[3] for line in cluster["listening"].splitlines() if line.strip()]
    assert addresses
    for address in addresses:
        host = address.rpartition(":")[0].strip("[]").removeprefix("::ffff:")  # IPv4-mapped
        assert host == "::1" or host.startswith("127."), address


def test_a_two_node_cluster_gives_the_local_backends_numbers_bit_for_bit(cluster, local):
    equal = cluster["equal"]
    assert equal["rc"] == 0, equal["stderr"]
    ray_runs, local_runs = _by_name(equal["runs"]), _by_name(local)
    assert set(ray_runs) == set(local_runs) and len(ray_runs) == 5
    for name, run in ray_runs.items():
        assert run["status"] == "FINISHED"
        assert run["tags"]["albench.cpu_pinned"] == "true"  # the pins reached every worker
        assert run["tags"]["albench.config_hash"] == local_runs[name]["tags"]["albench.config_hash"]
        assert run["eval"] == local_runs[name]["eval"], name  # every cycle's every metric
    nodes = {r["tags"]["albench.node"] for r in ray_runs.values()}
    assert len(nodes) == 2  # jobs ran on both nodes
    assert "FINISHED" in equal["stderr"] and "cycle" in equal["stderr"]  # progress shown
    for line in equal["stderr"].splitlines():  # no foreign warning on the output
        assert line.startswith(("albench: ", "digits/")), line


def test_plan_shows_the_clusters_nodes_and_a_wall_time_from_them(cluster):
    plan = cluster["plan"]
    assert plan["rc"] == 0, plan["stderr"]
    assert ": 2 node(s)" in plan["stdout"]
    assert plan["stdout"].count("127.0.0.1 (") == 2
    assert "wall time on 4 slot(s)" in plan["stdout"]  # 2 nodes x 2 CPUs, 1 thread a job


def test_a_killed_worker_costs_a_retry_of_its_own_job_alone(cluster, local):
    killed = cluster["killed"]
    assert killed["killed"] is not None, killed["stderr"]
    assert killed["rc"] == 0, killed["stderr"]
    runs = _by_name(killed["runs"])
    assert len(runs) == 2 and {r["status"] for r in runs.values()} == {"FINISHED"}
    before = killed["pids_before"]  # which process ran which job when the kill came
    victim = next(name for name, pid in before.items() if pid == str(killed["killed"]))
    other = next(name for name in before if name != victim)
    assert runs[victim]["tags"]["albench.pid"] != before[victim]  # retried elsewhere,
    assert runs[other]["tags"]["albench.pid"] == before[other]  # the other never stopped
    for run in runs.values():
        assert [len(v) for v in run["eval"].values()] == [3] * len(run["eval"])  # no repeat


@pytest.mark.parametrize(("signal_name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_ctrl_c_and_sigterm_mark_the_runs_killed_and_the_rerun_resumes(cluster, signal_name, code):
    phase = cluster[signal_name]
    assert phase["rc"] == code, phase["stderr"]
    assert phase["statuses"] == ["KILLED", "KILLED"], phase["stderr"]
    assert f"interrupted ({'Ctrl-C' if code == 130 else 'SIGTERM'})" in phase["stderr"]
    assert phase["again_rc"] == 0
    again = phase["again"]
    assert [r["status"] for r in again] == ["FINISHED", "FINISHED"]  # the same two runs
    for run in again:  # resumed where each had stopped: every cycle logged once
        assert [len(v) for v in run["eval"].values()] == [3] * len(run["eval"])


def test_jobs_per_gpu_places_two_jobs_per_declared_gpu(cluster):
    gpus = cluster["gpus"]
    assert gpus["statuses"] == ["FINISHED"] * 6
    runs = gpus["runs"]
    assert {r["tags"]["albench.node"] for r in runs} == {gpus["gpu_node"]}
    seen = [r["tags"]["albench.cuda_visible_devices"] for r in runs]
    assert sorted(set(seen)) == ["0", "1"]  # each job saw the one GPU Ray gave it
    events = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak <= 4  # never more jobs at once than 2 GPUs x 2 slots (6 jobs, 6 CPUs)


def test_the_cluster_contract_names_each_node_and_what_it_lacks(cluster):
    message = cluster["contract"]["message"]
    lines = message.splitlines()
    assert len(lines) == 6, message  # 3 nodes x (an unwritable folder, another version)
    assert sum("cannot write to /proc/albench-nowhere" in line for line in lines) == 3
    assert sum("albench is at version 0.1.0, the driver's at 0.0.0-elsewhere" in line
               for line in lines) == 3  # fmt: skip
    assert all(line.startswith("node 127.0.0.1 (") for line in lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_address_is_one_line_and_never_reaches_ray(tmp_path, albench_cli):
    """Ray's own connection retries last minutes: albench asks the address once (a TCP
    connection with a timeout) before importing Ray or creating anything."""
    address = f"127.0.0.1:{_free_port()}"
    env = os.environ | {"ALBENCH_DEBUG": "", "PYTHONWARNINGS": "ignore"}
    out = albench_cli("run", "--benchmark", "quick", "--tasks", "digits", "--trials", "1",
                      "--backend", "ray", "--address", address, cwd=tmp_path, env=env,
                      timeout=60)  # fmt: skip
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert f"no Ray cluster answers at {address}" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_the_address_check_does_not_import_ray():
    code = (
        "import sys\nfrom albench.cluster import check_address\n"
        f"try:\n    check_address('127.0.0.1:{_free_port()}')\nexcept Exception as e:\n"
        "    print(e)\nprint('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr


def test_a_cluster_that_refuses_the_driver_is_one_line_with_the_fix(monkeypatch, capfd):
    """Ray 2.60's `ray start --head` turns token authentication on: a driver without the
    token gets 20 s of C++ warnings and a 40-line traceback from Ray; albench says why in one
    line (and keeps Ray's lines off the output)."""
    import types

    from albench import cluster

    class AuthenticationError(Exception):
        pass

    def refuse(**_):
        os.write(2, b"[W gcs_client.cc:210] Failed to get cluster ID from GCS server\n")
        raise AuthenticationError(
            "RPC error: InvalidAuthToken: Authentication token is missing or incorrect."
        )

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=refuse)
    monkeypatch.setattr(cluster, "_ray", lambda: fake)
    monkeypatch.setattr(cluster, "check_address", lambda address: None)
    monkeypatch.delenv("ALBENCH_DEBUG", raising=False)
    with pytest.raises(cluster.ClusterError) as err:
        cluster.connect("127.0.0.1:6379")
    assert len(str(err.value).splitlines()) == 1
    assert "export RAY_AUTH_MODE=token" in str(err.value)
    assert "gcs_client" not in capfd.readouterr().err
    fake.init = lambda **_: (_ for _ in ()).throw(RuntimeError("Failed to connect to GCS.\nx"))
    with pytest.raises(cluster.ClusterError, match=r"cannot connect to the Ray cluster \("):
        cluster.connect("127.0.0.1:6379")


def test_on_ray_the_gpus_are_the_clusters_not_the_drivers(monkeypatch):
    """A driver on a login node without CUDA still schedules GPU jobs on the cluster's GPUs;
    GPU ids (which name this machine's GPUs) are refused on Ray."""
    from albench import api, cli, cluster
    from albench.errors import AlbenchError, ConfigError
    from albench.registry import TASKS

    def with_gpus(count):
        monkeypatch.setattr(cluster, "connect", lambda address: None)
        node = cluster.Node("n1", "127.0.0.1", 8.0, float(count))
        monkeypatch.setattr(cluster, "nodes", lambda ray: [node, node])

    def args(*extra):
        return cli.options_of(cli.build_parser().parse_args(["run", "--backend", "ray", *extra]))

    quick = [TASKS.get("digits")]
    with_gpus(2)
    assert api._cluster_device(args(), quick, False) == ("cuda", [0, 1, 2, 3])
    assert api._cluster_device(args("--device", "cpu"), quick, False) == ("cpu", None)
    with pytest.raises(ConfigError, match="--gpus 0,1: GPU ids choose this machine's GPUs"):
        api._cluster_device(args("--gpus", "0,1"), quick, False)
    with_gpus(0)
    assert api._cluster_device(args(), quick, False) == ("cpu", None)
    with pytest.raises(AlbenchError, match="the Ray cluster's nodes declare no GPU"):
        api._cluster_device(args("--device", "cuda"), quick, False)
    with pytest.raises(AlbenchError, match="no CUDA device for the full-size task"):
        api._cluster_device(args(), [TASKS.get("cifar10")], False)
