"""What a report shows of local paths: none absolute. The tracking URI, and any text that
may hold a path (left-out runs' errors, the command line).

A local path (an absolute path, or a ``sqlite:``/``file:`` URI's path) is shown

1. relative to the report's folder when the two share a folder below the filesystem's root
   (``sqlite:///../../mlflow.db`` for ``reports/quick`` beside ``mlflow.db``);
2. else with the home folder written ``~`` and the temporary folder ``$TMPDIR``;
3. else as ``.../<parent>/<name>``.

The report says so beside the tracking URI (:data:`PATH_NOTE`). Remote URIs are kept, less
any ``user:password@`` part.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from albench.errors import USERINFO as _USERINFO

__all__ = ["PATH_NOTE", "show_path", "show_uri", "scrub"]

PATH_NOTE = (
    "local paths are shown relative to this report's folder, or with the home folder as ~ "
    "and the temporary folder as $TMPDIR"
)
# An absolute POSIX path inside text: a "/" not preceded by a word character, a dot, a
# tilde, a slash or a colon (so "eval/accuracy", "1/2", "../x" and "http://h/x" are left).
_ABSOLUTE = re.compile(r"(?<![\w.~/:$-])/(?:[\w.+@%-]+/?)+")
_FILE_URI = re.compile(r"\b(sqlite:///|file://)(/[^\s'\"<>]*)")


def _under(path: Path, root: Path) -> bool:
    try:
        return path.is_relative_to(root) and root != Path(root.anchor)
    except ValueError:
        return False


def show_path(path: str | Path, out: str | Path | None) -> str:
    """``path`` as the report shows it (module docstring); ``out`` is the report's folder
    (None: never relative to it, as in the command line the report records)."""
    p = Path(os.path.abspath(path))
    if out is not None:
        o = Path(os.path.abspath(out))
        common = Path(os.path.commonpath([p, o]))
        if common != Path(common.anchor):
            return os.path.relpath(p, o)
    for root, name in ((Path.home(), "~"), (Path(tempfile.gettempdir()), "$TMPDIR")):
        root = Path(os.path.abspath(root))
        if _under(p, root):
            return f"{name}/{p.relative_to(root)}"
    return ".../" + "/".join(p.parts[-2:])


def show_uri(uri: str, out: str | Path) -> str:
    """A tracking URI as the report shows it: a local store's path via :func:`show_path`
    (a relative ``sqlite:///`` path is taken from the working directory)."""
    sqlite = re.fullmatch(r"sqlite:///(.*)", uri)
    if sqlite:
        return f"sqlite:///{show_path(sqlite.group(1), out)}"
    file = re.fullmatch(r"file:(?://)?(/.*)", uri)
    if file:
        return f"file:{show_path(file.group(1), out)}"
    if "://" not in uri:  # a plain path (MLflow's file store)
        return show_path(uri, out)
    return _USERINFO.sub(r"\1", uri)


def scrub(text: str, out: str | Path | None) -> str:
    """``text`` with every absolute local path and local URI shown as :func:`show_path`
    (``out`` None: the command line as run, its ``--out /abs/dir`` not turned into ``.``)."""
    text = _FILE_URI.sub(lambda m: m.group(1) + show_path(m.group(2), out), text)
    text = _ABSOLUTE.sub(lambda m: show_path(m.group(0), out), text)
    return _USERINFO.sub(r"\1", text)
