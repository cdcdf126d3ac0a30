"""MLflow's own UI, in a real browser: the address `albench run` prints opens the runs table.

Headless Chromium renders the MLflow 3 UI of a small experiment served by `mlflow server` on
127.0.0.1 (stopped by the test) and its DOM is read back; skipped where no Chromium is
installed (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dom(url: str) -> str:
    """The page's DOM once its scripts ran (20 s of the browser's virtual time)."""
    out = subprocess.run(
        [BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--virtual-time-budget=20000", "--dump-dom", url],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    return out.stdout


@pytest.mark.skipif(BROWSER is None, reason="no Chromium to render MLflow's UI")
def test_the_printed_address_opens_the_runs_table_with_datasets_and_source(tmp_path, albench_cli):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = os.environ | {"MLFLOW_TRACKING_URI": uri}
    run = albench_cli("run", "--benchmark", "quick", "--tasks", "digits", "--trials", "1",
                      "--strategies", "random,entropy", "--no-progress", "--set", "al.cycles=2",
                      "--set", "train.epochs=1", env=env, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    page = re.search(r"(#/experiments/\d+\?workflowType=machine_learning)", run.stderr)
    assert page, run.stderr
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        dom = _dom(f"{base}/{page.group(1)}")
        assert "<strong>2</strong> matching runs" in dom  # the runs table, not traces
        for text in ("digits/random/trial-0", "digits/entropy/trial-0", "digits/pool", "albench"):
            assert text in dom, text  # run names, the pool dataset, the source
        assert "albench active-learning runs" in dom  # the experiment's description
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine can keep a graceful stop waiting
            server.kill()
            server.wait(timeout=30)
