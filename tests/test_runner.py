"""Runner: planning, GPU-slot hand-out, failure isolation, the progress board."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import albench.runner as runner
from albench.loop import JobResult, Progress
from albench.runner import ProgressBoard, SlotPool, execute, image_passes, plan_jobs
from tests.conftest import tiny_job


def test_slot_pool_never_overbooks_a_gpu_and_failures_return_their_slot(monkeypatch):
    active: dict[int, int] = {0: 0, 1: 0}
    peak: dict[int, int] = {0: 0, 1: 0}
    lock = threading.Lock()

    def fake_run_job(job, report=None, state_dir=None):
        gpu = int(job.device.split(":")[1])
        with lock:
            active[gpu] += 1
            peak[gpu] = max(peak[gpu], active[gpu])
        time.sleep(0.02)
        with lock:
            active[gpu] -= 1
        if job.trial % 3 == 0:
            raise RuntimeError("CUDA out of memory (simulated)")
        return JobResult("run", "FINISHED", 0.5, 0.02)

    monkeypatch.setattr(runner, "run_job", fake_run_job)
    slots = SlotPool([0, 1], per_gpu=2)
    jobs = [tiny_job("random", trial=t) for t in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:  # more workers than the 4 slots
        results = list(pool.map(lambda j: execute(j, None, slots), jobs))
    assert max(peak.values()) == 2 and min(peak.values()) >= 1
    assert sum(r.status == "FAILED" for r in results) == 8
    assert all("out of memory" in r.error for r in results if r.status == "FAILED")
    left = sorted(slots.queue.get_nowait() for _ in range(4))
    assert left == [0, 0, 1, 1] and slots.queue.empty()  # every slot came back


def test_image_passes_count_training_inference_and_what_the_strategy_declares():
    from albench.registry import STRATEGIES

    job = tiny_job("coreset")  # initial 20, +20, 3 cycles, subset 100, 2 epochs
    coreset = STRATEGIES.create("coreset", {}, "s")
    train, infer, generative = image_passes(job, pool_size=1300, test_size=497, strategy=coreset)
    assert train == 2 * (20 + 40 + 60) and generative == 0
    embedding = (20 + 20) + (40 + 20)  # the picks' diagnostics: labeled + picks, per selection
    assert infer == 3 * 497 + (100 + 20) + (100 + 40) + embedding  # coreset scans labeled too
    random = STRATEGIES.create("random", {}, "s")
    _, infer_random, _ = image_passes(job, 1300, 497, random)
    assert infer_random == 3 * 497 + embedding  # no scan
    lookahead = STRATEGIES.create("lookahead_oracle", {"groups": 2, "tries": 3}, "s")
    train_la, infer_la, _ = image_passes(tiny_job("lookahead_oracle"), 1300, 497, lookahead)
    # 2 x 3 probes a selection, each a cycle's training on labeled + picks (one is reused)
    assert train_la == train + 5 * 2 * ((20 + 20) + (40 + 20))
    assert infer_la == infer_random + 6 * 497 * 2  # and a test evaluation each
    vaal = STRATEGIES.create("vaal", {"width": 32, "epochs": 2, "batch_size": 10}, "s")
    _, _, generative = image_passes(tiny_job("vaal"), 1300, 497, vaal, side=16)
    # (|L| + M) x epochs / batch iterations of 2 VAE + 1 D steps (0.3 of a VAE step) on 2
    # batches, at 16/32 the reference side's work and (32/16)^2 its channels'
    iterations = (20 + 100) * 2 // 10 + (40 + 100) * 2 // 10
    assert generative == pytest.approx(iterations * 2 * 10 * 2.3 * (16 / 32) * (32 / 16) ** 2)


def test_plan_orders_longest_first_and_marks_finished(tmp_path):
    short = tiny_job("random")
    long = tiny_job("coreset", cycles=5)
    planned = plan_jobs([short, long], {"digits": (1300, 497)}, tmp_path, {short.config_hash()})
    assert [p.job for p in planned] == [long, short]
    assert [p.state for p in planned] == ["new", "finished"]
    assert planned[0].est_seconds > planned[1].est_seconds > 0


def test_config_change_is_a_new_job():
    assert tiny_job("random").config_hash() != tiny_job("random", cycles=4).config_hash()
    assert tiny_job("random").config_hash() == tiny_job("random").config_hash()


def test_progress_board_plain_mode_logs_cycles_and_results():
    out = io.StringIO()
    board = ProgressBoard(out, tty=False)
    board.progress(Progress("digits/random/trial-0", 0, 3, 1, 2))  # mid-cycle: nothing shown
    board.progress(Progress("digits/random/trial-0", 0, 3, 2, 2, metric=0.5))
    board.finished("digits/random/trial-0", JobResult("r", "FINISHED", 0.9, 1.0))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "cycle 1/3" in lines[0] and "0.5000" in lines[0]
    assert "FINISHED" in lines[1] and "\x1b" not in out.getvalue()


def test_progress_board_tty_mode_keeps_one_line_per_job():
    out = io.StringIO()
    board = ProgressBoard(out, tty=True)
    board.progress(Progress("a", 0, 2, 1, 4, metric=0.1))
    board.progress(Progress("b", 1, 2, 3, 4, metric=0.2))
    assert set(board.lines) == {"a", "b"}
    board.finished("a", JobResult("r", "FINISHED", 0.3, 1.0))
    assert set(board.lines) == {"b"} and "\x1b[" in out.getvalue()


def test_ray_backend_without_ray_is_a_one_line_error(monkeypatch, mlflow_uri, capsys):
    import sys

    from albench.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    code = main(
        [
            "run",
            "--benchmark",
            "quick",
            "--trials",
            "1",
            "--strategies",
            "random",
            "--backend",
            "ray",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install 'albench[ray]'" in err[0]
