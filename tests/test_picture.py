"""The graph picture a notebook draws inline (symgrad.show.picture): its SVG, its repr, and
its fall-back to the repr without Graphviz."""

import shutil
import sys

import pytest

import symgrad
from symgrad.show.draw import to_dot
from symgrad.show.picture import GraphPicture
from symgrad.show.trace import explain

POINT = {"a": 1, "b": 2, "c": 3}


def test_the_picture_is_the_traces_dot_graph(tmp_path):
    picture = symgrad.graph("j = 3*(a + b*c)", at=POINT)
    trace = explain("j = 3*(a + b*c)", POINT)
    assert picture.dot == to_dot(trace)
    assert symgrad.graph(trace).dot == picture.dot and symgrad.graph(picture) is picture
    assert repr(picture) == "<GraphPicture of j: 3 inputs, 3 steps>"
    assert picture.save(tmp_path / "g.dot").read_text() == picture.dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot program")
def test_a_notebook_gets_inline_svg():
    pytest.importorskip("graphviz")
    svg = symgrad.graph("j = 3*(a + b*c)", at=POINT)._repr_svg_()
    # the lecture's numbers on the nodes: u = b·c = 6, v = a + u = 7, j = 21, ∂j/∂b = 9
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for text in ["value 6", "value 7", "value 21", "grad 9"]:
        assert text in svg


def test_without_graphviz_the_notebook_shows_the_repr(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz fails
    picture = GraphPicture(explain("y = x**2", {"x": 3}))
    assert picture._repr_svg_() is None
    with pytest.raises(symgrad.errors.SymgradError, match="needs the graphviz package"):
        picture.svg()
