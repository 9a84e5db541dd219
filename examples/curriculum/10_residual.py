"""10. A residual block: out = A + f(A), with f(A) = W₂ ReLU(W₁ A + b₁) + b₂.

Run from the repository:   python examples/curriculum/10_residual.py
The skip connection adds the upstream gradient itself to dA: dA = dout + W₁ᵀ dZ.
"""

import symgrad.nn as nn
from symgrad import relu
from symgrad.check import check

A = nn.data("A", 4)
W1, b1 = nn.param("W_1", (4, 4)), nn.param("b_1", 4)
W2, b2 = nn.param("W_2", (4, 4)), nn.param("b_2", 4)

Z = nn.name("Z", W1 @ A + b1)
H = nn.name("H", nn.apply(relu, Z), adjoint=False)
out = nn.name("out", A + (W2 @ H + b2), adjoint=False)
block = nn.Program(output=out, upstream=nn.upstream("dout", out))
print(nn.derive(block, wrt=[A, W1, b1, W2, b2]).text(), end="\n\n")
report = check(block, wrt=[A, W1, b1, W2, b2])
print(report)
assert report.all_correct
