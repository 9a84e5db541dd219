"""8. Batch normalization in training mode: per-feature batch mean and variance, γ and β.

Run from the repository:   python examples/curriculum/08_batch_norm.py
Naming μ, σ² (var), σ and X̂ gives the staged backward pass of Ioffe and Szegedy (2015):
dX̂, dσ, dσ², dμ, then dX from the three paths through which X reaches the output.
"""

import sympy

import symgrad.nn as nn
from symgrad.check import check

X = nn.data("X", 3)
gamma = nn.param("gamma", 3, init="ones")
beta = nn.param("beta", 3)
eps = sympy.Rational(1, 10**5)

mu = nn.name("mu", nn.mean(X, "examples"))
var = nn.name("var", nn.mean((X - mu) ** 2, "examples"))
sigma = nn.name("sigma", nn.sqrt(var + eps))
X_hat = nn.name("X_hat", (X - mu) / sigma)
out = nn.name("out", gamma * X_hat + beta, adjoint=False)
layer = nn.Program(output=out, upstream=nn.upstream("dout", out))
print(nn.derive(layer, wrt=[X, gamma, beta]).text(), end="\n\n")
report = check(layer, wrt=[X, gamma, beta])
print(report)
assert report.all_correct
