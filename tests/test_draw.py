"""Draw: DOT text for a trace, and rendering with or without Graphviz installed."""

import re
import shutil
import sys

import pytest
import sympy

from symgrad.errors import SymgradError
from symgrad.show import draw
from symgrad.show.draw import MissingDependencyError, render, to_dot
from symgrad.show.trace import explain

LECTURE = "j = 3*(a + b*c)"


@pytest.fixture
def lecture():
    return explain(LECTURE, {"a": 1, "b": 2, "c": 3})


def _labels(dot: str) -> dict:
    """node id -> label text, read back from the DOT source."""
    return dict(re.findall(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"', dot, flags=re.M))


def _edges(dot: str) -> set:
    return set(re.findall(r"^\s*(\w+) -> (\w+);", dot, flags=re.M))


def test_dot_is_a_left_to_right_digraph(lecture):
    dot = to_dot(lecture)
    assert dot.startswith("digraph trace {\n  rankdir=LR;\n")
    assert dot.rstrip().endswith("}")
    assert dot.count("{") - dot.count("\\{") == dot.count("}") - dot.count("\\}")


def test_one_record_per_input_and_step_with_value_and_grad(lecture):
    labels = _labels(to_dot(lecture))
    records = sorted(v for v in labels.values() if v.startswith("{"))
    assert records == sorted(
        [
            "{ a | input | value 1 | grad 3 }",
            "{ b | input | value 2 | grad 9 }",
            "{ c | input | value 3 | grad 6 }",
            "{ u | b·c | value 6 | grad 3 }",
            "{ v | a + u | value 7 | grad 3 }",
            "{ j | 3·v | value 21 | grad 1 }",
        ]
    )


def test_operation_nodes_and_edges(lecture):
    dot = to_dot(lecture)
    labels = _labels(dot)
    by_name = {v.split(" | ")[0].strip("{ "): k for k, v in labels.items() if v.startswith("{")}
    ops = {k: v for k, v in labels.items() if not v.startswith("{")}
    assert sorted(ops.values()) == ["+", "·", "·"]
    edges = _edges(dot)
    u, v, j = by_name["u"], by_name["v"], by_name["j"]
    assert {(by_name["b"], f"{u}_op"), (by_name["c"], f"{u}_op"), (f"{u}_op", u)} <= edges
    assert {(by_name["a"], f"{v}_op"), (u, f"{v}_op"), (f"{v}_op", v)} <= edges
    assert {(v, f"{j}_op"), (f"{j}_op", j)} <= edges
    assert len(edges) == 2 + 1 + 2 + 1 + 1 + 1
    assert labels[f"{v}_op"] == "+"


def test_record_special_characters_are_escaped():
    assert draw._escape('a|b{c}<d>"e"\\') == 'a\\|b\\{c\\}\\<d\\>\\"e\\"\\\\'
    odd = sympy.Symbol('x<1>|"{q}"')
    dot = to_dot(explain([("f", 2 * odd)], {odd: 1}))
    assert '{ x\\<1\\>\\|\\"\\{q\\}\\" | input | value 1 | grad 2 }' in dot
    for line in dot.splitlines():
        if "label=" in line:
            label = re.search(r'label="(.*)"', line).group(1)
            assert re.search(r'(?<!\\)"', label) is None, line


def test_sigmoid_and_division_operations():
    t = explain("a = sigmoid(z); L = 1/a - a/z", {"z": 1})
    ops = {v for k, v in _labels(to_dot(t)).items() if k.endswith("_op")}
    assert "σ" in ops and "/" in ops


def test_render_dot_writes_text(lecture, tmp_path):
    path = render(lecture, tmp_path / "lecture.dot")
    assert path.read_text(encoding="utf-8") == to_dot(lecture)


def test_render_unknown_suffix(lecture, tmp_path):
    with pytest.raises(SymgradError, match=r"\.dot, \.svg, \.png or \.pdf"):
        render(lecture, tmp_path / "lecture.jpg")


def test_missing_graphviz_package(lecture, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now fails
    with pytest.raises(MissingDependencyError) as info:
        render(lecture, tmp_path / "lecture.svg")
    message = str(info.value)
    assert 'pip install "symgrad[graph]"' in message and "\n" not in message
    assert isinstance(info.value, SymgradError)
    assert not (tmp_path / "lecture.svg").exists()


def test_missing_dot_executable(lecture, tmp_path, monkeypatch):
    graphviz = pytest.importorskip("graphviz")

    def no_dot(self, *args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot", "-Tpng"])

    monkeypatch.setattr(graphviz.Source, "pipe", no_dot)
    with pytest.raises(MissingDependencyError) as info:
        render(lecture, tmp_path / "lecture.png")
    message = str(info.value)
    assert "install Graphviz" in message and "apt-get install graphviz" in message
    assert ".dot" in message and "\n" not in message


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_render_svg_for_real(lecture, tmp_path):
    pytest.importorskip("graphviz")
    path = render(lecture, tmp_path / "lecture.svg")
    svg = path.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg
    assert "grad 9" in svg
