"""2. Leaky ReLU and ELU layers, given the upstream gradient ``dout``.

Run from the repository:   python examples/curriculum/02_leaky_relu_elu.py
The local derivative of each activation is its own: leaky ReLU's is 1 or its slope, ELU's
is 1 or α·eˣ (equal to ELU(Z) + α below zero).
"""

import symgrad.nn as nn
from symgrad import leaky_relu
from symgrad.check import check
from symgrad.functions import elu

X = nn.data("X", 3)
W = nn.param("W", (2, 3))
b = nn.param("b", 2)

for activation in (lambda z: leaky_relu(z, 0.1), elu):
    Z = nn.name("Z", W @ X + b, adjoint=False)
    out = nn.name("out", nn.apply(activation, Z), adjoint=False)
    layer = nn.Program(output=out, upstream=nn.upstream("dout", out))
    print(nn.derive(layer, wrt=[X, W, b]).text(), end="\n\n")
    report = check(layer, wrt=[X, W, b])
    print(report)
    assert report.all_correct
