"""Jobs on a Ray cluster: connect, check what every node needs, run, describe for a plan.

Each job is one Ray task (``--backend ray``), so Ray does what a cluster scheduler is for:

- **Placement**: a job asks for ``train.threads`` CPUs and, with GPUs, ``1/k`` of one
  (``--jobs-per-gpu k``); Ray sets the ``CUDA_VISIBLE_DEVICES`` of the process it runs in,
  and the run logs it (tag ``albench.cuda_visible_devices``) with the node (``albench.node``).
- **The job's numerics travel with it**: the reproducible CPU mode's variables go into the
  task's runtime environment, so Ray starts its worker process with them, before torch loads
  there; a job that finds them missing fails before training (``loop.run_job``).
- **Faults**: a job whose worker process or node dies is retried by Ray (:data:`RETRIES`
  times) and resumes from its last saved state (``--state-dir``), in the same MLflow run; when
  the retries are spent its run is FAILED with the reason, and the other jobs go on.
- **Interrupts**: Ctrl-C or SIGTERM cancels the running tasks (a ``KeyboardInterrupt`` in
  each), which mark their runs KILLED; the rerun resumes them.

Before any job, :func:`check_contract` runs a probe on every node: the state folder and the
data root exist there and are shared (a token written on each node is read on every other),
albench and the modules of the tasks and strategies in use import at the driver's versions,
and the tracking store answers. Each failure is one line naming the node.

Ray is optional (``pip install 'albench[ray]'``) and imported only here.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from albench.errors import AlbenchError, masked
from albench.schema import Tag

__all__ = [
    "RETRIES",
    "ClusterError",
    "Node",
    "check_address",
    "check_contract",
    "connect",
    "job_environment",
    "nodes",
    "run_tasks",
]

RETRIES = 2  # a job whose worker or node dies runs again, from its last state, this often
CONNECT_TIMEOUT_S = 5.0
CANCEL_WAIT_S = 4.0  # after Ctrl-C or SIGTERM: the time running tasks get to mark their runs
GCS_PORT, CLIENT_PORT = 6379, 10001  # Ray's defaults: `ray start --head`, Ray Client


class ClusterError(AlbenchError):
    """A Ray cluster that cannot be reached, or a node that lacks what the jobs need."""


@dataclass(frozen=True)
class Node:
    """An alive node of the cluster and what it offers."""

    node_id: str
    address: str
    cpus: float
    gpus: float

    @property
    def label(self) -> str:
        return f"{self.address} ({self.node_id[:8]})"


# ------------------------------------------------------------------------------ connecting


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise AlbenchError(
            "--backend ray needs Ray: pip install 'albench[ray]' (or pip install 'ray[client]')"
        ) from None
    return ray


def _installed(name: str) -> bool:
    """Whether ``name`` can be imported, without importing it."""
    if name in sys.modules:
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


def check_address(address: str | None) -> None:
    """Fail in one line, within seconds, when nothing answers at ``address`` (or at
    ``RAY_ADDRESS`` when no address is given): Ray itself retries for minutes. ``auto`` and
    ``local`` are left to Ray. Also that Ray is installed, without importing it."""
    if not _installed("ray"):
        _ray()  # the one-line error
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None or address in ("auto", "local"):
        return
    client = address.startswith("ray://")
    if client and not _installed("grpc"):
        raise ClusterError(
            f"--address {address} is a Ray Client address, which needs grpcio: "
            "pip install 'albench[ray]' (or pip install 'ray[client]')"
        )
    hostport = address.removeprefix("ray://").rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep:
        host, port = hostport, str(CLIENT_PORT if client else GCS_PORT)
    if not port.isdigit() or not host:
        raise ClusterError(
            f"--address {masked(address)} is not HOST:PORT; give the address `ray start --head` "
            "printed, e.g. 10.0.0.1:6379 or ray://10.0.0.1:10001"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(
            f"--address {masked(address)}: no Ray cluster answers at {host}:{port} "
            f"({exc.strerror or exc}); start its head (ray start --head) or give the address "
            "it printed"
        ) from None


def connect(address: str | None) -> Any:
    """The ``ray`` module, connected to the cluster at ``address`` (None: ``RAY_ADDRESS``, or a
    Ray instance started on this machine). Quiet: Ray's own log lines stay in its log files."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    check_address(address)
    try:
        with _stderr_aside():
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level="ERROR",
            )
    except Exception as exc:  # Ray's own errors are many lines: one line, and the fix
        raise ClusterError(_connect_failure(address, exc)) from exc
    from albench import signals

    signals.reclaim()  # Ray's core replaces the SIGTERM handler: albench's comes back
    return ray


def _connect_failure(address: str | None, exc: Exception) -> str:
    """The one line for a cluster that answers but will not take this driver."""
    where = f"--address {masked(address)}" if address else "the Ray cluster"
    text = str(exc).strip()
    first = masked(text.splitlines()[-1] if text else type(exc).__name__)
    if "AuthToken" in text or "Authentication" in type(exc).__name__ + text:
        return (
            f"{where}: the cluster requires its token (Ray's token authentication); on this "
            "machine export RAY_AUTH_MODE=token and give the cluster's token in "
            "~/.ray/auth_token or RAY_AUTH_TOKEN (ray get-auth-token on the head)"
        )
    return f"{where}: cannot connect to the Ray cluster ({type(exc).__name__}: {first:.200})"


@contextlib.contextmanager
def _stderr_aside() -> Iterator[None]:
    """Keep what Ray's C++ core writes to the process's stderr while it connects (how it
    found its address, its connection retries) off albench's output: the driver says in one
    line what went wrong (ALBENCH_DEBUG=1 shows Ray's own lines)."""
    if os.environ.get("ALBENCH_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as aside:
        os.dup2(aside.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def nodes(ray: Any) -> list[Node]:
    """The cluster's alive nodes."""
    return [
        Node(n["NodeID"], n["NodeManagerAddress"], n["Resources"].get("CPU", 0.0),
             n["Resources"].get("GPU", 0.0))
        for n in ray.nodes()
        if n.get("Alive")
    ]  # fmt: skip


def job_environment(jobs: list) -> dict[str, str]:
    """The environment variables every job's process needs before torch loads: the
    reproducible CPU mode's pins when a job runs in that mode (the driver set them)."""
    from albench.cpu import PINS

    if any(j.task.train.reproducible_cpu for j in jobs):
        return dict(PINS)
    return {}


# ------------------------------------------------------------------------------ the contract


def _probe(token_dirs: list[str], token: str, expected: dict[str, str], uri: str) -> dict:
    """On one node: write this node's token into each shared folder, import the modules in
    use and compare their versions, ask the tracking store. Returns what failed."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    problems = []
    for folder in token_dirs:
        path = Path(folder)
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / f".albench-token-{token}-{node}").write_text(node)
        except OSError as exc:
            problems.append(f"cannot write to {folder} ({exc.strerror or exc})")
    for module, version in expected.items():
        try:
            found = _version(importlib.import_module(module))
        except Exception as exc:
            problems.append(f"cannot import {module} ({type(exc).__name__}: {exc})")
            continue
        if found != version:
            problems.append(f"{module} is at version {found}, the driver's at {version}")
    try:
        from albench.preflight import check_tracking_store

        check_tracking_store(uri)
    except AlbenchError as exc:
        problems.append(str(exc).split(";")[0])
    return {"node": node, "problems": problems}


def _seen(token_dirs: list[str], token: str) -> dict:
    """On one node: which nodes' tokens it sees in each shared folder."""
    import ray

    seen = {}
    for folder in token_dirs:
        try:
            names = os.listdir(folder)
        except OSError:
            names = []
        prefix = f".albench-token-{token}-"
        seen[folder] = sorted(n[len(prefix) :] for n in names if n.startswith(prefix))
    return {"node": ray.get_runtime_context().get_node_id(), "seen": seen}


def _version(module: Any) -> str:
    """A module's version: its ``__version__``, else its distribution's, else "unversioned"
    (a plug-in file copied to each node by hand: its import is checked, not its version)."""
    version = getattr(module, "__version__", None)
    if version:
        return str(version)
    top = module.__name__.split(".")[0]
    for dist in importlib.metadata.packages_distributions().get(top, []):
        return importlib.metadata.version(dist)
    return "unversioned"


def modules_in_use(jobs: list) -> dict[str, str]:
    """albench and the module of every task and strategy class the jobs use, with the
    versions they have in the driver."""
    from albench.registry import STRATEGIES, TASKS

    names = {"albench"}
    for job in jobs:
        names.add(TASKS.get(job.task.registered).__module__)
        names.add(STRATEGIES.get(job.strategy).__module__)
    return {m: _version(importlib.import_module(m)) for m in sorted(names)}


def check_contract(ray: Any, jobs: list, folders: dict[str, str], uri: str) -> list[Node]:
    """Check from every node what the jobs need there (module docstring); raise a
    :class:`ClusterError` with one line per failure. ``folders`` maps a flag (``--state-dir``,
    ``--data-root``) to the driver's absolute path. Returns the nodes."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    alive = nodes(ray)
    token, dirs = uuid.uuid4().hex[:12], list(folders.values())
    env = {"env_vars": job_environment(jobs)}

    def on(node: Node, fn, *args) -> Any:
        where = NodeAffinitySchedulingStrategy(node.node_id, soft=False)
        remote = ray.remote(fn).options(
            num_cpus=0, scheduling_strategy=where, runtime_env=env, max_retries=0
        )
        return remote.remote(*args)

    problems = []
    try:
        probed = ray.get([on(n, _probe, dirs, token, modules_in_use(jobs), uri) for n in alive])
        seen = ray.get([on(n, _seen, dirs, token) for n in alive]) if len(alive) > 1 else []
    finally:
        for folder in dirs:
            for path in Path(folder).glob(f".albench-token-{token}-*"):
                path.unlink(missing_ok=True)
    label = {n.node_id: n.label for n in alive}
    for result in probed:
        problems += [f"node {label[result['node']]}: {p}" for p in result["problems"]]
    flags = {path: flag for flag, path in folders.items()}
    for result in seen:
        for folder, found in result["seen"].items():
            missing = [label[n] for n in label if n not in found and n != result["node"]]
            if missing and not any(folder in p for p in problems):
                problems.append(
                    f"node {label[result['node']]}: {flags[folder]} {folder} is not shared "
                    f"(it does not see what {', '.join(missing)} wrote there); mount the same "
                    "storage at the same path on every node"
                )
    if problems:
        raise ClusterError("\n".join(masked(p) for p in problems))
    return alive


# ------------------------------------------------------------------------------ running


def run_tasks(ray: Any, jobs: list, submit: Callable[[Any], Any], events: Callable[[], None]):
    """Submit every job (``submit(job)`` starts its Ray task and returns its object
    reference); yield ``(job, result or exception)`` as each ends, calling
    ``events()`` in between. On KeyboardInterrupt the running tasks are cancelled (they mark
    their runs KILLED) and the interrupt goes on."""
    pending = {submit(job): job for job in jobs}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
            events()
            for ref in ready:
                job = pending.pop(ref)
                try:
                    yield job, ray.get(ref)
                except ray.exceptions.RayError as exc:
                    yield job, exc
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref)
        deadline = time.monotonic() + CANCEL_WAIT_S
        while pending and time.monotonic() < deadline:
            done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0.2)
            for ref in done:
                pending.pop(ref)
            events()
        raise


class Inbox:
    """The driver's inbox for the jobs' progress events, as a Ray actor (no CPU): a job posts
    without waiting (``put``), the driver takes everything posted so far (``take``); neither
    ever raises, so an interrupted driver leaves no failed call behind."""

    def __init__(self) -> None:
        self.events: list = []

    def put(self, event: Any) -> None:  # an albench.runner.Event
        self.events.append(event)

    def take(self) -> list:
        events, self.events = self.events, []
        return events


def where_am_i() -> dict[str, str]:
    """Tags that say where a job ran, when it runs in a Ray task: the node and the GPUs Ray
    gave it."""
    ray = sys.modules.get("ray")
    tags = {}
    if ray is not None and ray.is_initialized():
        tags[Tag.NODE] = ray.get_runtime_context().get_node_id()
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        tags[Tag.CUDA_VISIBLE_DEVICES] = os.environ["CUDA_VISIBLE_DEVICES"]
    return tags
