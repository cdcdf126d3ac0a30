"""Rounds of trials until every comparison is decided (``trials = "auto"``).

A task whose trials are "auto" runs them in rounds (5, 10, 20, ... up to ``max_trials``,
:func:`albench.verdicts.rounds`). After each round its comparisons (every strategy vs each
baseline, on the AUBC: the planned ones) are read back from the tracking store and decided
exactly as the report decides them (:func:`albench.report.stats.verdict_table`, with the
alpha spent over the rounds); the task stops when every one has a verdict, or at
``max_trials``. A task whose runs state expectations (a scenario's known answers,
``expectations.json``) stops on those instead: when each expectation run is decided
(:func:`albench.report.stats.expectation_table`). Later rounds are more trials of the same
experiment: finished jobs are
skipped as on any rerun, and a run that crashes between rounds resumes where it was.
Tasks with a fixed number of trials run all of them in the first round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from albench.verdicts import rounds

__all__ = ["Decision", "boundaries", "decide_task", "round_jobs"]


@dataclass(frozen=True)
class Decision:
    """Where one task stands after a round."""

    task: str
    trials: int  # trials present (the most trial index + 1 among its finished runs)
    decided: int  # AUBC comparisons with a verdict other than inconclusive
    planned: int  # AUBC comparisons
    max_trials: int
    what: str = "AUBC comparisons"  # or "expectations" (a scenario's known answers)

    @property
    def done(self) -> bool:
        """Every planned comparison decided, or no more trials allowed."""
        return self.decided == self.planned or self.trials >= self.max_trials

    def line(self) -> str:
        """One line for the run's log."""
        what = f"{self.decided} of {self.planned} {self.what} decided at {self.trials} trials"
        if self.decided == self.planned:
            return f"{self.task}: {what}; stopping"
        if self.trials >= self.max_trials:
            return f"{self.task}: {what}; max_trials = {self.max_trials} reached, stopping"
        nxt = next(r for r in rounds(self.max_trials) if r > self.trials)
        return f"{self.task}: {what}; next round: {nxt} trials"


def boundaries(jobs: Sequence[Any]) -> list[int]:
    """Every round boundary of the auto tasks among ``jobs`` (their ``max_trials``); [0]
    when none is auto (one pass)."""
    limits = {j.max_trials for j in jobs if j.max_trials is not None}
    return sorted({r for limit in limits for r in rounds(limit)}) or [0]


def round_jobs(todo: Sequence[Any], open_tasks: set[str], upto: int, first: bool) -> list[Any]:
    """The jobs of one round: of the auto tasks still open, their trials below ``upto``;
    in the first round also every job of the tasks with a fixed number of trials."""
    return [
        j
        for j in todo
        if (j.max_trials is None and first)
        or (j.max_trials is not None and j.task.name in open_tasks and j.trial < upto)
    ]


def decide_task(tracker: Any, experiment: str, task: str, max_trials: int) -> Decision:
    """Read ``task``'s finished runs from the store and decide its AUBC comparisons as the
    report does (its baselines, its margin, the rounds its trials completed); or, when its
    runs state expectations, those (the report's scenario check)."""
    from albench.report import stats
    from albench.report.data import load_expectations, load_experiment, pick_baselines

    data = load_experiment(tracker, experiment, tasks=[task])
    rows = stats.metric_rows(data.frame, data.task_metrics)
    metric = data.metrics[task]
    trials = int(data.runs.trial.max()) + 1
    known = load_expectations(tracker, data)
    if known.get(task):
        check = stats.expectation_table(
            rows, known, {task: metric.equivalence_margin}, {task: max_trials}
        )
        check = check[check.outcome != "not run"]
        decided = int(check.outcome.isin(["confirmed", "contradicted"]).sum())
        return Decision(task, trials, decided, len(check), max_trials, "expectations")
    table = stats.verdict_table(
        rows,
        pick_baselines(data, None),
        {task: metric.equivalence_margin},
        {task: max_trials},
        data.order,
    )
    aubc = table[table.quantity == "aubc"]
    decided = int((aubc.verdict != "inconclusive").sum())
    return Decision(task, trials, decided, len(aubc), max_trials)
