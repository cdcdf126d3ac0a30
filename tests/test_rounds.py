"""trials = "auto": rounds of trials until every comparison is decided (albench/rounds.py,
the run loop in albench/api.py), planned by ``albench plan`` and reported per task."""

from __future__ import annotations

import dataclasses
import types

import pytest

from albench import api, cli, rounds
from albench.rounds import Decision, boundaries, round_jobs


def _job(task: str, trial: int, max_trials: int | None, strategy: str = "random"):
    return types.SimpleNamespace(
        task=types.SimpleNamespace(name=task),
        trial=trial,
        strategy=strategy,
        max_trials=max_trials,
        experiment="e",
    )


def test_boundaries_and_the_jobs_of_a_round():
    """Rounds 5, 10, 20 for max_trials 20; a round runs the open auto tasks' trials below
    it and, in the first round only, every trial of the fixed tasks."""
    jobs = [_job("a", t, 20) for t in range(20)] + [_job("f", t, None) for t in range(3)]
    assert boundaries(jobs) == [5, 10, 20]
    assert boundaries([_job("f", 0, None)]) == [0]
    first = round_jobs(jobs, {"a"}, 5, first=True)
    assert [(j.task.name, j.trial) for j in first] == [("a", t) for t in range(5)] + [
        ("f", t) for t in range(3)
    ]
    assert [j.trial for j in round_jobs(jobs, {"a"}, 10, first=False)] == list(range(10))
    assert round_jobs(jobs, set(), 10, first=False) == []


def test_decision_says_what_comes_next():
    assert Decision("a", 5, 7, 7, 20).done and "stopping" in Decision("a", 5, 7, 7, 20).line()
    wait = Decision("a", 5, 3, 7, 20)
    assert not wait.done and wait.line().endswith("next round: 10 trials")
    last = Decision("a", 20, 3, 7, 20)
    assert last.done and "max_trials = 20 reached" in last.line()


def _fake_run(log: list):
    def run(batch):
        log.append(sorted((j.task.name, j.trial) for j in batch))
        return [(j, types.SimpleNamespace(status="FINISHED")) for j in batch]

    return run


def test_a_task_stops_at_the_first_round_that_decides_it(monkeypatch, capsys):
    """Task a is decided after 10 trials, b never: a runs 10 trials, b all 20; each task is
    decided after each of its rounds, and the log says so."""
    decided_at = {"a": 10, "b": 99}
    calls = []

    def decide(tracker, experiment, task, max_trials):
        n = max(t for name, t in ran_so_far() if name == task) + 1
        calls.append((task, n))
        done = 4 if n >= decided_at[task] else 1
        return Decision(task, n, done, 4, max_trials)

    log: list = []
    ran_so_far = lambda: [x for batch in log for x in batch]  # noqa: E731
    monkeypatch.setattr(rounds, "decide_task", decide)
    jobs = [_job(task, t, 20) for task in "ab" for t in range(20)]
    results = api._in_rounds(None, jobs, list(jobs), _fake_run(log))
    assert len(results) == 10 + 20
    assert [len(batch) for batch in log] == [10, 10, 10]  # a+b 0-4, a+b 5-9, b 10-19
    assert calls == [("a", 5), ("b", 5), ("a", 10), ("b", 10), ("b", 20)]
    err = capsys.readouterr().err
    assert "a: 4 of 4 AUBC comparisons decided at 10 trials; stopping" in err
    assert "b: 1 of 4 AUBC comparisons decided at 20 trials; max_trials = 20 reached" in err


def test_rounds_stop_after_a_failed_job_and_skip_finished_ones(monkeypatch):
    """A failed job ends the run after its round (the exit code says so); jobs not in
    ``todo`` (finished before) are not run again but count for the decision."""
    monkeypatch.setattr(rounds, "decide_task", lambda *a: Decision(a[2], 5, 0, 1, 20))
    jobs = [_job("a", t, 20) for t in range(20)]
    log: list = []

    def failing(batch):
        log.append(len(batch))
        return [(j, types.SimpleNamespace(status="FAILED")) for j in batch]

    api._in_rounds(None, jobs, jobs[2:], failing)
    assert log == [3]  # trials 2-4 of round one; 0 and 1 were finished


def test_plan_shows_the_rounds_and_the_worst_case(mlflow_uri, capsys):
    assert cli.main(["plan", "--benchmark", "quick", "--tasks", "digits", "--trials", "auto"]) == 0
    out = capsys.readouterr().out
    assert out.count("digits/random/trial-") == 20  # the worst case: max_trials
    assert "digits: trials 'auto': rounds of 5 trials (25 jobs" in out
    assert "10 trials (50 jobs" in out and "20 trials (100 jobs" in out
    assert cli.main(["plan", "--tasks", "digits", "--trials", "auto", "--max-trials", "7"]) == 0
    assert "rounds of 5 trials (25 jobs" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--trials", "some"], "--trials some is invalid: give 1 to 1000 trials, or 'auto'"),
        (["--trials", "0"], "--trials 0 is invalid"),
        (["--trials", "auto", "--max-trials", "0"], "--max-trials 0 is invalid: give 1 or more"),
        (["--max-trials", "10"], "--max-trials 10 applies to trials 'auto' only"),
        (["--set", "tasks.digits.equivalence_margin=inf"], "equivalence_margin = inf is invalid"),
    ],
)
def test_bad_trials_are_one_line_errors(mlflow_uri, capsys, flags, message):
    assert cli.main(["plan", "--tasks", "digits", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_auto_run_decides_in_rounds_and_the_report_says_where_it_stopped(mlflow_uri, capsys):
    """A real run in rounds on digits: learning loss trained 3 epochs is far below random,
    so it runs rounds 5 and 10 and stops at max_trials 10 or earlier; a rerun runs
    nothing and decides the same; the report says where it stopped and why."""
    from albench.tracking import Tracker

    args = ["run", "--benchmark", "quick", "--tasks", "digits", "--no-progress"]
    args += ["--strategies", "random,learn_loss", "--trials", "auto", "--max-trials", "10"]
    args += ["--set", "train.epochs=3", "--set", "al.cycles=3", "--jobs", "1"]
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert "digits: 0 of 1 AUBC comparisons decided at 5 trials; next round: 10 trials" in err
    runs = [r for r in Tracker().runs("quick") if r.info.status == "FINISHED"]
    assert len(runs) == 20
    assert {r.data.tags["albench.max_trials"] for r in runs} == {"10"}
    assert {r.data.tags["albench.equivalence_margin"] for r in runs} == {"0.005"}
    assert cli.main(args) == 0
    again = capsys.readouterr().err
    assert "(20 finished already)" in again and "0/0 jobs FINISHED" in again
    assert len(Tracker().runs("quick")) == 20
    assert cli.main(["report", "--experiment", "quick", "--out", "rep"]) == 0
    summary = open("rep/summary.md").read()
    assert 'Trials in rounds of 5, 10 (trials = "auto"): stopped after round 2 (10 trials)' in (
        summary
    )
    assert "| AUBC | learning loss | random |" in summary


def test_margin_is_a_setting_of_the_comparison_not_of_the_job():
    """[tasks.NAME] equivalence_margin (or --set) reaches the job as a tag value: the same job with
    another margin or max_trials has the same configuration hash (it is not rerun)."""
    from albench.config import load_benchmark
    from albench.loop import Job

    bench = load_benchmark("quick", ["tasks.digits.equivalence_margin=0.02"])
    assert bench.task("digits").equivalence_margin == 0.02
    job = Job(benchmark="quick", experiment="e", task=bench.task("digits"), strategy="random")
    other = dataclasses.replace(job, equivalence_margin=0.02, max_trials=20)
    assert job.config_hash() == other.config_hash()
