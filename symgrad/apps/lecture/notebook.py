"""Apps stage: the lecture's cells as a Jupyter notebook that runs top to bottom.

The book's Markdown cells (math, links and figures relative to the lecture's folder) and its
Python cells, which redo each step with symgrad calls, in the book's order, written as nbformat
4.5 JSON by the standard library: writing the notebook needs no Jupyter package, running it does.
"""

from __future__ import annotations

import json


def _source(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def notebook(cells: list[tuple[str, str]]) -> str:
    """The notebook of ``cells`` (``("markdown" | "code", text)`` in order), as JSON text."""
    written = []
    for number, (kind, text) in enumerate(cells, 1):
        cell = {"cell_type": kind, "id": f"cell-{number}", "metadata": {}, "source": _source(text)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        written.append(cell)
    return (
        json.dumps(
            {
                "cells": written,
                "metadata": {
                    "kernelspec": {
                        "display_name": "Python 3",
                        "language": "python",
                        "name": "python3",
                    },
                    "language_info": {"name": "python"},
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )
