"""Apps stage, the end of the pipeline: lecture 7 (forward and backward propagation, learning
rates), rebuilt into a folder.

Takes an output folder; fills it with the lecture's chapters
(:mod:`symgrad.apps.lecture.chapters`), written three ways from the same cells: ``index.md``
(which also links every file), the notebook ``lecture.ipynb``
(:mod:`~symgrad.apps.lecture.notebook`) and the LaTeX document ``lecture.tex``
(:mod:`~symgrad.apps.lecture.latex`); and the generated Numba modules in ``code/`` (where
Numba's cache is reused across runs). scikit-learn, matplotlib and graphviz are optional and
replaced by a fallback or a note when missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from symgrad._version import __version__
from symgrad.apps.lecture.book import Book, all_files, link
from symgrad.apps.lecture.chapters import (
    generated_code,
    learning_rates,
    lecture_data,
    logistic,
    network_chapter,
    toy_graph,
    trained_models,
)
from symgrad.apps.lecture.latex import document
from symgrad.apps.lecture.notebook import notebook
from symgrad.apps.lecture.trace import backward_in_numbers
from symgrad.apps.study import figure
from symgrad.errors import SymgradError
from symgrad.paths import DEFAULT_FOLDER, output_folder


def build_lecture(
    folder=DEFAULT_FOLDER / "lecture", *, quick: bool = False, progress: Callable = print
) -> Path:
    """Reproduce the lecture into ``folder``: traces, equations, training, checks, figures.

    Args:
        folder: the output folder (created); generated modules go to ``folder/code``.
        quick: fewer epochs (for tests and a first look).
        progress: called with one line per step (``print`` by default; ``lambda s: None``).

    Returns:
        The path of the folder's ``index.md``, which links every file written (among them
        ``lecture.ipynb`` and ``lecture.tex``, the same lecture as a notebook and in LaTeX).

    Raises:
        SymgradError: ``folder`` (or ``folder/code``) is a file or lies under one, or a
            stage failed (e.g. training diverged).
    """
    started = time.perf_counter()
    folder = output_folder(folder)  # a file in the way is refused before any work
    code = output_folder(folder / "code")
    book = Book(folder, progress)
    book.add(
        "# Lecture 7: forward and backward propagation, gradient descent and the learning rate",
        "",
        f"Rebuilt by symgrad {__version__} with `symgrad lecture"
        + (" --quick" if quick else "")
        + "`. Every gradient below was derived once by the "
        "chain rule (reverse mode); the same derivation was printed here, compiled into the "
        "training code in `code/` and checked against finite differences. The same lecture: "
        f"{link('index.md')}, {link('lecture.ipynb')} (a notebook that redoes each step with "
        f"symgrad calls) and {link('lecture.tex')} (LaTeX, for `pdflatex`).",
        "",
        "Gradient descent moves every parameter against its gradient, "
        "$\\theta \\leftarrow \\theta - \\alpha \\frac{\\partial L}{\\partial \\theta}$, "
        "where $\\alpha$ is the learning rate; backpropagation computes those gradients.",
    )
    try:
        figure()
    except SymgradError as error:
        book.plots = False
        book.notes.append(f"No figures: {error}.")
        progress(f"      note: no figures: {error}")
    data = lecture_data()
    models = trained_models(code, data, loop=not quick)  # --quick: NumPy is quick enough
    toy_graph(book)
    logistic(book, quick, models["logistic"], data["logistic"])
    network, compiled, data = network_chapter(book, quick, models["network"], data["network"])
    backward_in_numbers(book, network, data)
    learning_rates(book, quick, network, compiled, data)
    book.finish()  # the gradient checks, whose compiled code had all this time to build
    generated_code(book, code)
    if book.notes:
        book.add("## Notes", "", *[f"- {n}" for n in book.notes])
    book.write("lecture.ipynb", notebook(book.cells))
    book.write("lecture.tex", document(book.markdown(), folder))
    files = ["## All files", "", *[f"- {link(f)}" for f in all_files(folder)], ""]
    index = folder / "index.md"
    index.write_text(book.markdown() + "\n".join(files), encoding="utf-8")
    progress(
        f"wrote {index}, and lecture.ipynb and lecture.tex beside it, "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return index
