"""The rebuilt lecture: one quick build per session into ``<session tmp>/lecture``.

The index must link every file written, carry the lecture's math and numbers, and the checks
must say "correct". The code folder is the one test_study compiles into, so the 2-16-1
network is compiled once per session.
"""

import importlib.util
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

import symgrad  # noqa: E402
from symgrad.apps.lecture import build_lecture, chapters  # noqa: E402
from symgrad.apps.lecture.book import Book  # noqa: E402
from symgrad.cli import main  # noqa: E402
from symgrad.show.draw import MissingDependencyError  # noqa: E402

FIGURES = (
    "logistic_regression",
    "network",
    "network_decision_boundary",
    "learning_rate_study",
    "descent_1d",
)
#: Graphviz draws the graph's picture: its Python package and its dot program are there.
GRAPHVIZ = importlib.util.find_spec("graphviz") is not None and shutil.which("dot") is not None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "lecture"
    lines = []
    index = build_lecture(folder, quick=True, progress=lines.append)
    return folder, index, index.read_text(encoding="utf-8"), lines


def _files(folder):
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
    )


def test_index_links_every_file_and_only_files_that_exist(built):
    folder, index, text, _ = built
    assert index == folder / "index.md"
    prose = re.sub(r"\$[^$\n]*\$", "", text)  # math like dZ^{[2](i)} is not a link
    links = set(re.findall(r"\]\(([^)]+)\)", prose))
    files = set(_files(folder)) - {"index.md"}
    assert files <= links
    assert all((folder / link).is_file() for link in links)


def test_index_has_the_lectures_math_and_numbers(built):
    text = built[2]
    assert len(re.findall(r"\$[^$\n]+\$", text)) > 30
    assert r"\theta \leftarrow \theta - \alpha \frac{\partial L}{\partial \theta}" in text
    toy = text.split("## 1.")[1].split("## 2.")[0]
    assert "$u = b c = 6$" in toy and "$v = a + u = 7$" in toy and "$j = 3 v = 21$" in toy
    assert r"= 3 \cdot 1 \cdot 3 = 9$" in toy
    assert r"= 3 \cdot 1 \cdot 2 = 6$" in toy
    assert r"\frac{\partial L}{\partial z} = a - y" in text
    assert "dZ^{[2]} = A^{[2]} - Y" in text
    assert "$dZ = A - Y$" in text  # logistic regression over a batch


def test_figures_are_written(built):
    folder = built[0]
    for name in FIGURES:  # once, as a PNG, which every output shows
        assert (folder / f"{name}.png").read_bytes().startswith(b"\x89PNG")
        assert not (folder / f"{name}.svg").exists()


def test_toy_graph_trace_and_picture(built):
    folder, _, text, _ = built
    trace = (folder / "toy_graph_trace.md").read_text(encoding="utf-8")
    assert "| $j$ | $3 v$ | $21$ |" in trace
    dot = (folder / "toy_graph.dot").read_text(encoding="utf-8")
    assert "grad 9" in dot and "grad 6" in dot
    if not (folder / "toy_graph.svg").exists():
        assert "SVG was not drawn" in text


def test_index_embeds_its_figures(built):
    folder, _, text, _ = built
    embedded = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text)
    assert {f"{name}.png" for name in FIGURES} <= set(embedded)
    assert ("toy_graph.svg" in embedded) == GRAPHVIZ == (folder / "toy_graph.svg").is_file()


def test_a_skipped_graph_picture_is_said_on_the_console(monkeypatch, tmp_path):
    drawn = chapters.render

    def render(trace, path):
        if Path(path).suffix != ".dot":
            raise MissingDependencyError("no Graphviz here")
        return drawn(trace, path)

    monkeypatch.setattr(chapters, "render", render)
    lines = []
    book = Book(tmp_path, lines.append)
    chapters.toy_graph(book)
    assert "      note: the graph's picture was skipped: no Graphviz here" in lines
    assert "SVG was not drawn: no Graphviz here" in book.notes[0]
    assert "![" not in book.markdown() and (tmp_path / "toy_graph.dot").is_file()


def _outputs(cell) -> str:
    """A code cell's printed text and displayed values (plain, LaTeX, Markdown), joined."""
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts += [data.get(kind, "") for kind in ("text/plain", "text/latex", "text/markdown")]
    return "\n".join(parts)


def test_the_notebook_rebuilds_the_lecture_top_to_bottom(built, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    folder, _, text, _ = built
    copy = tmp_path / "lecture"  # the notebook redraws figures: not in the shared folder
    shutil.copytree(folder, copy)
    notebook = nbformat.read(copy / "lecture.ipynb", as_version=4)
    nbformat.validate(notebook)
    markdown = "".join(c.source + "\n\n" for c in notebook.cells if c.cell_type == "markdown")
    assert text == markdown + text[len(markdown) :]  # the index's text, cell by cell,
    assert text[len(markdown) :].startswith("## All files")  # but for the list of files
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert len(code) >= 8 and all("symgrad" in c.source for c in code)
    root = str(Path(symgrad.__file__).parents[1])  # the kernel imports this symgrad
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(copy)}}
    ).execute()
    shown = [_outputs(c) for c in code]
    assert "j &= 3 v = 21" in shown[0] and "u &= b c = 6" in shown[0]
    dz = float(re.search(r"\(a - y, (\S+)\)", shown[1])[1])
    assert dz == pytest.approx(1 / (1 + math.exp(1.4)) - 1)  # σ(0.5 - 2 + 0.1) - 1
    trained = re.findall(r"loss ([\d.]+) -> ([\d.]+), training accuracy ([\d.]+)%", "".join(shown))
    written = re.findall(
        r"the loss goes from \$([\d.]+)\$ to \$([\d.]+)\$; training accuracy \$([\d.]+)\\%\$",
        text,
    )
    assert len(trained) == 2 and trained == written
    assert "passed: 3 of 3 correct" in "".join(shown) and "passed: 5 of 5 correct" in "".join(shown)
    assert "2*w - 6" in "".join(shown)  # L(w) = (w - 3)² + 1 by hand
    study = text.split("## 4.")[1].split("## 5.")[0]
    table = next(s for s in shown if "| learning rate" in s)
    rows = [line for line in table.splitlines() if line.startswith("| $")]
    assert len(rows) == 4 and rows == [line for line in study.splitlines() if line[:3] == "| $"]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_the_latex_document_compiles(built, tmp_path):
    folder, _, text, _ = built
    tex = (folder / "lecture.tex").read_text(encoding="utf-8")
    sections = [line for line in text.split("## All files")[0].splitlines() if line[:3] == "## "]
    assert tex.count("\\section*{") == len(sections) >= 5
    for name in FIGURES:
        assert f"]{{{name}.png}}" in tex
    assert ("]{toy_graph.pdf}" in tex) == GRAPHVIZ
    run = subprocess.run(
        [
            "pdflatex",
            "-interaction=nonstopmode",
            "-halt-on-error",
            f"-output-directory={tmp_path}",
            "lecture.tex",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert (tmp_path / "lecture.pdf").read_bytes().startswith(b"%PDF")
    log = (tmp_path / "lecture.log").read_text(errors="replace")
    assert "Missing character" not in log and "undefined" not in log.lower()


def test_logistic_regression_single_example_and_equations(built):
    folder = built[0]
    single = (folder / "logistic_single_example.md").read_text(encoding="utf-8")
    assert r"| $\frac{\partial L}{\partial z}$ | $a - y$ |" in single
    equations = (folder / "logistic_regression_equations.md").read_text(encoding="utf-8")
    assert r"$dW = \frac{1}{m} dZ X^{T}$" in equations


def test_gradient_checks_say_correct(built):
    folder, _, text, _ = built
    for name in ("logistic_regression_check.md", "network_check.md"):
        table = (folder / name).read_text(encoding="utf-8")
        rows = [line for line in table.splitlines() if line.startswith("| W")]
        assert rows and all("| correct |" in row for row in rows)
        assert "passed:" in table and "wrong" not in table
    assert text.count("passed:") == 2


def test_training_accuracy_is_reported(built):
    text = built[2]
    accuracies = [float(a) for a in re.findall(r"training accuracy \$([\d.]+)\\%\$", text)]
    assert len(accuracies) == 2 and min(accuracies) > 90


def test_the_learning_rate_section(built):
    text = built[2].split("## 4.")[1]
    assert "L'(w) = 2 w - 6" in text
    assert "too small" in text and "| good |" in text and "diverges (epoch 3)" in text


def test_generated_code_lives_beside_the_index(built):
    folder, _, text, _ = built
    modules = sorted(p.name for p in (folder / "code").glob("*.py"))
    assert "mlp_30_1_sigmoid_bce_gd.py" in modules
    assert "mlp_2_16_1_relu_sigmoid_bce_gd.py" in modules
    for name in modules:
        assert f"(code/{name})" in text


def test_progress_lines(built):
    lines = built[3]
    assert [line[:5] for line in lines if line.startswith("[")] == [
        "[1/5]",
        "[2/5]",
        "[3/5]",
        "[4/5]",
        "[5/5]",
    ]
    assert lines[-1].startswith("wrote ")


def test_cli_lecture_passes_its_options(monkeypatch, tmp_path):
    seen = {}

    def fake(folder, *, quick):
        seen.update(folder=folder, quick=quick)

    monkeypatch.setattr("symgrad.apps.lecture.build_lecture", fake)
    assert main(["lecture", "-o", str(tmp_path), "--quick"]) == 0
    assert seen == {"folder": str(tmp_path), "quick": True}
    assert main(["lecture"]) == 0
    assert seen == {"folder": "generated/lecture", "quick": False}


def test_section_3_shows_the_backward_pass_in_numbers(built):
    folder, _, text, lines = built
    part = text.split("## 3.")[1].split("## 4.")[0]
    numbers = part.split("### The backward pass in numbers")[1]
    assert r"dW^{[1]} = \frac{1}{m} dZ^{[1]} X^{T} = \left[\begin{array}{rr}" in numbers
    assert "[network_trace.md](network_trace.md)" in numbers
    written = (folder / "network_trace.md").read_text(encoding="utf-8")
    assert numbers.strip()[-200:] in written  # the same trace, in a file of its own
    assert any("backward pass in numbers" in line for line in lines)
