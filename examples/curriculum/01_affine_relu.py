"""1. An affine layer, then affine + ReLU: the backward pass of one layer given ``dout``.

Run from the repository:   python examples/curriculum/01_affine_relu.py
Course exercises ask for dx, dw, db from the upstream gradient dout; in the lecture's layout
(one column per example) out = W X + b, so dX = Wᵀ dout, dW = dout Xᵀ, db = Σᵢ dout⁽ⁱ⁾.
"""

import symgrad.nn as nn
from symgrad import relu
from symgrad.check import check

X = nn.data("X", 4)
W = nn.param("W", (3, 4))
b = nn.param("b", 3)

affine = nn.name("out", W @ X + b, adjoint=False)
layer = nn.Program(output=affine, upstream=nn.upstream("dout", affine))
print(nn.derive(layer, wrt=[X, W, b]).text(), end="\n\n")
report = check(layer, wrt=[X, W, b])
print(report)
assert report.all_correct

Z = nn.name("Z", W @ X + b, adjoint=False)
out = nn.name("out", nn.apply(relu, Z), adjoint=False)
layer = nn.Program(output=out, upstream=nn.upstream("dout", out))
print(nn.derive(layer, wrt=[X, W, b]).text(), end="\n\n")
report = check(layer, wrt=[X, W, b])
print(report)
assert report.all_correct
