"""Apps stage: the lecture's book while it is written: its files, its cells, its notes.

Each chapter writes files into the folder and adds cells through a :class:`Book`: Markdown
(with ``$…$`` math, links and embedded figures, relative to the folder), which every output
shows (``index.md``, the notebook, the LaTeX document), and Python that redoes the step with
symgrad calls, which only the notebook runs. A new chapter is in every output at once.
Text that waits for something slow (a gradient check for its compiled code) is left as a
placeholder (:meth:`Book.later`) and made at the end (:meth:`Book.finish`), once the rest of
the lecture has been written meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Book:
    """What the build has written: the folder, the cells in order, the notes to show."""

    folder: Path
    progress: Callable
    cells: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plots: bool = True
    pending: list[tuple[str, Callable[[], str]]] = field(default_factory=list)

    def write(self, name: str, text: str) -> str:
        (self.folder / name).write_text(text, encoding="utf-8")
        return name

    def add(self, *lines: str) -> None:
        """Markdown lines: one cell, in every output."""
        self.cells.append(("markdown", "\n".join(lines).strip("\n")))

    def code(self, source: str) -> None:
        """Python that redoes the step just described with symgrad calls: the notebook's."""
        self.cells.append(("code", source.strip("\n")))

    def later(self, make: Callable[[], str]) -> str:
        """A placeholder, to put in cells, for the text ``make()`` returns at :meth:`finish`."""
        token = f"\x00later {len(self.pending)}\x00"
        self.pending.append((token, make))
        return token

    def finish(self) -> None:
        """Make the text of every placeholder, in the order they were asked for."""
        for token, make in self.pending:
            text = make()
            self.cells = [(kind, cell.replace(token, text)) for kind, cell in self.cells]
        self.pending.clear()

    def markdown(self) -> str:
        """The Markdown cells, one paragraph apart."""
        return "".join(text + "\n\n" for kind, text in self.cells if kind == "markdown")


def link(path: str, label: str | None = None) -> str:
    return f"[{label or path}]({path})"


def embed(paths: list[Path], caption: str) -> str:
    """A figure's Markdown image (its SVG, else its first file), or a pointer to the notes."""
    if not paths:
        return f"({caption}: not drawn, see the notes.)"
    shown = next((p for p in paths if p.suffix == ".svg"), paths[0])
    return f"![{caption}]({shown.name})"


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
