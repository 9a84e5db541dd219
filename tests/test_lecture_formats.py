"""The lecture's other outputs, on small inputs: Markdown to LaTeX, cells to a notebook.

Expected LaTeX is written by hand; a document with every character the converter maps is
compiled where pdflatex exists. The notebook is checked against nbformat's schema.
"""

import json
import shutil
import subprocess

import pytest

from symgrad.apps.lecture.latex import _UNICODE, document, escape, inline
from symgrad.apps.lecture.notebook import notebook


def test_text_is_escaped_and_unicode_becomes_commands():
    assert escape("50% of a_b & {c} #1 ~ ^ $ \\") == (
        r"50\% of a\_b \& \{c\} \#1 \~{} \^{} \$ \textbackslash{}"
    )
    assert escape("x < y | z > w") == r"x \textless{} y \textbar{} z \textgreater{} w"
    assert escape("α·w₁ — ‖x‖²") == (
        r"\ensuremath{\alpha}\ensuremath{\cdot}w\ensuremath{_{1}} --- "
        r"\ensuremath{\|}x\ensuremath{\|}\ensuremath{^{2}}"
    )
    assert escape("Δ Α ς é") == r"\ensuremath{\Delta} A \ensuremath{\varsigma} é"


def test_inline_markdown():
    assert inline("$a_1 \\% b$ and a_1") == r"$a_1 \% b$ and a\_1"
    assert inline("*it* **bold `c_d`**") == r"\emph{it} \textbf{bold \texttt{c\_d}}"
    assert inline("[x_y.md](x_y.md), [the notes](n.md)") == (
        r"\texttt{x\_y.md}, the notes (\texttt{n.md})"
    )
    assert inline("so $$x^2$$ here") == r"so \[x^2\] here"


def test_blocks(tmp_path):
    (tmp_path / "pic.png").write_bytes(b"")
    markdown = "\n".join(
        [
            "# The title",
            "## 1. Part $j$",
            "Some text",
            "on two lines.",
            "",
            "- one $a$",
            "  continued",
            "- two",
            "",
            "| name | value |",
            "|---|--:|",
            "| $|x|$ | 1.5 |",
            "",
            "$$",
            r"\sum_i x_i",
            "$$",
            "![A picture](pic.svg)",
            "![Missing](gone.svg)",
        ]
    )
    body = document(markdown, tmp_path).split("\\begin{document}\n\n")[1]
    assert body.split("\n\n") == [
        "\\title{The title}\n\\author{}\n\\date{}\n\\maketitle",
        r"\section*{1. Part $j$}",
        "Some text\non two lines.",
        "\\begin{itemize}\n\\item one $a$ continued\n\\item two\n\\end{itemize}",
        "\\begin{center}\\small\n\\begin{fitwidth}\n\\begin{tabular}{lr}\n\\hline\n"
        "{}name & value \\\\\n\\hline\n{}$|x|$ & 1.5 \\\\\n\\hline\n\\end{tabular}\n"
        "\\end{fitwidth}\n\\end{center}",
        "\\[\n\\sum_i x_i\n\\]",
        "\\begin{center}\n\\includegraphics[width=0.85\\linewidth,height=0.4\\textheight,"
        "keepaspectratio]{pic.png}\\\\\n\\small\\emph{A picture}\n\\end{center}",
        r"(Missing: \texttt{gone.svg})",
        "\\end{document}\n",
    ]


def test_fenced_code_numbered_lists_and_quotes(tmp_path):
    markdown = (
        "```text\nZ[1] = [[1.5,  -2]\n\n        [0,   3]]  # α\n```\n1. one\n2. [two]\n\n> said"
    )
    body = document(markdown, tmp_path).split("\\begin{document}\n\n")[1]
    assert body.split("\n\n") == [
        "\\begin{flushleft}\\small\\ttfamily\n"
        "\\mbox{}Z[1]~=~[[1.5,~~-2]\\\\\n\\mbox{}\\\\\n"
        "\\mbox{}~~~~~~~~[0,~~~3]]~~\\#~\\ensuremath{\\alpha}\n\\end{flushleft}",
        "\\begin{enumerate}\n\\item one\n\\item {}[two]\n\\end{enumerate}",
        "\\begin{quote}\nsaid\n\\end{quote}",
        "\\end{document}\n",
    ]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_every_block_and_character_compiles(tmp_path):
    greek = "αβγδεζηθικλμνξοπρςστυφχψω ΓΔΘΛΞΠΣΥΦΨΩ ΑΒΕ"
    text = "Text: " + " ".join(_UNICODE) + " " + greek + " x₀₁₂₃₄₅₆₇₈₉ y⁰¹²³⁴⁵⁶⁷⁸⁹ é ü"
    text += " " + " ".join("\\{}&%#_^~$<>|") + " **bold `a_b`** *it* [n.md](n.md)"
    blocks = [
        "# Title α",
        "## Section $x$",
        text,
        "$\\mathbb{1}[z > 0] \\in \\mathbb{R}$, $$\\begin{bmatrix} 1 & 2 \\end{bmatrix}$$",
        "| a | [b] |\n|---|--:|\n| [1, 2] | ‖x‖ |\n| $|y|$ | — |",
        "```\n[[1, 2],\n\n [3, 4]]  σ′(z) ← a_b {c} % #\n```",
        "- one\n  more\n- [two]\n\n1. first\n2. second\n\n> a quote",
    ]
    tex = tmp_path / "chars.tex"
    tex.write_text(document("\n\n".join(blocks), tmp_path))
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "chars.pdf").read_bytes().startswith(b"%PDF")
    assert "Missing character" not in (tmp_path / "chars.log").read_text(errors="replace")


def test_notebook_cells_in_order():
    cells = [("markdown", "# Title\n\n$x$"), ("code", "x = 1\nx")]
    nb = json.loads(notebook(cells))
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]] == cells
    assert nb["cells"][1]["outputs"] == [] and nb["cells"][1]["execution_count"] is None
    assert len({c["id"] for c in nb["cells"]}) == 2
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(notebook(cells), as_version=4))
