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


def _edge_list(dot: str) -> list:
    """(tail, head, label) in the order written; the label of a subtracted or divisor edge."""
    found = re.findall(r'^\s*(\w+) -> (\w+)(?: \[xlabel="([^"]*)"\])?;', dot, flags=re.M)
    return [(tail, head, label) for tail, head, label in found]


def _name(label: str) -> str:
    """The name a record shows: ``input b`` -> b, ``u = b·c`` -> u."""
    return label.strip("{ ").split(" | ")[0].removeprefix("input ").split(" = ")[0]


def _operands(dot: str, step: str) -> tuple[str, list]:
    """The operation of ``step`` and what feeds it, in order: record names or numbers."""
    labels = _labels(dot)
    ids = {_name(v): k for k, v in labels.items() if v.startswith("{")}
    names = {k: _name(v) if v.startswith("{") else v for k, v in labels.items()}
    op = f"{ids[step]}_op"
    feeds = [(names[tail], label) for tail, head, label in _edge_list(dot) if head == op]
    return labels[op], feeds


def test_dot_is_a_top_to_bottom_digraph(lecture):
    dot = to_dot(lecture)
    assert dot.startswith("digraph trace {\n  rankdir=TB;\n")
    assert to_dot(lecture, rankdir="LR").startswith("digraph trace {\n  rankdir=LR;\n")
    assert dot.rstrip().endswith("}")
    assert dot.count("{") - dot.count("\\{") == dot.count("}") - dot.count("\\}")


def test_one_record_per_input_and_step_with_value_and_grad(lecture):
    labels = _labels(to_dot(lecture))
    records = sorted(v for v in labels.values() if v.startswith("{"))
    assert records == sorted(
        [
            "{ input a | value 1 | grad 3 }",
            "{ input b | value 2 | grad 9 }",
            "{ input c | value 3 | grad 6 }",
            "{ u = b·c | value 6 | grad 3 }",
            "{ v = a + u | value 7 | grad 3 }",
            "{ j = 3·v | value 21 | grad 1 }",
        ]
    )


def test_operation_nodes_and_edges(lecture):
    dot = to_dot(lecture)
    labels = _labels(dot)
    by_name = {_name(v): k for k, v in labels.items() if v.startswith("{")}
    ops = {k: v for k, v in labels.items() if k.endswith("_op")}
    assert sorted(ops.values()) == ["+", "·", "·"]
    edges = _edges(dot)
    u, v, j = by_name["u"], by_name["v"], by_name["j"]
    assert {(by_name["b"], f"{u}_op"), (by_name["c"], f"{u}_op"), (f"{u}_op", u)} <= edges
    assert {(by_name["a"], f"{v}_op"), (u, f"{v}_op"), (f"{v}_op", v)} <= edges
    assert {(v, f"{j}_op"), (f"{j}_op", j)} <= edges
    assert labels[f"{v}_op"] == "+"
    # the 3 of 3·v is a node of its own, feeding j's operation beside it
    numbers = {k: v for k, v in labels.items() if not v.startswith("{") and k not in ops}
    assert numbers == {f"{j}_c0": "3"}
    assert (f"{j}_c0", f"{j}_op") in edges
    assert f"{{ rank=same; {j}_c0; {j}_op; }}" in dot
    assert len(edges) == 2 + 1 + 2 + 1 + 2 + 1


def test_record_special_characters_are_escaped():
    assert draw._escape('a|b{c}<d>"e"\\') == 'a\\|b\\{c\\}\\<d\\>\\"e\\"\\\\'
    odd = sympy.Symbol('x<1>|"{q}"')
    dot = to_dot(explain([("f", 2 * odd)], {odd: 1}))
    assert '{ input x\\<1\\>\\|\\"\\{q\\}\\" | value 1 | grad 2 }' in dot
    for line in dot.splitlines():
        if "label=" in line:
            label = re.search(r'label="(.*)"', line).group(1)
            assert re.search(r'(?<!\\)"', label) is None, line


def test_sigmoid_and_division_operations():
    t = explain("a = sigmoid(z); L = 1/a - a/z", {"z": 1})
    ops = {v for k, v in _labels(to_dot(t)).items() if k.endswith("_op")}
    assert "σ" in ops and "/" in ops


def test_subtraction_is_a_minus_fed_by_its_operands_in_order():
    dot = to_dot(explain("q = 1 - y; f = a - b - c", {"y": 1, "a": 5, "b": 1, "c": 2}))
    assert _operands(dot, "q") == ("−", [("1", ""), ("y", "")])
    assert _operands(dot, "f") == ("−", [("a", ""), ("b", ""), ("c", "")])
    assert "ordering=in" in dot  # operands drawn left to right in that order


def test_terms_subtracted_from_nothing_are_marked_on_their_edges():
    dot = to_dot(explain("L = -p - t", {"p": 1, "t": 2}))
    assert _operands(dot, "L") == ("+", [("p", "(−)"), ("t", "(−)")])
    dot = to_dot(explain("f = a + b - c", {"a": 1, "b": 2, "c": 3}))
    assert _operands(dot, "f") == ("+", [("a", ""), ("b", ""), ("c", "(−)")])


def test_division_is_a_slash_fed_by_numerator_then_denominator():
    dot = to_dot(explain("f = a/b; g = 1/a; h = 2/(a*b)", {"a": 2, "b": 4}))
    assert _operands(dot, "f") == ("/", [("a", ""), ("b", "")])
    assert _operands(dot, "g") == ("/", [("1", ""), ("a", "")])
    assert _operands(dot, "h")[0] == "/" and _operands(dot, "h")[1][0] == ("2", "")
    dot = to_dot(explain("f = a*b/c", {"a": 1, "b": 2, "c": 4}))
    assert _operands(dot, "f") == ("·", [("a", ""), ("b", ""), ("c", "(÷)")])


def test_numbers_powers_and_negation():
    dot = to_dot(explain("f = 3*x**2 - x", {"x": 2}))
    ops = sorted(v for k, v in _labels(dot).items() if k.endswith("_op"))
    assert ops == sorted(["^", "·", "−"])
    power = next(s.name for s in explain("f = 3*x**2 - x", {"x": 2}).steps if s.expr.is_Pow)
    assert _operands(dot, str(power)) == ("^", [("x", ""), ("2", "")])
    assert _operands(to_dot(explain("f = -x", {"x": 2})), "f") == ("−", [("x", "")])
    assert _operands(to_dot(explain("f = sqrt(x)", {"x": 4})), "f") == ("√", [("x", "")])


def _logistic():
    from symgrad.apps.lecture.chapters import LOGISTIC, LOGISTIC_POINT

    return explain(LOGISTIC, LOGISTIC_POINT)


def test_logistic_graph_every_operation_has_its_operands():
    dot = to_dot(_logistic())
    labels = _labels(dot)
    ops = {k[: -len("_op")]: v for k, v in labels.items() if k.endswith("_op")}
    fed = {}
    for tail, head, _ in _edge_list(dot):
        fed.setdefault(head, []).append(tail)
    for node, op in ops.items():
        want = {"σ": 1, "log": 1}.get(op, 2)
        assert len(fed[f"{node}_op"]) >= want, (labels[node], op)
    assert 'size="6.5,9"' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_logistic_graph_fits_a_page(tmp_path):
    pytest.importorskip("graphviz")
    svg = render(_logistic(), tmp_path / "logistic.svg").read_text(encoding="utf-8")
    svg = svg.replace("&#45;", "-")
    width, height = map(
        float, re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups()
    )
    assert width <= 6.5 * 72 and height <= 9 * 72  # a page's text block, in points
    assert "grad -0.802184" in svg and "value 1.62042" in svg


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
