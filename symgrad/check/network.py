"""Check stage: a network's compiled loss gradient against finite differences and NumPy.

Per parameter (and per entry, or along random unit directions for big networks), the
compiled gradient is compared with central differences of the compiled loss; the compiled
loss and gradients are also compared with NumPy's evaluation of the derived equations
(:func:`symgrad.check.oracle.reference`), which catches wrong code for a right derivative.
Without data, a small seeded synthetic data set that fits the network is used.
"""

from __future__ import annotations

import numpy as np

from symgrad.check.kinks import network_kinks
from symgrad.check.oracle import reference
from symgrad.check.report import CheckReport, Row, gradient_row, relative_error, roundoff, value_row
from symgrad.errors import SymgradError
from symgrad.model.data import init_params, to_columns
from symgrad.model.network import Network
from symgrad.paths import DEFAULT_FOLDER
from symgrad.train.compiled import CompiledNetwork


def synthetic_data(network: Network, m: int = 16, *, seed: int = 0) -> tuple:
    """A small seeded data set that fits ``network``: ``X`` (m×n, standard normal) and labels.

    Args:
        network: the network (its input size and loss decide the labels' form).
        m: the number of examples.
        seed: the random generator's seed.

    Returns:
        ``(X_rows, y)``: 0/1 labels for binary cross-entropy, class indices for softmax
        cross-entropy, standard normal targets for MSE (a vector when there is one output).
    """
    rng = np.random.default_rng(seed)
    n, k = network.layers[0].n_in, network.classes
    X = rng.standard_normal((m, n))
    return X, network.loss_fn.labels.sample(rng, m, k)


def compiled_of(target, folder) -> CompiledNetwork:
    """``target`` itself when compiled, else a network's module (gd) in ``folder``."""
    if isinstance(target, CompiledNetwork):
        return target
    return CompiledNetwork(target, "gd", folder=DEFAULT_FOLDER if folder is None else folder)


def examples(net, data, seed: int) -> tuple:
    """``(X_rows, y, words)``: the given pair ``data``, or synthetic examples drawn with
    ``seed`` when it is None; ``words`` says which, for the report.

    Raises:
        SymgradError: ``data`` is not a pair.
    """
    if data is None:
        X_rows, y = synthetic_data(net, seed=seed)
        return X_rows, y, f"{len(X_rows)} synthetic examples (seed {seed})"
    try:
        X_rows, y = data
    except (TypeError, ValueError):
        raise SymgradError("data must be a pair (X_rows, y)") from None
    return X_rows, y, f"{len(X_rows)} examples"


def check_network(target, data, params, h, per_entry, direction, seed, folder) -> CheckReport:
    """:func:`~symgrad.check.check` of a network (or a compiled one) on ``data`` at ``params``."""
    compiled = compiled_of(target, folder)
    net = compiled.network
    X_rows, y, source = examples(net, data, seed)
    idents = [p.ident for p in net.params]
    if params is None:
        params, where = init_params(net, seed=seed), f"the initial parameters (seed {seed})"
    else:
        where = "the given parameters"
    unknown = sorted(set(params) - set(idents))
    if unknown:
        raise SymgradError(
            f"unknown parameter {', '.join(unknown)} (the network's: {', '.join(idents)})"
        )
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    ref = reference(compiled.backprop, params, X_rows, y)  # checks the shapes too
    X, Y = (np.ascontiguousarray(a, dtype=np.float64) for a in to_columns(net, X_rows, y))
    values = [np.ascontiguousarray(params[i]) for i in idents]

    def loss() -> float:
        return float(compiled.function("loss_and_grad")(*values, X, Y, net.l2)[0])

    value, grads = compiled.function("loss_and_grad")(*values, X, Y, net.l2)
    grads = [np.array(g) for g in grads]
    ref_errors = [relative_error(g, ref.gradients[i]) for g, i in zip(grads, idents, strict=True)]
    whole, units, everything = network_kinks(net, params, ref.forward, X, h)
    rows = [value_row("L", float(value), relative_error(value, ref.loss), "the loss")]
    rng = np.random.default_rng(seed)
    for j, p in enumerate(net.params):
        near, unit_note = units[j // 2]
        kink = whole[j // 2] or (unit_note if near.any() else None)
        if direction:
            v = rng.standard_normal(values[j].shape)
            v /= np.linalg.norm(v)
            along = [(j, v)]
            rows.append(_along(p.text + " · v", along, values, grads, loss, h, kink, ref_errors[j]))
            continue
        numeric, noise = central_differences(values[j], loss, h)
        total = float(np.linalg.norm(noise))
        rows.append(
            gradient_row(
                p.text, grads[j], numeric, noise=total, exact_error=ref_errors[j], kink=kink
            )
        )
        for idx in np.ndindex(values[j].shape) if per_entry else ():
            entry_kink = whole[j // 2] or (unit_note if near[idx[0]] else None)
            label = f"{p.text}[{','.join(map(str, idx))}]"
            rows.append(
                gradient_row(label, grads[j][idx], numeric[idx], noise=noise[idx], kink=entry_kink)
            )
    if direction:
        vs = [rng.standard_normal(a.shape) for a in values]
        size = np.sqrt(sum((v * v).sum() for v in vs))
        unit = [(j, v / size) for j, v in enumerate(vs)]
        every = relative_error(
            np.concatenate([g.ravel() for g in grads]),
            np.concatenate([ref.gradients[i].ravel() for i in idents]),
        )
        rows.append(_along("all · v", unit, values, grads, loss, h, everything, every))
        legend = (
            "symbolic: vᵀ∇L from the compiled gradient; numeric: (L(θ + hv) − L(θ − hv))/2h "
            f"of the compiled loss, v a random unit direction (seed {seed})"
        )
    else:
        legend = (
            "parameter rows: norms ‖·‖ of the compiled gradient and of central differences of "
            "the compiled loss over every entry" + ("; entry rows: values" if per_entry else "")
        )
    legend += "; ref. err.: compiled vs NumPy's evaluation of the derived equations"
    title = (
        f"Gradient of the loss of the {net.describe()} network on {source}, at {where}, "
        f"checked against central differences (h = {h:g})"
    )
    return CheckReport(title, rows, legend, ("parameter", "symbolic", "numeric", "ref. err."))


def central_differences(value: np.ndarray, loss, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of ``loss`` over every entry of ``value`` (changed in place, restored),
    and each difference's round-off."""
    numeric, noise = np.empty_like(value), np.empty_like(value)
    for idx in np.ndindex(value.shape):
        original = value[idx]
        value[idx] = original + h
        up, f_plus = value[idx], loss()
        value[idx] = original - h
        down, f_minus = value[idx], loss()
        value[idx] = original
        numeric[idx] = (f_plus - f_minus) / (up - down)
        noise[idx] = roundoff(f_plus, f_minus, up - down)
    return numeric, noise


def _along(name, direction, values, grads, loss, h, kink, exact_error=None) -> Row:
    """A row for the directional derivative along ``direction`` ((index, unit part) pairs)."""
    symbolic = sum(float((grads[j] * v).sum()) for j, v in direction)
    saved = [values[j].copy() for j, _ in direction]
    results = []
    for sign in (1.0, -1.0):
        for j, v in direction:
            values[j] += sign * h * v
        results.append(loss())
        for (j, _), old in zip(direction, saved, strict=True):
            values[j][...] = old
    f_plus, f_minus = results
    numeric = (f_plus - f_minus) / (2 * h)
    noise = roundoff(f_plus, f_minus, 2 * h)
    return gradient_row(name, symbolic, numeric, noise=noise, exact_error=exact_error, kink=kink)
