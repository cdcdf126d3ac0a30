"""Job planning, scheduling over GPU slots or a Ray cluster, and crash-safe resume.

Jobs are independent (task, strategy, trial) values (:class:`albench.loop.Job`). The driver
(1) plans them: image passes, an estimated GPU time, and what is already done; (2) creates the
MLflow experiment; (3) runs them longest first:

- in-process, one after another, for ``--jobs 1`` without GPUs;
- locally in worker processes of its own, one per slot: ``--gpus`` x ``--jobs-per-gpu``
  slots on GPUs (each job takes a GPU id from a shared queue holding every id k times and
  gives it back when it ends, failed or not), or ``--jobs N`` CPU processes;
- on Ray, each job one Ray task asking for ``1/k`` GPU (albench/cluster.py: Ray assigns and
  isolates the GPUs, retries a job whose worker dies).

A job that raises fails alone: its run is FAILED with the reason and the others go on.
Re-running the same command skips FINISHED jobs (same experiment and config hash), resumes
unfinished ones from their last checkpoint (``--state-dir``) and starts the rest.

Time estimates: a job's image passes (training: epochs x labeled size summed over cycles;
inference: the test split every cycle plus the scanned items) divided by a throughput in
training images/s. Each task declares its single-GPU figure (``Task.throughput``) and, for
tasks that run on a CPU, a 2-core CPU figure (``Task.cpu_throughput``);
``benchmarks/speed/throughput.json`` (``train_throughput.py --save-throughput``) overrides the
GPU figures with measured ones. An inference pass costs ``Task.inference_cost`` of a training
pass (a third by default); strategies add what their selection costs
(``Strategy.selection_cost``), and every CPU job :data:`JOB_OVERHEAD_S`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from albench.checkpoint import CorruptStateError, ForeignStateError, JobState
from albench.loop import Job, JobResult, Progress, checkpoint_path, run_job

__all__ = [
    "PlannedJob",
    "ProgressBoard",
    "Schedule",
    "SlotPool",
    "execute",
    "image_passes",
    "plan_jobs",
    "run_jobs",
]

# images/s through one training step of a generative model of reference size (VAAL's VAE and
# D on 32x32 images, first convolution 16 channels): one CPU job, one thread, on the 2-core
# machine (benchmarks/plan_accuracy.py measures it), and a GPU figure (not yet measured: the
# VAE's convolutions at the task models' GPU/CPU speed ratio, about 10)
GENERATIVE_CPU_THROUGHPUT = 600.0
GENERATIVE_THROUGHPUT = 6000.0
# seconds every CPU job spends beside its image passes: building the model and its data
# loaders, creating its MLflow run, logging every cycle's metrics and artifacts, saving its
# states (benchmarks/plan_accuracy.py prints what the measured jobs imply)
JOB_OVERHEAD_S = 0.7


def measured_throughput(path: Path | None = None) -> dict[str, float]:
    """Measured ``{"task": images_per_s}`` on this machine's GPU, if the file exists."""
    path = path or Path(__file__).resolve().parent.parent / "benchmarks/speed/throughput.json"
    if path.is_file():
        return {k: float(v) for k, v in json.loads(path.read_text()).items()}
    return {}


@dataclass(frozen=True)
class PlannedJob:
    job: Job
    train_passes: float  # images through a training step, all cycles
    infer_passes: float  # images through inference (test evaluation + scans), all cycles
    est_seconds: float  # on one GPU
    est_cpu_seconds: float | None  # on a 2-core CPU, for tasks that declare a CPU figure
    state: str  # "new", "resume at cycle N", "finished"


def image_passes(job: Job, pool_size: int, test_size: int, strategy: Any, side: int = 32):
    """(training image passes, inference image passes, generative images) of one job over all
    its cycles: its training, its test evaluations, its scans, the embedding pass of the
    pick diagnostics, and what ``strategy.selection_cost`` declares (``side``: the task's
    ``generative_size``)."""
    from albench.contracts import CycleWork

    al, epochs = job.task.al, job.task.train.epochs
    train = infer = generative = 0.0
    for cycle in range(al.cycles):
        labeled = al.initial + cycle * al.budget
        train += epochs * labeled
        infer += test_size
        if cycle == al.cycles - 1:
            break
        unlabeled = pool_size - labeled
        candidates = min(al.subset, unlabeled) if al.subset > 0 else unlabeled
        if strategy.needs_scan:
            infer += candidates + (labeled if strategy.scan_labeled else 0)
        infer += labeled + al.budget  # the picks' embedding pass (picks/near_share)
        cost = strategy.selection_cost(
            CycleWork(labeled, candidates, al.budget, epochs, test_size, side)
        )
        train, infer = train + cost.train, infer + cost.infer
        generative += cost.generative
    return train, infer, generative


def estimate(task: Any, work: tuple[float, float, float], measured: dict[str, float]):
    """(seconds on one GPU, seconds of a 2-core CPU job or None) of a job of ``task`` (its
    class) doing ``work`` = :func:`image_passes`: training passes at the task's throughput,
    inference passes at ``task.inference_cost`` of a training pass, the generative images at
    the generative throughput, and :data:`JOB_OVERHEAD_S`."""
    train, infer, generative = work
    passes = train + task.inference_cost * infer
    gpu_rate = measured.get(task.name, task.throughput)
    seconds = passes / gpu_rate + generative / GENERATIVE_THROUGHPUT
    if not task.cpu_throughput:
        return seconds, None
    cpu = passes / task.cpu_throughput + generative / GENERATIVE_CPU_THROUGHPUT
    return seconds, cpu + JOB_OVERHEAD_S


def plan_jobs(
    jobs: list[Job], sizes: dict[str, tuple[int, int]], state_dir: Path | None, finished: set[str]
) -> list[PlannedJob]:
    """Estimate every job and tag what is done; longest first (ties keep the given order).

    Read-only: job states are peeked at, never cleaned up or written."""
    from albench.registry import STRATEGIES, TASKS

    measured = measured_throughput()
    planned = []
    for job in jobs:
        task = TASKS.get(job.task.registered)
        strategy = STRATEGIES.create(job.strategy, dict(job.strategy_params), job.strategy)
        pool, test = sizes[job.task.name]
        train, infer, generative = image_passes(job, pool, test, strategy, task.generative_size)
        seconds, cpu = estimate(task, (train, infer, generative), measured)
        state = "new"
        if job.config_hash() in finished:
            state = "finished"
        elif state_dir is not None:
            try:
                saved = JobState.peek(checkpoint_path(state_dir, job), job.config_hash())
                state = f"resume at cycle {saved.cycle + 2}" if saved else "new"
            except CorruptStateError:
                state = "corrupt saved state (the job will fail: delete it to restart)"
            except ForeignStateError:
                state = "another job's saved state (the job will fail: delete it to restart)"
        planned.append(PlannedJob(job, train, infer, seconds, cpu, state))
    return sorted(planned, key=lambda p: -p.est_seconds)


def makespan(seconds: list[float], slots: int) -> float:
    """The wall time of jobs taking ``seconds`` each, handed longest first to ``slots``
    workers, each taking the next job as soon as it is free (how the runners hand them)."""
    import heapq

    free = [0.0] * max(1, slots)
    for t in sorted(seconds, reverse=True):
        heapq.heapreplace(free, free[0] + t)
    return max(free)


def format_plan(planned: list[PlannedJob], gpu: bool = True, slots: int | None = None) -> str:
    """The plan as a table; without a GPU it adds a 2-core CPU estimate where one exists.
    With ``slots`` (parallel workers) it also estimates the wall time."""
    head = f"{'job':40s} {'train passes':>13s} {'infer passes':>13s} {'est. 1 GPU':>10s}"
    lines = [head + ("" if gpu else f" {'est. CPU':>9s}") + "  state"]
    for p in planned:
        cpu = "" if gpu else f" {_duration(p.est_cpu_seconds) if p.est_cpu_seconds else '-':>9s}"
        lines.append(
            f"{p.job.run_name:40s} {p.train_passes:13,.0f} {p.infer_passes:13,.0f} "
            f"{_duration(p.est_seconds):>10s}{cpu}  {p.state}"
        )
    todo = [p for p in planned if p.state != "finished"]
    total = _duration(sum(p.est_seconds for p in todo))
    summary = f"{len(todo)} of {len(planned)} jobs to run, about {total} on one GPU"
    cpu_times = [p.est_cpu_seconds for p in todo]
    on_cpu = not gpu and todo and all(t is not None for t in cpu_times)
    if on_cpu:
        summary += f"; no GPU is visible: about {_duration(sum(cpu_times))} of 2-core CPU job time"
    elif not gpu:
        summary += " (no GPU is visible: the estimate is for one GPU)"
    if slots and todo:
        times = cpu_times if on_cpu else [p.est_seconds for p in todo]
        summary += f"; about {_duration(makespan(times, slots))} of wall time on {slots} slot(s)"
    return "\n".join(lines + [summary, *_rounds_lines(todo, gpu)])


def _rounds_lines(todo: list[PlannedJob], gpu: bool) -> list[str]:
    """For tasks with trials "auto": their rounds, and the estimate of each round (the
    last is the worst case, the total above)."""
    from albench.verdicts import rounds

    limits = {p.job.task.name: p.job.max_trials for p in todo if p.job.max_trials is not None}
    lines = []
    for task, limit in sorted(limits.items()):
        mine = [p for p in todo if p.job.task.name == task]
        steps = []
        for upto in rounds(limit):
            upto_jobs = [p for p in mine if p.job.trial < upto]
            cpu = [p.est_cpu_seconds for p in upto_jobs]
            cost = (
                _duration(sum(cpu)) + " CPU"
                if not gpu and cpu and all(c is not None for c in cpu)
                else _duration(sum(p.est_seconds for p in upto_jobs)) + " GPU"
            )
            steps.append(f"{upto} trials ({len(upto_jobs)} jobs, {cost})")
        lines.append(
            f"{task}: trials 'auto': rounds of {', '.join(steps)}; it stops at the first round "
            f"after which every comparison is decided, at worst at max_trials = {limit}"
        )
    return lines


def _duration(seconds: float) -> str:
    if seconds != seconds:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


# ------------------------------------------------------------------------------ GPU slots


class SlotPool:
    """GPU ids handed out through a queue that holds each id ``per_gpu`` times.

    ``acquire`` blocks until an id is free; ``release`` gives it back. The queue may be a
    ``multiprocessing.Manager().Queue()`` shared with worker processes.
    """

    def __init__(self, gpu_ids: Iterable[int], per_gpu: int, q: Any | None = None):
        self.queue = q if q is not None else queue.Queue()
        for _ in range(per_gpu):
            for gpu in gpu_ids:
                self.queue.put(gpu)

    def acquire(self) -> int:
        return self.queue.get()

    def release(self, gpu: int) -> None:
        self.queue.put(gpu)


# ------------------------------------------------------------------------------ workers


@dataclass(frozen=True)
class Schedule:
    """How jobs are spread: a backend and its slots."""

    backend: str = "local"  # "local" (worker processes or in-process) | "ray"
    n_jobs: int = 1  # CPU-only: worker processes
    gpus: list[int] | None = None  # GPU ids of the slot pool; None: CPU jobs
    jobs_per_gpu: int = 1  # k jobs packed on each GPU
    address: str | None = None  # Ray cluster address

    @property
    def slots(self) -> int:
        return len(self.gpus) * self.jobs_per_gpu if self.gpus else self.n_jobs


def execute(
    job: Job, state_dir: str | None, slots: SlotPool | None = None, events: Any | None = None
) -> JobResult:
    """Run one job in a worker; failures come back as a FAILED result, never as an exception.

    With ``slots`` the job runs on the GPU id it takes from the pool, and gives it back when
    it ends, however it ends. ``events`` (anything with ``put``) receives progress tuples.
    """
    gpu = slots.acquire() if slots is not None else None
    started = time.perf_counter()
    try:
        if gpu is not None:
            job = dataclasses.replace(job, device=f"cuda:{gpu}")
        _set_threads(job.task.train.threads)
        report = (lambda p: events.put(Event("progress", p))) if events else None
        return run_job(job, report=report, state_dir=state_dir)
    except KeyboardInterrupt:
        return JobResult("", "KILLED", float("nan"), time.perf_counter() - started, "interrupted")
    except Exception as exc:  # the run is already FAILED in MLflow (or was never created)
        return JobResult(
            "",
            "FAILED",
            float("nan"),
            time.perf_counter() - started,
            f"{type(exc).__name__}: {exc}",
        )
    finally:
        if gpu is not None:
            slots.release(gpu)


def _set_threads(n: int) -> None:
    """The job's intra-op CPU threads (``train.threads``): a setting of the job, part of its
    configuration hash, never a consequence of how many jobs share the machine, so a job's
    results do not depend on ``--jobs``."""
    import torch

    torch.set_num_threads(n)


# ------------------------------------------------------------------------------ progress


class ProgressBoard:
    """One line per running job; redrawn in place on a TTY, plain log lines otherwise."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr  # the current one, not
        # the one at import time (a caller may have replaced sys.stderr since)
        self.tty = self.stream.isatty() if tty is None else tty
        self.lines: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.drawn = 0
        self.last_draw = 0.0
        self.lock = threading.Lock()

    def progress(self, p: Progress) -> None:
        name, cycle, cycles, epoch, epochs, metric = (
            p.name, p.cycle, p.cycles, p.epoch, p.epochs, p.metric
        )  # fmt: skip
        with self.lock:
            now = time.monotonic()
            self.started.setdefault(name, now)
            done = cycle * epochs + epoch
            total = cycles * epochs
            eta = (now - self.started[name]) / done * (total - done) if done else float("nan")
            line = f"{name:36s} cycle {cycle + 1}/{cycles} epoch {epoch}/{epochs}"
            line += f"  ETA {_duration(eta)}" if eta == eta else ""
            if metric is not None:
                line += f"  metric {metric:.4f}"
            self.lines[name] = line
            if self.tty:
                if now - self.last_draw > 0.2 or metric is not None:
                    self._draw()
            elif metric is not None:  # plain mode: one line per finished cycle
                print(line, file=self.stream, flush=True)

    def finished(self, name: str, result: JobResult) -> None:
        with self.lock:
            self.lines.pop(name, None)
            self._clear()
            print(
                f"{name:36s} {result.status:9s} metric {result.metric:.4f} "
                f"{result.seconds:7.1f}s {result.error}".rstrip(),
                file=self.stream,
                flush=True,
            )
            if self.tty:
                self._draw()

    def _clear(self) -> None:
        if self.tty and self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _draw(self) -> None:
        self._clear()
        for line in self.lines.values():
            self.stream.write(line[:200] + "\n")
        self.drawn = len(self.lines)
        self.stream.flush()
        self.last_draw = time.monotonic()


class Event(NamedTuple):
    """What a job tells the driver: ``progress`` (payload a :class:`~albench.loop.Progress`)
    or ``result`` (payload the :class:`~albench.loop.JobResult` of run ``name``)."""

    kind: str
    payload: Any
    name: str = ""


class _DirectEvents:
    """In-process stand-in for an event queue: events go straight to the board."""

    def __init__(self, board: ProgressBoard):
        self.board = board

    def put(self, event: Event) -> None:
        _dispatch(self.board, event)


def _dispatch(board: ProgressBoard, event: Event) -> None:
    if event.kind == "progress":
        board.progress(event.payload)


# ------------------------------------------------------------------------------ driver


def run_jobs(
    jobs: list[Job],
    state_dir: str | None,
    schedule: Schedule | None = None,
    board: ProgressBoard | None = None,
) -> list[tuple[Job, JobResult]]:
    """Run ``jobs`` (already ordered) and return each with its result, in completion order."""
    board = board or ProgressBoard()
    schedule = schedule or Schedule()
    if schedule.backend == "ray":
        return _run_ray(jobs, state_dir, schedule, board)
    if schedule.slots <= 1:
        results = []
        events = _DirectEvents(board)
        slots = SlotPool(schedule.gpus, schedule.jobs_per_gpu) if schedule.gpus else None
        for job in jobs:
            res = execute(job, state_dir, slots, events)
            board.finished(job.run_name, res)
            results.append((job, res))
            if res.status == "KILLED":
                raise KeyboardInterrupt
        return results
    return _run_workers(jobs, state_dir, schedule, board)


def _run_workers(jobs, state_dir, schedule: Schedule, board) -> list:
    """Run ``jobs`` in ``schedule.slots`` worker processes, each given one job at a time.

    Why not joblib's loky pool: a worker that dies (the OOM killer, a segfault) breaks such a
    pool for every job in it. Here the driver knows which job each worker holds: a dead worker
    fails that job alone (FAILED with the exit signal, in the summary and in MLflow), a fresh
    worker takes its place, and the rest go on. Workers are forked from a forkserver that has
    imported the job code once, and each holds a pipe only the driver writes to: when the
    driver's process ends they read end-of-file and exit, so no orphan keeps logging (a rerun
    resumes or adopts their runs).
    """
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["albench.runner", "albench.tracking", "mlflow"])
    events = ctx.Queue()
    gpus = [g for _ in range(schedule.jobs_per_gpu) for g in (schedule.gpus or [])]
    slots = gpus or [None] * schedule.slots
    workers = [_Worker(ctx, gpu, events, state_dir) for gpu in slots[: len(jobs)]]
    pending, done, results = list(jobs), {}, []
    try:
        while pending or any(w.job for w in workers):
            for w in workers:
                if w.job is None and pending:
                    w.give(pending.pop(0))
            _drain(events, board, done, timeout=0.2)
            for w in workers:
                if w.job is None:
                    continue
                if w.job.run_name not in done and w.proc.exitcode is not None:
                    _drain(events, board, done, timeout=0.5)  # its last words, if any
                if w.job.run_name in done or w.proc.exitcode is not None:
                    job = w.job
                    res = done.pop(job.run_name, None) or _died(job, _exit_cause(w.proc.exitcode))
                    w.job = None
                    if w.proc.exitcode is not None:
                        w.restart()
                    board.finished(job.run_name, res)
                    results.append((job, res))
                    if res.status == "KILLED":
                        raise KeyboardInterrupt
    except KeyboardInterrupt:
        _stop_interrupted(workers)
        raise
    for w in workers:
        w.stop()
    return results


STOP_WAIT_S = 4.0  # after Ctrl-C or SIGTERM: the time workers get to mark their runs KILLED


def _stop_interrupted(workers: list[_Worker]) -> None:
    """After Ctrl-C (the terminal sent every worker SIGINT too) or SIGTERM (passed on here, in
    case it reached the driver alone): each worker marks its run KILLED and stops; one still
    alive after :data:`STOP_WAIT_S` is killed (the driver marks its run)."""
    import signal

    from albench import signals

    for w in workers:
        if signals.terminated() and w.proc.is_alive():
            os.kill(w.proc.pid, signal.SIGTERM)
        w.inbox.put(None)  # once its job is marked, take no other
    deadline = time.monotonic() + STOP_WAIT_S
    for w in workers:
        w.proc.join(timeout=max(0.0, deadline - time.monotonic()))
        if w.proc.is_alive():
            w.proc.kill()


class _Worker:
    """The driver's handle on one worker process and the job it holds."""

    def __init__(self, ctx: Any, gpu: int | None, events: Any, state_dir: str | None):
        self.ctx, self.gpu, self.events, self.state_dir = ctx, gpu, events, state_dir
        self.job: Job | None = None
        self.restart()

    def restart(self) -> None:
        if getattr(self, "_lifeline", None) is not None:
            self._lifeline.close()  # the dead worker's
        self.inbox = self.ctx.Queue()
        # the worker's lifeline: this process alone holds its sending end, so the worker reads
        # end-of-file the moment the driver exits, killed or not, reaped or a zombie
        lifeline, self._lifeline = self.ctx.Pipe(duplex=False)
        args = (self.inbox, self.events, self.state_dir, self.gpu, lifeline)
        self.proc = self.ctx.Process(target=_serve, args=args, daemon=True)
        self.proc.start()
        lifeline.close()

    def give(self, job: Job) -> None:
        self.job = job
        self.inbox.put(job)

    def stop(self) -> None:
        self.inbox.put(None)
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()
        self._lifeline.close()


def _serve(inbox: Any, events: Any, state_dir: str | None, gpu: int | None, lifeline: Any):
    """A worker process: run the jobs it is given, one at a time, until told to stop."""
    from albench import signals

    threading.Thread(target=_watch_driver, args=(lifeline,), daemon=True).start()
    signals.interrupt_on_terminate()
    slots = SlotPool([gpu], 1) if gpu is not None else None
    try:
        for job in iter(inbox.get, None):
            res = execute(job, state_dir, slots, events)
            events.put(Event("result", res, job.run_name))
            if res.status == "KILLED":
                return
    except KeyboardInterrupt:  # while waiting for a job: nothing to mark
        return


def _watch_driver(lifeline: Any) -> None:
    """Exit this process at once when the driver is gone: the driver holds the only sending
    end of ``lifeline`` and never sends, so a read returns only at end-of-file, when the
    driver's process has ended (killed, or a zombie its parent has not reaped)."""
    try:
        lifeline.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(70)


def _drain(events: Any, board: ProgressBoard, done: dict[str, JobResult], timeout: float):
    """Dispatch every pending event; results go into ``done`` by run name."""
    while True:
        try:
            event = events.get(timeout=timeout)
        except queue.Empty:
            return
        timeout = 0.0
        if event.kind == "result":
            done[event.name] = event.payload
        else:
            _dispatch(board, event)


def _exit_cause(exitcode: int) -> str:
    import signal

    if exitcode < 0:
        return f"worker process killed by signal {signal.Signals(-exitcode).name}"
    return f"worker process exited with code {exitcode}"


def _died(job: Job, cause: str) -> JobResult:
    """The result of a job whose process died without reporting; its run is marked FAILED."""
    try:
        from albench.tracking import Tracker

        tracker = Tracker(job.tracking_uri)
        run_id = tracker.unfinished_run(job.experiment, job.config_hash())
        if run_id is not None:
            tracker.end_run(run_id, "FAILED", cause)
    except Exception:  # the store may be the reason it died; the summary still says why
        run_id = None
    return JobResult(run_id or "", "FAILED", float("nan"), 0.0, cause)


def _ray_job(job: Job, state_dir: str | None, events: Any) -> JobResult:
    """One job in a Ray task (Ray sets the GPUs it may see, and retries it on a lost worker)."""
    return execute(job, state_dir, None, _QuietEvents(events))


class _QuietEvents:
    """Progress events posted to the driver's :class:`~albench.cluster.Inbox` actor without
    waiting; a lost inbox never fails the job it reports on."""

    def __init__(self, inbox: Any):
        self.inbox = inbox

    def put(self, event: Event) -> None:
        try:
            self.inbox.put.remote(event)
        except Exception:  # the driver is gone: the job goes on
            pass


def _run_ray(jobs, state_dir, schedule: Schedule, board) -> list:
    """Each job a Ray task (albench/cluster.py): retried from its state when its worker or
    node dies, its CPU settings in its runtime environment, its progress on the board."""
    from albench import cluster

    ray = cluster.connect(schedule.address)
    # a Ray worker runs in a folder of its own: every path it is given is absolute
    state_dir = str(Path(state_dir).resolve()) if state_dir is not None else None
    folders = {"--data-root": str(Path(jobs[0].data_root).resolve())}
    if state_dir is not None:
        folders["--state-dir"] = state_dir
    from albench.tracking import tracking_uri

    cluster.check_contract(ray, jobs, folders, tracking_uri(jobs[0].tracking_uri))

    inbox = ray.remote(num_cpus=0)(cluster.Inbox).remote()

    def drain() -> None:
        for event in ray.get(inbox.take.remote()):
            _dispatch(board, event)

    threads = max(j.task.train.threads for j in jobs)
    options = {
        "num_cpus": threads,
        "max_retries": cluster.RETRIES,
        "retry_exceptions": False,
        "scheduling_strategy": "SPREAD",  # over the nodes: no node does all the work
        "runtime_env": {"env_vars": cluster.job_environment(jobs)},
    }
    if schedule.gpus:
        options["num_gpus"] = 1 / schedule.jobs_per_gpu
    results = []
    try:
        remote = ray.remote(_ray_job).options(**options)
        submit = lambda job: remote.remote(job, state_dir, inbox)  # noqa: E731
        for job, res in cluster.run_tasks(ray, jobs, submit, drain):
            if isinstance(res, BaseException):
                first = (str(res).strip().splitlines() or [""])[0]
                cause = f"Ray lost the job after {cluster.RETRIES} retries: {type(res).__name__}"
                res = _died(job, f"{cause}: {first}")
            board.finished(job.run_name, res)
            results.append((job, res))
            if res.status == "KILLED":
                raise KeyboardInterrupt
    finally:
        with contextlib.suppress(Exception):  # an interrupted driver: what came in is shown
            drain()
        ray.kill(inbox)
    return results
