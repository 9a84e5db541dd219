"""11. A vanilla RNN, h_t = tanh(W_hh h_{t−1} + W_xh x_t + b), unrolled over 4 steps with
shared weights, and a squared loss on the last state.

Run from the repository:   python examples/curriculum/11_rnn.py
Each shared weight's gradient is a sum over the time steps, printed as that sum.
"""

import symgrad.nn as nn
from symgrad.check import check

W_hh = nn.param("W_hh", (3, 3))
W_xh = nn.param("W_xh", (3, 2))
b = nn.param("b", 3)
h = nn.data("h_0", 3)
for t in range(1, 5):
    x = nn.data(f"x_{t}", 2)
    a = nn.name(f"a_{t}", W_hh @ h + W_xh @ x + b)
    h = nn.name(f"h_{t}", nn.tanh(a))
y = nn.labels("y", 3)
program = nn.Program(nn.mean(nn.sum((h - y) ** 2, "rows") / 2), title="RNN, 4 steps")
print(nn.derive(program).text(), end="\n\n")
report = check(program)
print(report)
assert report.all_correct
