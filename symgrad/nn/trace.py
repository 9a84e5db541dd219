"""Public surface: :func:`explain`, a formula's chain rule at a point or a network's
backward pass in numbers.

A formula goes to :func:`symgrad.show.trace.explain`. A network is derived
(:func:`~symgrad.derive.backprop.derive`), evaluated on a batch by the NumPy oracle
(:func:`~symgrad.check.oracle.reference`, which checks the data and parameters) and
printed by :class:`~symgrad.show.trace.network.NetworkTrace`; without data it takes a small
seeded random batch, without parameters the network's seeded initialization (where
training starts).
"""

from __future__ import annotations

import numpy as np

from symgrad.errors import SymgradError
from symgrad.model.network import Network
from symgrad.model.program import Program

BATCH = 2  # examples in the random batch a network is explained on by default
MAX_SHOWN = 32  # rows or columns of a matrix: a trace is read, larger ones would not be


def explain(subject, at=None, *, params=None, X=None, y=None, batch=BATCH, seed=0, **options):
    """The lecture's trace: of a formula at the point ``at``, or of a network on a batch.

    Args:
        subject: a formula (anything :func:`symgrad.show.trace.explain` takes) or a
            :class:`~symgrad.model.network.Network`.
        at: a formula's point (name -> value); not for a network.
        params: a network's parameters by ident (``W1``, ``b1``, ...); default: its
            initialization with ``seed`` (:func:`~symgrad.model.data.init_params`).
        X, y: a network's data, rows = examples, and labels; default: ``batch`` seeded
            random examples with labels of the loss's kind.
        batch, seed: the size and seed of that default batch (the seed also of the
            default parameters).
        options: passed on for a formula (``output=``).

    Returns:
        A :class:`~symgrad.show.trace.Trace` for a formula, a
        :class:`~symgrad.show.trace.network.NetworkTrace` for a network; each prints
        itself with ``.text()``, ``.markdown()`` and ``.latex()``.

    Raises:
        SymgradError: a program that is not a network, a point given for a network,
            network options given for a formula, data of the wrong shape or kind.

    >>> from symgrad.nn import Network, mlp
    >>> net = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
    >>> print(explain(net).text().splitlines()[0])
    Network 2-3-1, relu/sigmoid, bce; 2 random examples (seed 0); initial parameters (seed 0)
    """
    if isinstance(subject, Program):
        if at is not None or options:
            raise SymgradError("a network is explained on data and parameters, not at a point")
        return explain_network(subject, params=params, X=X, y=y, batch=batch, seed=seed)
    if params is not None or X is not None or y is not None:
        raise SymgradError("params, X and y are for a network; a formula takes at=")
    from symgrad.show.trace import explain as explain_formula

    return explain_formula(subject, at, **options)


def explain_network(network, *, params=None, X=None, y=None, batch=BATCH, seed=0):
    """The :class:`~symgrad.show.trace.network.NetworkTrace` of ``network``: see
    :func:`explain`."""
    from symgrad.check.oracle import reference
    from symgrad.derive.backprop import derive
    from symgrad.model.data import init_params, to_columns
    from symgrad.show.trace.network import NetworkTrace

    if not isinstance(network, Network):
        raise SymgradError("the backward pass in numbers is for a Network (layers and a loss)")
    widest = max([network.layers[0].n_in, *(layer.n_out for layer in network.layers)])
    if widest > MAX_SHOWN:
        raise SymgradError(
            f"the backward pass in numbers prints every matrix: layers of at most {MAX_SHOWN} "
            f"units, but {network.describe()} has {widest}"
        )
    if (X is None) != (y is None):
        raise SymgradError("give both X and y (or neither, for a random batch)")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise SymgradError(f"the seed is a whole number from 0 to {2**32 - 1}, got {seed!r}")
    data = "given"
    if X is None:
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_SHOWN:
            raise SymgradError(f"a batch of 1 to {MAX_SHOWN} examples, got {batch!r}")
        rng = np.random.default_rng([seed, 1])  # not the stream init_params draws from
        X = rng.standard_normal((batch, network.layers[0].n_in))
        y = network.labels.sample(rng, batch, network.classes)
        data = "random"
    columns, labels = to_columns(network, X, y)
    m = columns.shape[1]
    if m > MAX_SHOWN:
        raise SymgradError(f"a trace shows at most {MAX_SHOWN} examples, got {m}")
    data = f"{m} {data} example{'s' * (m != 1)}" + (f" (seed {seed})" if data == "random" else "")
    if params is None:
        params, start = init_params(network, seed=seed), f"initial parameters (seed {seed})"
    else:
        start = "the given parameters"
    backprop = derive(network)
    found = reference(backprop, params, X, y)
    leaves = {
        network.X.ident: columns,
        network.Y.ident: labels,
        **{p.ident: np.asarray(params[p.ident], dtype=float) for p in network.params},
    }
    about = f"Network {network.describe()}; {data}; {start}"
    return NetworkTrace(backprop, leaves, found.loss, found.forward, found.backward, about)
