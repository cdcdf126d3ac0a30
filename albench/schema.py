"""What albench writes to the tracking store and how to read it back: the columns of the
artifacts a job logs. Torch-free: the report and anyone reading albench's runs import it.

``test_scores/cycle_NN.csv`` (one row per test sample, test order): ``index``, ``loss`` (the
true per-sample target loss), the task's outcome columns (named ``label...`` for the truth and
``prediction...`` for the model's output, e.g. ``label`` and ``prediction`` of a classifier)
and one column per score (``entropy``, ``predicted_loss``, ...).

``selected/cycle_NN.csv`` (one row per pick, pick order): ``cycle``, ``index`` (the pool
index), every fact the task states per pool item (``class``, ...) and, for a strategy that
selects by a score it declares, ``score/<name>`` of the pick.
"""

from __future__ import annotations

__all__ = [
    "PICK_SCORE_PREFIX",
    "PREDICTION_PREFIX",
    "TEST_SCORE_FIXED",
    "TRUTH_PREFIX",
    "is_score_column",
]

TEST_SCORE_FIXED = ("index", "loss")  # the first columns of every test_scores CSV
TRUTH_PREFIX = "label"  # a Task.outcome column of the truth: label, label_objects, ...
PREDICTION_PREFIX = "prediction"  # a Task.outcome column of the model's output
PICK_SCORE_PREFIX = "score/"  # a selected CSV column holding the strategy's score of a pick


def is_score_column(name: str) -> bool:
    """Whether a test_scores CSV column holds a score (not the index, loss or outcome)."""
    return name not in TEST_SCORE_FIXED and not name.startswith((TRUTH_PREFIX, PREDICTION_PREFIX))
