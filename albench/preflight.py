"""Checks ``albench run`` makes before any job starts, and the one-runner-per-experiment lock.

Everything here fails with one line that names the path or URI, the cause and what to do
(:class:`~albench.errors.AlbenchError`, exit code 2), before anything is written:

- **Tracking store.** A server is asked for ``/health`` with a timeout of a few seconds (not
  MLflow's minutes of retries); a ``file:`` store is refused as MLflow itself does (unless
  ``MLFLOW_ALLOW_FILE_STORE`` is set);
  a sqlite database must lie in an existing folder (albench never creates folders for it: a
  typo in the URI would otherwise scatter databases) and be writable. A new sqlite database is
  created atomically: schema in a temporary file beside it, then a rename, so a kill during
  creation leaves no database or a working one. Its artifacts go to ``mlartifacts/`` beside
  the database, not to the working directory.
- **Paths.** The state folder and the data root must be folders (or creatable) and writable.
- **Lock.** ``<state-dir>/<experiment>.lock`` holds the driver's pid, host and start time;
  a second ``albench run`` of the same experiment refuses with one line naming the holder (or
  waits with ``--wait``); the lock of a holder that is gone is taken over.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from albench.config import experiment_file_name
from albench.errors import AlbenchError, masked

__all__ = [
    "ExperimentLock",
    "LockHeldError",
    "TrackingStoreError",
    "artifact_root",
    "check_folder",
    "check_tracking_store",
    "sqlite_path",
]

HEALTH_TIMEOUT_S = 5.0  # a server that does not answer /health in this time is unreachable


class TrackingStoreError(AlbenchError):
    """The tracking store cannot be used (unreachable, unsupported, read-only, misplaced)."""


class LockHeldError(AlbenchError):
    """Another ``albench run`` holds the experiment."""


DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def tracking_uri(uri: str | None = None) -> str:
    """The URI in force: an explicit one, else ``MLFLOW_TRACKING_URI``, else the default.

    A relative sqlite path is made absolute, so worker processes with another working
    directory write to the same database.
    """
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    prefix = "sqlite:///"
    path = uri[len(prefix) :]
    if uri.startswith(prefix) and not path.startswith("/") and path not in ("", ":memory:"):
        uri = prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI, else None."""
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def artifact_root(uri: str) -> str | None:
    """Where a sqlite store's artifacts go: ``mlartifacts/`` beside the database file (None for
    other stores: a server decides for itself)."""
    db = sqlite_path(uri)
    return (db.parent / "mlartifacts").as_uri() if db is not None else None


STALE_CREATION_S = 600  # a store creation takes seconds: a file this old was left by a kill
# the URI schemes of MLflow's tracking stores (a database's "dialect+driver" counts as its
# dialect): a server, a database, a file store
STORE_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "file", "databricks")


def check_tracking_store(uri: str, create: bool = False) -> None:
    """Fail with one line unless ``uri`` is a store albench can write to; with ``create``, a
    missing sqlite database is created (atomically)."""
    db = sqlite_path(uri)
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower() if "://" in uri else ""
    if uri.startswith("sqlite:") and (db is None or db.name in ("", ":memory:")):
        raise TrackingStoreError(
            f"tracking URI {uri!r} is an in-memory database: every run and metric would be "
            "lost when albench exits; use a file, e.g. MLFLOW_TRACKING_URI=sqlite:///mlflow.db"
        )
    if scheme and scheme not in STORE_SCHEMES:
        raise TrackingStoreError(
            f"tracking URI {masked(uri)!r} has the unknown scheme {scheme!r}; use one of "
            f"{', '.join(STORE_SCHEMES)}, e.g. MLFLOW_TRACKING_URI=sqlite:///mlflow.db"
        )
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    elif db is not None:
        _check_sqlite(uri, db)
        if create and not db.exists():
            _create_sqlite(db, artifact_root(uri) or "")
    else:
        scheme = uri.split(":", 1)[0] if ":" in uri else "a plain path"
        if scheme in ("file", "a plain path") and not os.environ.get("MLFLOW_ALLOW_FILE_STORE"):
            raise TrackingStoreError(
                f"tracking URI {uri!r}: MLflow refuses file stores (maintenance mode) unless "
                "MLFLOW_ALLOW_FILE_STORE=true; use a database instead, e.g. "
                "MLFLOW_TRACKING_URI=sqlite:///mlflow.db"
            )
        # other database URIs (postgresql://, mysql://): MLflow reports problems itself


def _check_server(uri: str) -> None:
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as response:
            ok = response.status == 200
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingStoreError(
            f"tracking server {uri} is unreachable ({reason}); start it (mlflow server ...) "
            "or point MLFLOW_TRACKING_URI at a running one"
        ) from None
    if not ok:
        raise TrackingStoreError(f"tracking server {uri} answers /health with an error")


def _check_sqlite(uri: str, db: Path) -> None:
    if not db.parent.is_dir():
        raise TrackingStoreError(
            f"tracking URI {uri}: the folder {db.parent} does not exist; create it first "
            f"(mkdir -p {db.parent}) or choose another MLFLOW_TRACKING_URI"
        )
    if db.exists():
        if not db.is_file() or not os.access(db, os.R_OK | os.W_OK):
            raise TrackingStoreError(
                f"tracking database {db} is not a writable file; fix its permissions or "
                "choose another MLFLOW_TRACKING_URI"
            )
    if not os.access(db.parent, os.W_OK):  # sqlite writes its journal beside the file
        raise TrackingStoreError(
            f"tracking database folder {db.parent} is read-only; sqlite needs to write there"
        )


def _create_sqlite(db: Path, artifacts: str) -> None:
    """A new MLflow database, migrated in a temporary file and renamed into place."""
    import logging

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    for name in ("alembic", "mlflow"):  # schema-creation chatter
        logging.getLogger(name).setLevel(logging.WARNING)
    for stale in db.parent.glob(f".{db.name}.*.creating*"):  # left by a kill while creating
        if _age(stale) > STALE_CREATION_S:  # (a younger one may be another process's, now)
            stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{db.name}.", suffix=".creating", dir=db.parent)
    os.close(fd)
    os.unlink(tmp)  # sqlite creates it
    try:
        try:
            store = SqlAlchemyStore(f"sqlite:///{tmp}", artifacts)
        except Exception as exc:
            if disk_full(exc):
                raise TrackingStoreError(
                    f"cannot create the tracking database {db}: the disk is full; free space "
                    "or choose another MLFLOW_TRACKING_URI"
                ) from None
            raise
        store.engine.dispose()
        if db.exists():  # another process made it meanwhile: keep theirs
            return
        os.replace(tmp, db)
    finally:
        Path(tmp).unlink(missing_ok=True)


def state_dir_for(uri: str) -> Path:
    """Default state folder: beside a sqlite tracking database, else ``./albench-state``."""
    db = sqlite_path(uri)
    if db is not None:
        return db.resolve().parent / "albench-state"
    return Path("albench-state").resolve()


def check_folder(path: Path, what: str, create: bool) -> None:
    """``path`` is (or, with ``create``, can be made) a writable folder; else one line."""
    if path.exists() and not path.is_dir():
        raise AlbenchError(f"{what} {path} is a file, not a folder; give a folder path")
    if not path.exists():
        if not create:  # it could be made: no file stands where a folder above it must be
            above = next(p for p in path.parents if p.exists())
            if not above.is_dir():
                raise AlbenchError(
                    f"{what} {path} cannot be created ({above} is a file); give a writable path"
                )
            return
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AlbenchError(
                f"{what} {path} cannot be created ({exc.strerror or exc}); give a writable path"
            ) from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise AlbenchError(
            f"{what} {path} is not writable ({exc.strerror or exc}); give a writable folder"
        ) from None


def lock_dir_for(uri: str) -> Path:
    """Where the run locks of tracking store ``uri`` live, whatever the state folder: beside
    a sqlite database (``.albench-locks``), else in the user's cache folder (a server's
    experiments are then locked per machine)."""
    db = sqlite_path(uri)
    if db is not None:
        return db.resolve().parent / ".albench-locks"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "albench" / "locks"


class ExperimentLock:
    """One runner per (tracking store, experiment): a lock file with the holder's identity,
    in the store's lock folder (:func:`lock_dir_for`), named by the experiment and the
    store, so two state folders cannot run one experiment of one store twice."""

    def __init__(self, uri: str, experiment: str):
        self.experiment = experiment
        store = hashlib.sha256(uri.encode()).hexdigest()[:8]
        self.path = lock_dir_for(uri) / f"{experiment_file_name(experiment)}-{store}.lock"
        self.held = False

    def acquire(self, wait: bool = False, poll_s: float = 2.0) -> None:
        """Take the lock; if a live process holds it, refuse (or wait with ``wait``). The
        take-over of a stale lock (its holder is gone) happens under an exclusive lock of the
        lock folder, so that of many processes taking it over at once, one gets it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            with _folder_lock(self.path.parent):
                if self._try_create():
                    return
                holder = self._holder()
                unreadable_for = _age(self.path) if holder is None else 0.0
                if (holder is not None and not _alive(holder)) or unreadable_for > 10:
                    self.path.unlink(missing_ok=True)  # a stale lock: its holder is gone
                    if self._try_create():
                        return
                    continue
            if not wait:
                who = (
                    f"pid {holder['pid']} on {holder['host']} since {holder['since']}"
                    if holder
                    else "another process"
                )
                raise LockHeldError(
                    f"experiment {self.experiment!r} is being run by {who} (lock {self.path}); "
                    "wait for it to finish, pass --wait, or use another --experiment"
                )
            time.sleep(poll_s)

    def _try_create(self) -> bool:
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "argv": sys.argv,
        }
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        self.held = True
        return True

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"pid": -1, "host": ""}  # removed meanwhile: counts as a dead holder
        except (OSError, ValueError):
            return None  # being written right now (or left empty by a crash)

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> ExperimentLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock of ``folder`` (flock of its descriptor), released by the
    kernel if the process dies; a no-op where there is no flock."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (an OSError, or sqlite's error as MLflow and SQLAlchemy wrap it) says
    that the disk is full."""
    text = str(exc)
    return getattr(exc, "errno", None) == errno.ENOSPC or any(
        s in text for s in ("database or disk is full", "No space left on device")
    )


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return float("inf")


def _alive(holder: dict[str, Any]) -> bool:
    """Whether the lock's holder still runs (a holder on another host is assumed alive)."""
    if int(holder.get("pid", -1)) < 0:
        return False
    if holder.get("host") != socket.gethostname():
        return True
    return running(int(holder["pid"]))


def running(pid: int) -> bool:
    """Whether process ``pid`` runs: it exists and, where /proc tells, is no zombie (a
    killed process that its parent has not reaped still answers ``kill(pid, 0)``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS), or it just went
        return True
    state = stat.rpartition(")")[2].split()[:1]  # the field after "(name)"
    return state not in (["Z"], ["X"])
