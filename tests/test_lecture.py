"""The rebuilt lecture: one quick build per session into ``<session tmp>/lecture``.

The index must link every file written, carry the lecture's math and numbers, and the checks
must say "correct". The code folder is the one test_study compiles into, so the 2-16-1
network is compiled once per session.
"""

import re

import pytest

pytest.importorskip("matplotlib")

from symgrad.apps.lecture import build_lecture  # noqa: E402
from symgrad.cli import main  # noqa: E402


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
    for name in (
        "logistic_regression",
        "network",
        "network_decision_boundary",
        "learning_rate_study",
        "descent_1d",
    ):
        assert (folder / f"{name}.png").read_bytes().startswith(b"\x89PNG")
        assert b"<svg" in (folder / f"{name}.svg").read_bytes()


def test_toy_graph_trace_and_picture(built):
    folder, _, text, _ = built
    trace = (folder / "toy_graph_trace.md").read_text(encoding="utf-8")
    assert "| $j$ | $3 v$ | $21$ |" in trace
    dot = (folder / "toy_graph.dot").read_text(encoding="utf-8")
    assert "grad 9" in dot and "grad 6" in dot
    if not (folder / "toy_graph.svg").exists():
        assert "SVG was not drawn" in text


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
