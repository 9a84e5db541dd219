"""Check a formula of your own: its derived gradient against finite differences and exact values.

Run from the repository:   python examples/gradient_check.py [OUT]
OUT defaults to $SYMGRAD_EXAMPLES_DIR or generated/examples; the compiled formula goes to
OUT/code/ and the report to OUT/gradient_check.md.
"""

import os
import sys
from pathlib import Path

import sympy

import symgrad
from symgrad.check import check

OUT = "generated/examples"  # the default output folder
out = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SYMGRAD_EXAMPLES_DIR", OUT))
out.mkdir(parents=True, exist_ok=True)

# A formula a teacher might write: a softplus of a product plus a damped oscillation.
a, b, c = sympy.symbols("a b c")
f = sympy.log(1 + sympy.exp(a * b)) + sympy.exp(-c) * sympy.sin(a * c)
for x, d in zip((a, b, c), symgrad.grad(f, (a, b, c)), strict=True):
    print(f"∂f/∂{x} = {d}")

report = check(f, at={"a": 0.5, "b": -2, "c": 1.25}, folder=out / "code")
print(report.text())
(out / "gradient_check.md").write_text(report.markdown() + "\n", encoding="utf-8")
assert report.passed

# The same check from text, as in the lecture: the single-example logistic loss.
loss = "-(y*log(sigmoid(w*x + b)) + (1 - y)*log(1 - sigmoid(w*x + b)))"
report = check(loss, at={"w": 0.5, "x": 2, "b": -1, "y": 1}, name="L", folder=out / "code")
print(report.text())
assert report.passed
