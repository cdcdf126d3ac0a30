"""The only module that talks to MLflow (docs/browsing-results.md).

Tracking URI: ``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///mlflow.db`` in the working
directory. The driver creates the experiment before any job starts; jobs log through an
explicit run id with :class:`mlflow.MlflowClient` (no global active run), so they can run in
other processes. Every call retries "database is locked" from a busy sqlite file with
exponential backoff.

One run per job, named ``task/strategy/trial-N``, tagged ``albench.*``; metrics use the cycle
as step (``eval/...``, ``labeled``, ``time/...``) or the global epoch (``train/loss/...``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from albench.errors import AlbenchError
from albench.preflight import DEFAULT_TRACKING_URI, disk_full, tracking_uri
from albench.schema import Tag

__all__ = ["DEFAULT_TRACKING_URI", "StoreFullError", "Tracker", "store_exists", "tracking_uri"]

T = TypeVar("T")


def store_exists(uri: str) -> bool:
    """Whether a local store (sqlite file, ``file:`` folder) exists; servers count as yes.

    Read-only commands check this first: opening a missing local store would create it."""
    from albench.preflight import sqlite_path

    db = sqlite_path(uri)
    if db is not None:
        return db.exists()
    if uri.startswith("file://"):
        return Path(uri[len("file://") :]).exists()
    if "://" not in uri:  # a bare path is a file store
        return Path(uri).exists()
    return True


class StoreFullError(AlbenchError):
    """The disk under the tracking store is full: one line, the run resumes after a rerun."""


def _retry(fn: Callable[[], T], attempts: int = 8, base_delay: float = 0.05) -> T:
    """Call ``fn``; on a locked sqlite database wait 50 ms, 100 ms, ... (jittered) and retry."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:  # MLflow wraps sqlite's OperationalError in its own types
            if disk_full(exc):
                raise StoreFullError(
                    "the tracking store's disk is full (database or disk is full); free space "
                    "and rerun the command: every job resumes from its saved state"
                ) from None
            if "database is locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(base_delay * 2**attempt * (1 + random.random()))
    raise AssertionError("unreachable")


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> ``{"a.b.c": "value"}`` for MLflow params."""
    flat: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            flat.update(flatten(v, key + "."))
        else:
            flat[key] = json.dumps(v) if isinstance(v, list | tuple | Mapping) else str(v)
    return flat


DATASET_TRIES = 4  # datasets logged by concurrent jobs: see Tracker.log_datasets


class Tracker:
    """A thin, retrying wrapper around :class:`mlflow.MlflowClient`."""

    def __init__(self, uri: str | None = None):
        from mlflow import MlflowClient

        for name in ("alembic", "mlflow"):  # schema-creation chatter on a new sqlite file
            logging.getLogger(name).setLevel(logging.WARNING)
        # MLflow prints every database error with its traceback before raising it; albench
        # reports what it raises in one line (a full disk: StoreFullError), so not twice
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
        self.uri = tracking_uri(uri)
        self.client = MlflowClient(tracking_uri=self.uri)

    # ---------------------------------------------------------------- experiments and runs
    def experiment_id(self, name: str, create: bool = True) -> str | None:
        exp = _retry(lambda: self.client.get_experiment_by_name(name))
        if exp is not None:
            return exp.experiment_id
        if not create:
            return None
        from albench.preflight import artifact_root

        location = artifact_root(self.uri)  # sqlite: beside the database, not in the cwd
        tags = {
            # MLflow 3's UI opens a model-development experiment on its runs (not on traces)
            "mlflow.experimentKind": "custom_model_development",
            "mlflow.note.content": (
                "albench active-learning runs: one run per (task, strategy, trial), tag "
                "`albench.kind` = job; `albench report` adds a run of kind report."
            ),
        }
        return _retry(
            lambda: self.client.create_experiment(name, artifact_location=location, tags=tags)
        )

    def log_datasets(self, run_id: str, datasets: Iterable[tuple[str, str, str]]) -> None:
        """Log (context, name, digest) as the run's MLflow datasets (its Datasets column)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = [
            DatasetInput(
                Dataset(name=name, digest=digest, source_type="local", source=name),
                tags=[InputTag(key="mlflow.data.context", value=context)],
            )
            for context, name, digest in datasets
        ]
        # Jobs of one experiment log the same datasets at once, and MLflow inserts a dataset
        # new to the experiment without a guard (a UNIQUE violation for all but one): the
        # next try finds it and links it. Datasets are a run's description: a job never
        # fails for them.
        for attempt in range(DATASET_TRIES):
            try:
                self.client.log_inputs(run_id, datasets=inputs)
                return
            except Exception:
                time.sleep(0.2 * (attempt + 1))

    def experiment_names(self) -> list[str]:
        return sorted(e.name for e in _retry(lambda: self.client.search_experiments()))

    def start_run(
        self, experiment_id: str, run_name: str, tags: Mapping[str, str], params: Mapping[str, str]
    ) -> str:
        from mlflow.entities import Param

        run = _retry(
            lambda: self.client.create_run(
                experiment_id, run_name=run_name, tags={k: str(v) for k, v in tags.items()}
            )
        )
        run_id = run.info.run_id
        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for chunk in _chunks(items, 100):
            _retry(lambda chunk=chunk: self.client.log_batch(run_id, params=chunk))
        return run_id

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)[:5000]) for k, v in tags.items()]
        _retry(lambda: self.client.log_batch(run_id, tags=items))

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag if the run has it (e.g. a stale ``albench.error`` after a resume)."""
        run = _retry(lambda: self.client.get_run(run_id))
        if key in run.data.tags:
            _retry(lambda: self.client.delete_tag(run_id, key))

    def unfinished_run(self, experiment: str, config_hash: str) -> str | None:
        """The newest run of ``experiment`` with this config hash that did not finish (left
        RUNNING by a dead process, FAILED or KILLED), or None: a job adopts it rather than
        starting a second run."""
        exp_id = self.experiment_id(experiment, create=False)
        if exp_id is None:
            return None
        query = f"tags.`albench.config_hash` = '{config_hash}'"
        runs = _retry(
            lambda: self.client.search_runs(
                [exp_id], query, max_results=1000, order_by=["start_time DESC"]
            )
        )
        runs = [r for r in runs if r.info.status != "FINISHED"]
        return runs[0].info.run_id if runs else None

    def reopen_run(self, run_id: str) -> None:
        """Set a run back to RUNNING (a resumed job)."""
        _retry(lambda: self.client.update_run(run_id, status="RUNNING"))

    def end_run(self, run_id: str, status: str = "FINISHED", error: str | None = None) -> None:
        """Mark a run FINISHED, FAILED or KILLED; ``error`` goes into the ``albench.error`` tag."""
        if error:
            self.set_tags(run_id, {Tag.ERROR: error})
        with contextlib.redirect_stdout(io.StringIO()):  # MLflow's "View run ..." lines
            _retry(lambda: self.client.set_terminated(run_id, status=status))

    # ---------------------------------------------------------------- metrics and artifacts
    def log_metrics(self, run_id: str, rows: Iterable[tuple[str, float, int]]) -> None:
        """Log ``(key, value, step)`` rows in batches of 1,000 (MLflow's limit)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, int(s)) for k, v, s in rows]
        for chunk in _chunks(items, 1000):
            _retry(lambda chunk=chunk: self.client.log_batch(run_id, metrics=chunk))

    def log_artifact(self, run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
        _retry(lambda: self.client.log_artifact(run_id, str(path), artifact_path))

    def log_json(self, run_id: str, obj: Any, name: str) -> None:
        self._log_with(run_id, name, lambda p: p.write_text(json.dumps(obj, indent=2, default=str)))

    def log_npy(self, run_id: str, array: np.ndarray, name: str) -> None:
        self._log_with(run_id, name, lambda p: np.save(p, array))

    def log_frame(self, run_id: str, frame: pd.DataFrame, name: str) -> None:
        self._log_with(run_id, name, lambda p: frame.to_csv(p, index=False))

    def _log_with(self, run_id: str, name: str, write: Callable[[Path], Any]) -> None:
        folder, _, filename = name.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / filename
            write(path)
            self.log_artifact(run_id, path, folder or None)

    # ---------------------------------------------------------------- reading back
    def runs(self, experiment: str) -> list[Any]:
        """Every run of an experiment (any status), oldest first."""
        exp_id = self.experiment_id(experiment, create=False)
        if exp_id is None:
            return []
        return _retry(
            lambda: self.client.search_runs([exp_id], max_results=50000, order_by=["start_time"])
        )

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        hist = _retry(lambda: self.client.get_metric_history(run_id, key))
        return sorted((m.step, m.value) for m in hist)

    def download_artifact(self, run_id: str, path: str, dst: str | Path) -> Path:
        return Path(_retry(lambda: self.client.download_artifacts(run_id, path, str(dst))))

    def artifact_files(self, run_id: str, path: str | None = None) -> list[str]:
        """Every artifact file of a run under ``path`` (all when None), sorted, as paths
        relative to the run's artifact root."""
        files: list[str] = []
        for item in _retry(lambda: self.client.list_artifacts(run_id, path)):
            files += self.artifact_files(run_id, item.path) if item.is_dir else [item.path]
        return sorted(files)
