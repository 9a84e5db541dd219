"""The lecture's toy graph j = 3(a + b·c): forward and backward propagation, step by step.

Run from the repository:   python examples/toy_graph.py [OUT]
OUT defaults to $SYMGRAD_EXAMPLES_DIR or generated/examples. Writes OUT/toy_graph.md (the
trace as Markdown tables), OUT/toy_graph.dot and, when Graphviz's dot is installed,
OUT/toy_graph.svg.
"""

import os
import sys
from pathlib import Path

import symgrad
from symgrad.show.draw import MissingDependencyError, render

OUT = "generated/examples"  # the default output folder
out = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SYMGRAD_EXAMPLES_DIR", OUT))
out.mkdir(parents=True, exist_ok=True)

# One operation per step, named as in the lecture: u = b·c, v = a + u, j = 3·v.
trace = symgrad.explain("u = b*c; v = a + u; j = 3*v", at={"a": 1, "b": 2, "c": 3})
print(trace.text())

# forward: u = 6, v = 7, j = 21; backward: ∂j/∂a = 3, ∂j/∂b = 3·1·3 = 9, ∂j/∂c = 3·1·2 = 6
assert [s.value for s in trace.steps] == [6, 7, 21]
assert [trace.gradients[x][1] for x in "abc"] == [3, 9, 6]

(out / "toy_graph.md").write_text("# j = 3(a + b·c)\n\n" + trace.markdown(), encoding="utf-8")
print(f"\nwrote {out / 'toy_graph.md'} and {render(trace, out / 'toy_graph.dot')}")
try:
    print(f"wrote {render(trace, out / 'toy_graph.svg')}")
except MissingDependencyError as error:  # the graphviz package or the dot program is missing
    print(f"no SVG: {error}")
