"""Show stage: a trace's computation graph as an object a notebook draws inline.

:func:`graph` returns a :class:`GraphPicture`: Jupyter shows its ``_repr_svg_`` (Graphviz's
SVG of :func:`symgrad.show.draw.to_dot`), a console its one-line repr; ``save`` writes it as
:func:`symgrad.show.draw.render` does. Without the ``graphviz`` package or Graphviz's ``dot``
program the notebook falls back to the repr. Imports :mod:`symgrad.show.draw` and
:mod:`symgrad.show.trace`; ``graphviz`` only inside :meth:`GraphPicture.svg`.
"""

from __future__ import annotations

from collections.abc import Mapping

from symgrad.show.draw import MissingDependencyError, render, to_dot
from symgrad.show.trace import Trace, explain


class GraphPicture:
    """The graph of a :class:`~symgrad.show.trace.Trace`, values and gradients on its nodes."""

    def __init__(self, trace: Trace):
        self.trace = trace
        #: the Graphviz DOT text
        self.dot = to_dot(trace)

    def svg(self) -> str:
        """The picture as SVG text.

        Raises:
            MissingDependencyError: the ``graphviz`` package or the ``dot`` program is missing.
        """
        try:
            import graphviz
        except ImportError:
            raise MissingDependencyError(
                'drawing the graph needs the graphviz package: pip install "symgrad[graph]"'
            ) from None
        try:
            return graphviz.Source(self.dot).pipe(format="svg").decode("utf-8")
        except graphviz.ExecutableNotFound:
            raise MissingDependencyError(
                "drawing the graph needs Graphviz's dot program: install Graphviz"
            ) from None

    def _repr_svg_(self) -> str | None:
        try:
            return self.svg()
        except MissingDependencyError:
            return None  # the notebook shows the repr instead

    def save(self, path):
        """Write the picture to ``path`` (.dot, .svg, .png or .pdf); returns the path."""
        return render(self.trace, path)

    def __repr__(self) -> str:
        steps = len(self.trace.steps)
        return (
            f"<GraphPicture of {self.trace.output}: {len(self.trace.point)} inputs, "
            f"{steps} step{'s' * (steps != 1)}>"
        )


def graph(source, at: Mapping | None = None) -> GraphPicture:
    """The computation graph of a formula at a point (or of a trace), to show or save.

    Args:
        source: a :class:`~symgrad.show.trace.Trace`, or a formula as
            :func:`~symgrad.show.trace.explain` takes it, with its point ``at``.

    >>> graph("j = 3*(a + b*c)", at={"a": 1, "b": 2, "c": 3})
    <GraphPicture of j: 3 inputs, 3 steps>
    """
    return (
        source
        if isinstance(source, GraphPicture)
        else GraphPicture(source if isinstance(source, Trace) else explain(source, at or {}))
    )
