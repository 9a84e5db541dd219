"""Apps stage: the lecture's network's backward pass in numbers, a part of section 3.

What the toy graph's trace is for ``j = 3(a + b c)``, for the network: two examples of the
training data (one of each class) at the parameters training starts from, every forward
and backward quantity as a matrix next to its equation (:func:`symgrad.nn.trace.explain_network`),
in the index and in a file of its own.
"""

from __future__ import annotations

import numpy as np

from symgrad.apps.lecture.book import Book, link
from symgrad.nn.trace import explain_network


def backward_in_numbers(book: Book, network, data) -> None:
    """Add the trace of ``network`` on the first example of each class of ``data``."""
    book.progress("      the backward pass in numbers, on two examples")
    rows = [int(np.flatnonzero(data.y == label)[0]) for label in np.unique(data.y)[:2]]
    trace = explain_network(network, X=data.X[rows], y=data.y[rows], seed=0)
    file = book.write("network_trace.md", "# The backward pass in numbers\n\n" + trace.markdown())
    book.add(
        "### The backward pass in numbers",
        "",
        f"The same equations on a batch of $m = {len(rows)}$ examples, the first of each "
        f"class (rows {', '.join(map(str, rows))} of the data), at the initial parameters "
        "training starts from: every quantity of the forward and the backward pass, as the "
        "toy graph's trace gives them for $j = 3(a + b c)$. The gradients $dW$, $db$ are "
        "those of the loss on these two examples. Also in " + link(file) + ".",
        "",
        trace.markdown(),
    )
