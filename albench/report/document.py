"""The report as a document: sections of figures, tables and notes, and the writer that puts
their files under the report directory (no MLflow here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import matplotlib
import pandas as pd

from albench.report.figures import DPI, NO_LAYOUT

__all__ = ["METADATA", "Figure", "Heading", "Item", "Notes", "Section", "Table", "Writer"]

METADATA = {  # no creation dates: reproducible files
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "ModDate": None},
}
LONG_TABLE = 12  # rows above which a table folds away in index.html


@dataclass(frozen=True)
class Heading:
    """A figure's or table's file stem (under its task's folder), title and caption."""

    name: str
    title: str
    caption: str = ""


@dataclass
class Figure:
    kind: ClassVar[str] = "figure"
    name: str  # <task>/<name>.<format>
    title: str
    caption: str
    files: list[str] = field(default_factory=list)  # relative paths, first is PNG


@dataclass
class Table:
    kind: ClassVar[str] = "table"
    name: str
    title: str
    caption: str
    display: pd.DataFrame  # strings, for index.html and summary.md
    csv: str = ""  # relative path of the full-precision CSV
    collapsed: bool = False  # long tables fold away in index.html


@dataclass
class Notes:
    """A titled list of statements (a task's summary); Markdown `code` spans allowed."""

    kind: ClassVar[str] = "notes"
    title: str
    lines: list[str] = field(default_factory=list)


Item = Figure | Table | Notes | str  # a str is a note (Markdown `code` spans allowed)


@dataclass
class Section:
    title: str
    items: list[Item] = field(default_factory=list)


class Writer:
    """Writes figures and tables under ``out`` and remembers every file it wrote."""

    def __init__(self, out: Path, formats: Sequence[str]):
        self.out, self.formats, self.files = out, list(formats), []

    def _path(self, rel: str) -> Path:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self.files.append(rel)
        return path

    def figure(self, fig: Any, task: str, head: Heading) -> Figure:
        item = Figure(head.name, head.title, head.caption)
        for fmt in self.formats:
            rel = f"{task}/{head.name}.{fmt}"
            fig.savefig(self._path(rel), format=fmt, dpi=DPI, metadata=METADATA[fmt])
            # laid out by the first save: the other formats keep its positions instead of
            # running the layout again (a pre-draw and a constrained layout per save); None
            # reads the rc, so the rc says no layout whoever calls this
            with matplotlib.rc_context(NO_LAYOUT):
                fig.set_layout_engine(None)
            item.files.append(rel)
        return item

    def table(self, full: pd.DataFrame, display: pd.DataFrame, task: str, head: Heading) -> Table:
        rel = f"{task}/{head.name}.csv" if task else f"{head.name}.csv"
        self.text(rel, full.to_csv(index=False, lineterminator="\n"))
        display = display.reset_index(drop=True)
        return Table(head.name, head.title, head.caption, display, rel, len(display) > LONG_TABLE)

    def text(self, rel: str, content: str) -> None:
        self._path(rel).write_text(content, encoding="utf-8")
