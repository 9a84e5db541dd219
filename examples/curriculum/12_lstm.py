"""12. One LSTM cell step with gates i, f, o and candidate g, given the upstream gradient of
the new hidden state.

Run from the repository:   python examples/curriculum/12_lstm.py
c = f ⊙ c_prev + i ⊙ g and h = o ⊙ tanh(c): the gradient reaches c_prev through f, and each
gate through its own σ′ = σ(1 − σ) or tanh′ = 1 − tanh².
"""

import symgrad.nn as nn
from symgrad import sigmoid
from symgrad.check import check

x, h_prev, c_prev = nn.data("x", 2), nn.data("h_prev", 3), nn.data("c_prev", 3)
weights = {}
gates = {}
for gate, act in (("i", sigmoid), ("f", sigmoid), ("o", sigmoid), ("g", nn.tanh)):
    W, U, b = nn.param(f"W_{gate}", (3, 2)), nn.param(f"U_{gate}", (3, 3)), nn.param(f"b_{gate}", 3)
    weights.update({W.ident: W, U.ident: U, b.ident: b})
    pre = W @ x + U @ h_prev + b
    gates[gate] = nn.name(gate, act(pre) if act is nn.tanh else nn.apply(act, pre))
c = nn.name("c", gates["f"] * c_prev + gates["i"] * gates["g"])
h = nn.name("h", gates["o"] * nn.tanh(c), adjoint=False)
cell = nn.Program(output=h, upstream=nn.upstream("dh", h))
targets = [x, h_prev, c_prev, *weights.values()]
print(nn.derive(cell, wrt=targets).text(), end="\n\n")
report = check(cell, wrt=targets)
print(report)
assert report.all_correct
