"""Apps stage: the lecture's book while it is written: its files, its index's parts, its notes.

Each chapter writes files into the folder and adds lines to the index through a
:class:`Book`; links are Markdown links relative to the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Book:
    """What the build has written: the folder, the index's parts, the notes to show."""

    folder: Path
    progress: Callable
    parts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plots: bool = True

    def write(self, name: str, text: str) -> str:
        (self.folder / name).write_text(text, encoding="utf-8")
        return name

    def add(self, *lines: str) -> None:
        self.parts += [*lines, ""]


def link(path: str, label: str | None = None) -> str:
    return f"[{label or path}]({path})"


def figure_links(names: list[Path]) -> str:
    return " · ".join(link(p.name) for p in names)


def all_files(folder: Path) -> list[str]:
    """Every file under ``folder`` but the index, caches and hidden files, as relative paths."""
    skip = {"index.md"}
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and p.name not in skip
        and "__pycache__" not in p.parts
        and not p.name.startswith(".")
    )
