"""The reproducible CPU mode across CPU vendors: one small job per task family natively and
under emulated Intel and AMD processors (``benchmarks/cpu_vendors.py``), bit for bit.

Needs Debian's ``qemu-user`` (``qemu-x86_64``). Without it the test skips, unless
``ALBENCH_REQUIRE_QEMU=1`` (set by ``.ci/run``, which installs it), where it fails."""

from __future__ import annotations

import os
import shutil

import pytest

from albench.benchmarks import cpu_vendors

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_pinned_mode_gives_the_same_numbers_on_intel_and_amd(tmp_path, capsys):
    if shutil.which("qemu-x86_64") is None:
        if os.environ.get("ALBENCH_REQUIRE_QEMU") == "1":
            pytest.fail("ALBENCH_REQUIRE_QEMU=1, no qemu-x86_64: apt-get install qemu-user")
        pytest.skip("qemu-x86_64 not installed (apt-get install qemu-user)")
    code = cpu_vendors.main(["--out", str(tmp_path)])
    out = capsys.readouterr().out
    print(out)  # the table, in pytest's report of a failure
    assert code == 0, out
    table = [line for line in out.splitlines() if line.startswith(("digits/", "shapes/", "stick"))]
    assert len(table) == 6  # 3 families x 2 strategies, each equal in all 3 environments
    assert all(line.split()[2:] == ["equal"] * 3 for line in table)


def test_compare_counts_every_value_that_differs():
    """The comparison itself: a value changed in the last bit, a missing pick, a failed run."""
    values = {"eval/accuracy": [(0, 0.5), (1, 0.75)], "selected/cycle_00": [(0, 3), (1, 7)]}
    run = {"status": "FINISHED", "values": values, "cpu": {}}
    same, _ = cpu_vendors.compare({"a": {"r": run}, "b": {"r": run}})
    assert same
    nudged = {**values, "eval/accuracy": [(0, 0.5), (1, 0.75 + 2**-53)]}
    same, lines = cpu_vendors.compare({"a": {"r": run}, "b": {"r": {**run, "values": nudged}}})
    assert not same and "1 of 4 differ" in lines[1]
    fewer = {**values, "selected/cycle_00": [(0, 3)]}
    same, lines = cpu_vendors.compare({"a": {"r": run}, "b": {"r": {**run, "values": fewer}}})
    assert not same and "1 of 4 differ" in lines[1]
    failed = {**run, "status": "FAILED"}
    assert not cpu_vendors.compare({"a": {"r": run}, "b": {"r": failed}})[0]
    assert not cpu_vendors.compare({"a": {"r": run}, "b": {}})[0]
