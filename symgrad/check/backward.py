"""Check stage: the user's own backward pass of a network against symgrad's gradient.

The user's ``backward(params, X, Y) -> dict`` (NumPy, the lecture's layout: ``X`` n×m and
``Y`` k×m, one column per example; ``params`` ident -> array, ``W1`` h×n, ``b1`` of h
entries) is called on the data and compared, parameter by parameter and entry by entry,
with the compiled gradient (:class:`~symgrad.train.compiled.CompiledNetwork`). A wrong
parameter gets a diagnosis where one fits: transposed, a constant factor (−1: the sign; m:
the missing 1/m of the mean), or the wrong derivative of an activation. For the last, the
network is derived again with one layer's activation derivative replaced by another
activation's (in the input Z, or written in its output and applied to A) or by the right one
at A instead of Z, and evaluated by the NumPy oracle (:func:`symgrad.check.oracle.reference`);
the replacement that reproduces the user's whole gradient is named.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy

from symgrad.check.claim import constant_factor
from symgrad.check.claim_report import Claim, ClaimReport
from symgrad.check.network import compiled_of, examples
from symgrad.check.oracle import reference
from symgrad.derive.backprop import derive
from symgrad.engine.autodiff import grad
from symgrad.errors import SymgradError
from symgrad.functions import ACTIVATIONS, function
from symgrad.model.data import init_params, to_columns
from symgrad.model.network import ARG, Network
from symgrad.show.trace.render import format_expr

#: Entries agree within this relative tolerance (plus a tiny fraction of the largest entry).
RTOL = 1e-6


def check_backward(target, backward, data=None, params=None, seed=0, folder=None) -> ClaimReport:
    """:func:`~symgrad.check.check` with ``backward=``: the user's gradients against symgrad's."""
    if not callable(backward):
        raise SymgradError(f"backward= takes a function, got {type(backward).__name__}")
    compiled = compiled_of(target, folder)
    net = compiled.network
    if not isinstance(net, Network):
        raise SymgradError("backward= is for networks of dense layers")
    X_rows, y, source = examples(net, data, seed)
    where = "the given parameters" if params is not None else f"initial parameters (seed {seed})"
    params = init_params(net, seed=seed) if params is None else params
    unknown = sorted(set(params) - {p.ident for p in net.params})
    if unknown:
        raise SymgradError(f"unknown parameter {', '.join(unknown)}")
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    _, ours = compiled.loss_and_grad(params, X_rows, y)
    X, Y = to_columns(net, X_rows, y)
    yours = _call(backward, {k: v.copy() for k, v in params.items()}, X.copy(), Y.copy())
    m = X.shape[1]
    aligned = {}
    rows = []
    for p in net.params:
        row, aligned[p.ident] = _parameter(p, _yours(yours, p), ours[p.ident], m)
        rows.append(row)
    if not all(r.right or r.diagnosis for r in rows):
        # the parameters another diagnosis explains are left out of the comparison
        plain = {
            p.ident: aligned[p.ident]
            for p, r in zip(net.params, rows, strict=True)
            if not r.diagnosis
        }
        swap = _activation_swap(net, params, X_rows, y, plain)
        rows = [
            r if r.right or r.diagnosis or not swap else replace(r, diagnosis=swap) for r in rows
        ]
    title = f"check your backward pass of {net.describe()} on {source}, {where}"
    legend = "yours: your backward's gradient; symgrad: the compiled gradient (‖·‖: the norm)"
    return ClaimReport(title, rows, legend)


def _call(backward, params, X, Y) -> dict:
    """The user's gradients; a fault in the user's code as one error naming its line."""
    try:
        result = backward(params, X, Y)
    except Exception as error:  # the user's code: any fault is theirs, reported in one line
        code = getattr(backward, "__code__", None)
        tb, line = error.__traceback__, None
        while tb is not None:
            if code is not None and tb.tb_frame.f_code.co_filename == code.co_filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        where = f" (line {line} of {code.co_filename.rsplit('/', 1)[-1]})" if line else ""
        raise SymgradError(f"your backward raised {type(error).__name__}: {error}{where}") from None
    if not isinstance(result, dict):
        raise SymgradError(
            f"backward must return a dict name -> array, got {type(result).__name__}"
        )
    return result


def _yours(yours: dict, p):
    """The user's gradient of parameter ``p``, under ``W1``, ``dW1``, ``W[1]`` or ``dW[1]``."""
    key = next((k for k in (p.ident, "d" + p.ident, p.text, "d" + p.text) if k in yours), None)
    if key is None:
        return None
    try:
        return np.asarray(yours[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise SymgradError(f"your backward's {key} is not an array of numbers") from None


def _close(a, b) -> np.ndarray:
    scale = max(float(np.abs(b).max(initial=0.0)), 1e-300)
    return np.abs(a - b) <= RTOL * (np.abs(a) + np.abs(b)) + 1e-12 * scale


def _parameter(p, yours, ours: np.ndarray, m: int) -> tuple[Claim, np.ndarray | None]:
    """The row of one parameter, and the user's array in its shape (None if it has none)."""
    name, norm = f"d{p.text}", f"‖·‖ = {np.linalg.norm(ours):.6g}"
    if yours is None:
        return Claim(name, False, "your backward returned no gradient for it"), None
    lines = [("symgrad", f"shape {ours.shape}, {norm}")]
    if (
        yours.shape != ours.shape
        and yours.size == ours.size
        and yours.squeeze().shape == (ours.squeeze().shape)
    ):
        yours = yours.reshape(ours.shape)  # a bias as a column, h×1
    lines.insert(0, ("yours", f"shape {yours.shape}, ‖·‖ = {np.linalg.norm(yours):.6g}"))
    if yours.shape == ours.shape:
        close = _close(yours, ours)
        if close.all():
            agree = f"all {ours.size} entries agree" if ours.size > 1 else "its one entry agrees"
            return Claim(name, True, agree, tuple(lines)), yours
        first = tuple(np.argwhere(~close)[0])
        at = ",".join(map(str, first))
        lines.append(
            ("first wrong entry", f"[{at}]: yours {yours[first]:.6g}, symgrad {ours[first]:.6g}")
        )
        evidence = f"{(~close).sum()} of {ours.size} entries differ"
    else:
        evidence = f"shape {yours.shape}, symgrad's is {ours.shape}"
    diagnosis = _diagnose(yours, ours, m)
    return Claim(name, False, evidence, tuple(lines), diagnosis), (
        yours if yours.shape == ours.shape else None
    )


def _diagnose(yours: np.ndarray, ours: np.ndarray, m: int) -> str:
    """Transposed, and/or off by a constant factor (the sign, m), if the numbers show it."""
    if yours.ndim == 2 and yours.T.shape == ours.shape and _close(yours.T, ours).all():
        return "transposed: yours is symgrad's gradient transposed"
    if yours.shape == ours.shape:
        factor = constant_factor(ours.ravel(), yours.ravel())
        if factor is not None:
            return _factor_text(factor, m)
        if yours.ndim == 2 and ours.shape[::-1] == ours.shape:
            factor = constant_factor(ours.T.ravel(), yours.ravel())
            if factor is not None:
                return f"transposed, and {_factor_text(factor, m)}"
    elif yours.ndim == 2 and yours.T.shape == ours.shape:
        factor = constant_factor(ours.ravel(), yours.T.ravel())
        if factor is not None:
            return f"transposed, and {_factor_text(factor, m)}"
    return ""


def _factor_text(c, m: int) -> str:
    if c == -1:
        return "wrong sign: yours is −1 × symgrad's gradient"
    if c == m:
        return f"missing the 1/m of the mean over the m = {m} examples: yours is m × symgrad's"
    if c * m == 1:
        return f"divided by m = {m} once too often: yours is symgrad's / m"
    if c == -m:
        return f"wrong sign and missing the 1/m (m = {m}): yours is −m × symgrad's"
    return f"off by a constant factor {format_expr(c)}: yours is {format_expr(c)} × symgrad's"


# ---- the wrong activation derivative ------------------------------------------------------


def _activation_swap(net: Network, params, X_rows, y, yours: dict) -> str:
    """The one replaced activation derivative with which symgrad's gradient is the user's."""
    given = {k: v for k, v in yours.items() if v is not None}
    if not given:
        return ""
    for l, layer in enumerate(net.layers, start=1):
        kernel = layer.kernel(f"layer {l}")
        if kernel is None:
            continue
        for what, derivative in _wrong_derivatives(kernel, l):
            hybrid = function(f"g{l}_swapped", _formula(kernel), derivative=derivative)
            layers = list(net.layers)
            layers[l - 1] = replace(layer, activation=hybrid)
            try:
                other = Network(layers, loss=net.loss_fn, l2=net.l2)
            except SymgradError:  # a loss that needs this activation itself (σ for BCE)
                break
            with np.errstate(all="ignore"):
                grads = reference(derive(other), params, X_rows, y).gradients
            if all(_close(v, grads[k]).all() for k, v in given.items()):
                right = (
                    "1 (the identity's derivative)" if kernel == ARG[0] else _name(kernel, "Z", l)
                )
                return (
                    f"wrong activation derivative in layer {l}: yours uses {what} where the "
                    f"chain rule needs {right}"
                )
    return ""


def _formula(kernel):
    """``kernel`` (an expression of ``ARG[0]``) as a function of one argument."""
    return lambda x: kernel.xreplace({ARG[0]: x})


def _wrong_derivatives(kernel, l: int):
    """(description, derivative(x, out)) of the likely mistakes in layer ``l`` whose
    activation is ``kernel``: another activation's derivative at Z, another's written in its
    output and applied to A, the right derivative at A."""
    x, out = sympy.Symbol("x"), sympy.Symbol("out")
    own = kernel.xreplace({ARG[0]: x})
    for fn in ACTIVATIONS.values():
        if getattr(fn, "parameters", ()):
            continue
        d = grad(fn(x), x)
        if fn(x) != own:
            yield _name(fn(x), "Z", l), _as_function(d, x, out)
            in_output = d.xreplace({fn(x): out})
            if x not in in_output.free_symbols:
                text = format_expr(in_output.xreplace({out: sympy.Symbol(f"A[{l}]")}))
                yield (
                    f"{text} ({_name(fn(x), 'Z', l)} written in its output, applied to A[{l}])",
                    _as_function(in_output, x, out),
                )
        else:  # the right derivative, at A instead of Z
            yield _name(fn(x), "A", l), _as_function(d.xreplace({x: out}), x, out)


def _as_function(d, x, out):
    return lambda x_, out_: d.xreplace({x: x_, out: out_})


def _name(applied, where: str, l: int) -> str:
    """``σ′(Z[1])``: the derivative of an applied activation, at Z[l] or A[l]."""
    head = format_expr(applied).split("(", 1)[0]
    return f"{head}′({where}[{l}])"
