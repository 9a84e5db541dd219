"""Check stage: symbolic gradients against numbers, as a table.

Takes a scalar expression at a point, or a network with data and parameters, and gives a
:class:`CheckReport`. Per variable (scalar) or per parameter (network), the compiled symbolic
gradient ``g`` is compared with central finite differences ``ĝ`` of the compiled value in
float64, ``(f(x + h) − f(x − h)) / 2h``, by the relative error ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖) (0 when
both are 0): below 1e-7 "correct", up to 1e-5 "look closer", above "wrong". In exact mode the
symbolic gradient and value are also evaluated by SymPy at the rational point to 30 digits and
compared with the compiled float results; for networks, the compiled loss and gradients are
compared with NumPy's evaluation of the derived equations
(:func:`symgrad.nn.reference.reference`). The two oracles see different bugs: finite
differences a wrong derivative (a bad rule), the exact or reference values wrong code for a
right derivative, even one that scales loss and gradients alike. Big networks use random
directions instead of every entry.

Finite differences are meaningless where a perturbation crosses a kink (ReLU, leaky ReLU,
step, ``Abs``, ``sign``, ``Heaviside``, ``Max``/``Min``, a ``Piecewise`` condition's boundary):
such rows are reported "near a kink" and do not fail.

The last stage: may import every stage to its left (autodiff, nn, codegen, train).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy
from sympy.core.relational import Relational

from symgrad import functions as F
from symgrad.autodiff import grad
from symgrad.codegen.files import digest
from symgrad.codegen.scalar import CompiledFunction, compile_expr
from symgrad.errors import ParseError, SymgradError, UnknownSymbolError
from symgrad.evaluate import value_at
from symgrad.graph import quote
from symgrad.nn.network import Network
from symgrad.nn.reference import init_params, reference, to_columns
from symgrad.nn.tensor import ARG
from symgrad.paths import DEFAULT_FOLDER
from symgrad.reader import as_expression
from symgrad.train.compiled import CompiledNetwork

#: Relative errors below this are "correct"; up to :data:`LOOK_CLOSER` "look closer".
CORRECT = 1e-7
LOOK_CLOSER = 1e-5
#: Digits of the exact (SymPy) evaluation.
EXACT_DIGITS = 30
FLOAT64_TINY = 2.2250738585072014e-308  # smallest normal float64: below it, values underflow
#: A kink closer than this many steps (times the perturbation's reach) is "near".
KINK_MARGIN = 10
KINK = "near a kink"
#: A difference below this many ulps of the values, over the step, is round-off.
ROUNDOFF_ULPS = 10
_EPS = np.finfo(np.float64).eps
_RANK = {"correct": 0, "look closer": 1, KINK: 1, "wrong": 2}
#: Functions with a kink where their (first) argument is 0, by the name reports use (our
#: primitives name theirs in ``kink``: ReLU, leaky ReLU, step).
_KINKS = {
    sympy.Heaviside: "Heaviside",
    sympy.Abs: "|·|",
    sympy.sign: "sign",
}
_KINK_NODES = (*_KINKS, F.Primitive, sympy.Max, sympy.Min, sympy.Piecewise)


def relative_error(g, g_hat) -> float:
    """‖g − ĝ‖ / (‖g‖ + ‖ĝ‖) over all entries; 0 when both are 0 (NaN stays NaN)."""
    g, g_hat = np.ravel(np.asarray(g, float)), np.ravel(np.asarray(g_hat, float))
    den = np.linalg.norm(g) + np.linalg.norm(g_hat)
    return 0.0 if den == 0 else float(np.linalg.norm(g - g_hat) / den)


def verdict(rel_error: float) -> str:
    """ "correct" below 1e-7, "look closer" up to 1e-5, "wrong" above (and for NaN)."""
    if rel_error < CORRECT:
        return "correct"
    return "look closer" if rel_error <= LOOK_CLOSER else "wrong"


@dataclass(frozen=True)
class Row:
    """One compared quantity.

    ``symbolic`` is the compiled gradient, ``numeric`` the central difference (their norms on
    a network parameter's row), ``rel_error`` between them. ``exact_error`` compares the
    compiled result with an independent evaluation of the same symbolic result: SymPy's
    30-digit value (scalar), the NumPy reference evaluator (network). A value row (the
    function or the loss itself) has no finite difference: ``numeric`` and ``rel_error`` are
    None there.
    """

    name: str
    symbolic: float
    numeric: float | None
    rel_error: float | None
    verdict: str
    note: str = ""
    exact_error: float | None = None


@dataclass
class CheckReport:
    """The rows of a check, with ``text()`` and ``markdown()`` tables.

    Attributes:
        title: what was checked, where, and with which step.
        rows: one :class:`Row` per value, variable, parameter, entry or direction.
        legend: what the numbers in the rows are.
        columns: the labels of the name, symbolic, numeric and (None: no such column)
            exact-error columns.
    """

    title: str
    rows: list[Row]
    legend: str = ""
    columns: tuple = ("gradient", "symbolic", "numeric", None)

    @property
    def passed(self) -> bool:
        """True when no row is "wrong"."""
        return all(r.verdict != "wrong" for r in self.rows)

    @property
    def worst(self) -> Row | None:
        """The row with the largest error among rows not near a kink (None if there is none)."""
        return max((r for r in self.rows if r.verdict != KINK), key=_row_error, default=None)

    def summary(self) -> str:
        """One line: passed or failed, the counts, the largest error and a word on kinks."""
        count = {v: sum(r.verdict == v for r in self.rows) for v in _RANK}
        wrong = [r.name for r in self.rows if r.verdict == "wrong"]
        if wrong:
            names = ", ".join(wrong[:5]) + (", ..." if len(wrong) > 5 else "")
            line = f"FAILED: {len(wrong)} of {len(self.rows)} wrong ({names})"
        else:
            line = f"passed: {count['correct']} of {len(self.rows)} correct"
            if count["look closer"]:
                line += f", {count['look closer']} to look closer at"
        worst = self.worst
        if worst is not None:
            line += f"; largest error {_number(_row_error(worst), 'e')} ({worst.name})"
        if count[KINK]:
            line += (
                f"; {count[KINK]} near a kink, where finite differences are unreliable "
                "(not counted as failures)"
            )
        return line

    def _table(self) -> tuple[list[str], list[list[str]], list[bool]]:
        name, symbolic, numeric, exact = self.columns
        header = [name, symbolic, numeric, "rel. error"] + ([exact] if exact else [])
        right = [False] + [True] * (len(header) - 1) + [False, False]
        body = []
        for r in self.rows:
            cells = [r.name, _number(r.symbolic), _number(r.numeric), _number(r.rel_error, "e")]
            if exact:
                cells.append(_number(r.exact_error, "e"))
            body.append([*cells, r.verdict, r.note])
        return [*header, "verdict", "note"], body, right

    def text(self) -> str:
        """The title, the legend, an aligned plain-text table and the summary line."""
        header, body, right = self._table()
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        lines = [self.title] + ([self.legend] if self.legend else []) + [""]
        for row in [header, *body]:
            cells = (
                c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)
            )
            lines.append("  ".join(cells).rstrip())
        return "\n".join([*lines, "", self.summary()])

    def markdown(self) -> str:
        """The title, the legend, a Markdown table and the summary line."""
        header, body, right = self._table()

        def line(cells):
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        rule = "|" + "|".join("--:" if r else "---" for r in right) + "|"
        legend = [f"*{self.legend}*", ""] if self.legend else []
        table = [line(header), rule, *map(line, body)]
        return "\n".join([f"**{self.title}**", "", *legend, *table, "", self.summary()])

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        return self.text()


def _row_error(row: Row) -> float:
    """The larger of a row's errors (NaN counts as infinite)."""
    errors = [e for e in (row.rel_error, row.exact_error) if e is not None]
    return max((np.inf if e != e else e for e in errors), default=0.0)


def _number(x: float | None, style: str = "g") -> str:
    if x is None:
        return "—"
    if x != x:
        return "nan"
    if style == "e":
        return "0" if x == 0 else f"{x:.1e}"
    return f"{x:.10g}"


def _row(name, g, g_hat, *, noise=0.0, exact_error=None, kink=None, note="") -> Row:
    """A row comparing ``g`` (compiled) with ``g_hat`` (finite differences).

    ``noise``: the finite differences' round-off; a difference below it is "correct".
    ``exact_error``: the compiled ``g`` against an independent evaluation, or None.
    ``kink``: a description of a kink the perturbation may cross, or None.
    """
    g, g_hat = np.asarray(g, float), np.asarray(g_hat, float)
    err = relative_error(g, g_hat)
    v, notes = verdict(err), [note] if note else []
    if v != "correct" and np.linalg.norm(g - g_hat) <= noise:
        v = "correct"
        notes.append("difference within the finite differences' round-off")
    if exact_error is not None and _RANK[verdict(exact_error)] > _RANK[v]:
        v = verdict(exact_error)
        notes.append("the compiled code differs from the symbolic result")
    if kink:
        if v == "correct":
            notes.append(f"{kink}, agrees anyway")
        else:
            v, notes = KINK, [f"{kink}: finite differences unreliable"]
    if g.ndim == 0:
        shown = float(g), float(g_hat)
    else:
        shown = float(np.linalg.norm(g)), float(np.linalg.norm(g_hat))
    return Row(name, *shown, err, v, "; ".join(notes), exact_error)


def _value_row(name: str, value: float, exact_error: float | None, note: str) -> Row:
    """A row for the value itself: the compiled value against an independent evaluation."""
    if exact_error is None:
        return Row(name, value, None, None, "look closer", note)
    v = verdict(exact_error)
    if v != "correct":
        note += ": the compiled code differs from the symbolic result"
    return Row(name, value, None, None, v, note, exact_error)


def _fd_noise(f_plus: float, f_minus: float, width: float) -> float:
    """Round-off of one central difference: a few ulps of the values, over the width."""
    return ROUNDOFF_ULPS * _EPS * (abs(f_plus) + abs(f_minus)) / width


# ---- scalar expressions -----------------------------------------------------------------------


def check(
    target,
    *,
    at: dict | None = None,
    data=None,
    params: dict | None = None,
    step: float = 1e-5,
    per_entry: bool = False,
    direction: bool = False,
    seed: int = 0,
    exact: bool = True,
    name: str = "f",
    folder=None,
) -> CheckReport:
    """Compare symbolic (compiled) gradients with finite differences and exact values.

    Args:
        target: a scalar SymPy expression, its text, or a
            :class:`~symgrad.codegen.scalar.CompiledFunction` (then ``at`` is needed); or a
            :class:`~symgrad.nn.Network` or
            :class:`~symgrad.train.compiled.CompiledNetwork`.
        at: scalar: the point, name (or symbol) -> number, one per variable. Integers,
            fractions and floats are taken exactly for the exact evaluation.
        data: network: ``(X_rows, y)``, rows = examples; default :func:`synthetic_data`.
        params: network: ident -> array; default ``init_params(network, seed=seed)``.
        step: the finite-difference step ``h``.
        per_entry: network: add a row per parameter entry.
        direction: network: compare directional derivatives along random unit directions
            (one per parameter and one for all together) instead of every entry.
        seed: for the default parameters, the synthetic data and the directions.
        exact: scalar: also evaluate the value and the symbolic gradient with SymPy to 30
            digits at the rational point and compare the compiled results with them. (A
            network's results are always compared with the NumPy reference evaluator.)
        name: scalar: the function's name in the rows (``∂f/∂a``).
        folder: where generated modules go (default ``generated/``).

    Returns:
        A :class:`CheckReport`; ``.passed`` is False when some row is "wrong".

    Raises:
        SymgradError: a missing or extra value in ``at``, a bad step, data or parameters
            that do not fit the network, or options that do not fit the target.

    >>> import sympy, tempfile
    >>> a, b, c = sympy.symbols("a b c")
    >>> report = check(3 * (a + b * c), at={"a": 5, "b": 3, "c": 2}, folder=tempfile.mkdtemp())
    >>> report.passed, [(r.name, r.symbolic, r.verdict) for r in report.rows[1:]]
    (True, [('∂f/∂a', 3.0, 'correct'), ('∂f/∂b', 6.0, 'correct'), ('∂f/∂c', 9.0, 'correct')])
    >>> print(report.text().splitlines()[3])
    quantity  symbolic  numeric  rel. error  exact err.  verdict  note
    """
    if not (isinstance(step, (int, float)) and 0 < step < np.inf):
        raise SymgradError(f"the step must be a positive number, got {step!r}")
    if isinstance(target, (Network, CompiledNetwork)):
        if at is not None:
            raise SymgradError("at= is for scalar expressions; a network takes data=")
        return _check_network(target, data, params, float(step), per_entry, direction, seed, folder)
    if data is not None or params is not None or per_entry or direction:
        raise SymgradError("data, params, per_entry and direction are for networks")
    return _check_scalar(target, at, float(step), exact, name, folder)


def _expression(target) -> tuple[sympy.Expr, sympy.Expr]:
    """The expression as written (for the title) and evaluated (to derive and compile)."""
    try:
        expr = as_expression(target)
    except ParseError:
        if isinstance(target, str):
            raise
        raise SymgradError(
            f"check takes an expression or a network, got {type(target).__name__}"
        ) from None
    return expr, expr.doit()


def _exact_value(value, name: str) -> sympy.Expr:
    """A number as given, exactly: floats as their binary value (the point compiled code sees)."""
    if isinstance(value, (bool, np.bool_)):
        raise SymgradError(f"{name}: expected a number, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise SymgradError(f"{name}: expected a finite number, got {value!r}")
        return sympy.Rational(float(value))
    if isinstance(value, sympy.Basic) and value.is_number and value.is_real:
        return value
    raise SymgradError(f"{name}: expected a number, got {value!r}")


def _point(at, wrt: tuple) -> dict:
    """``at`` as symbol -> exact value, in the order of ``wrt``."""
    if at is None:
        raise SymgradError("give the point: at={name: value, ...}")
    by_name = {str(k): v for k, v in dict(at).items()}
    names = [s.name for s in wrt]
    extra = [k for k in by_name if k not in names]
    if extra:
        raise UnknownSymbolError(
            f"{', '.join(extra)} not in the expression (its symbols: {', '.join(names)})"
        )
    missing = [n for n in names if n not in by_name]
    if missing:
        raise UnknownSymbolError(f"no value for {', '.join(missing)} in at=")
    return {s: _exact_value(by_name[s.name], s.name) for s in wrt}


def _scalar_kinks(expr: sympy.Expr, point: dict, h: float) -> dict:
    """Variable -> description of a kink within ``KINK_MARGIN·h`` of the point."""
    found: dict = {}
    for node in sorted(expr.atoms(*_KINK_NODES), key=sympy.default_sort_key):
        label, args = _kink_arguments(node)
        for arg in args:
            value = sympy.N(arg.xreplace(point), 17)
            if not value.is_real or abs(float(value)) > KINK_MARGIN * h:
                continue
            where = f"{label} at {quote(arg)} = {float(value):.2g}"
            for s in sorted(arg.free_symbols & set(point), key=sympy.default_sort_key):
                found.setdefault(s, f"{KINK} ({where})")
    return found


def _kink_arguments(node) -> tuple[str, list]:
    """``(label, expressions)``: ``node`` has a kink where one of the expressions is 0.

    Max and Min: where two arguments tie; a Piecewise: on its conditions' boundaries.
    """
    if isinstance(node, (sympy.Max, sympy.Min)):
        args = [a - b for i, a in enumerate(node.args) for b in node.args[i + 1 :]]
        return type(node).__name__, args
    if isinstance(node, sympy.Piecewise):
        relations = set().union(*(pair.cond.atoms(Relational) for pair in node.args))
        args = [r.lhs - r.rhs for r in sorted(relations, key=sympy.default_sort_key)]
        return "Piecewise", args
    label = _KINKS.get(type(node)) or getattr(node, "kink", None)
    return label, [node.args[0]] if label else []


def _exact_error(computed: float, symbolic: sympy.Expr, point: dict) -> tuple:
    """``(relative error, note)`` of ``computed`` against ``symbolic`` at ``point`` (30 digits).

    Exact while cheap (:func:`symgrad.evaluate.value_at`): ``((x + 1)**1000 + 1)**1000`` at
    x = -1/1000 is evaluated with mpmath, never as a fraction of millions of digits.
    """
    value = value_at(symbolic, point, EXACT_DIGITS)
    if not (value.is_real and value.is_finite):
        return None, f"no exact value ({value})"
    if 0 < abs(value) < FLOAT64_TINY and abs(computed) < FLOAT64_TINY:
        return None, f"{sympy.sstr(value.evalf(3))} underflows float64"
    compiled = sympy.Float(computed, EXACT_DIGITS)  # a float's binary value, exactly
    den = abs(compiled) + abs(value)
    return (0.0 if den == 0 else float(abs(compiled - value) / den)), ""


def _check_scalar(target, at, h, exact, name, folder) -> CheckReport:
    if isinstance(target, CompiledFunction):
        compiled, expr, wrt = target, target.expr, target.wrt
        written, point, symbolic = expr, _point(at, wrt), grad(expr, wrt)
    else:
        written, expr = _expression(target)
        wrt = tuple(sorted(expr.free_symbols, key=lambda s: (s.name, sympy.srepr(s))))
        if not wrt:
            raise SymgradError(f"nothing to check: {quote(expr)} has no variables")
        point = _point(at, wrt)  # bad input is reported before anything is compiled
        symbolic = grad(expr, wrt)
        # the module's name covers the derived gradient, so a changed rule is recompiled
        key = digest(f"{sympy.srepr(expr)}\n{sympy.srepr(wrt)}\n{sympy.srepr(symbolic)}")
        compiled = compile_expr(expr, wrt, name=f"check_{key[:12]}", folder=folder)
    x = [float(v) for v in point.values()]
    value, gradient = compiled.value_and_grad(*x)
    kinks = _scalar_kinks(expr, point, h)
    rows = [_value_row(name, value, *_exact_error(value, expr, point))] if exact else []
    for i, s in enumerate(wrt):
        plus, minus = list(x), list(x)
        plus[i], minus[i] = x[i] + h, x[i] - h
        f_plus, f_minus = compiled(*plus), compiled(*minus)
        width = plus[i] - minus[i]  # the step actually taken, after rounding
        exact_error, note = _exact_error(gradient[i], symbolic[i], point) if exact else (None, "")
        rows.append(
            _row(
                f"∂{name}/∂{s}",
                gradient[i],
                (f_plus - f_minus) / width,
                noise=_fd_noise(f_plus, f_minus, width),
                exact_error=exact_error,
                kink=kinks.get(s),
                note=note,
            )
        )
    where = ", ".join(f"{s} = {_show(v)}" for s, v in zip(wrt, _given(at, wrt), strict=True))
    title = f"check {name} = {sympy.sstr(written)} at {where} (central differences, h = {h:g})"
    legend = "symbolic: compiled; numeric: central differences of the compiled value"
    if exact:
        legend += (
            f"; exact err.: compiled vs SymPy's value at the rational point ({EXACT_DIGITS} "
            f"digits); row {name}: the value itself"
        )
    if compiled.rewrites:  # what the compiled code computes instead of the naive formula
        legend += "; compiled with stable forms: " + "; ".join(compiled.rewrites)
    return CheckReport(
        title, rows, legend, ("quantity", "symbolic", "numeric", "exact err." if exact else None)
    )


def _given(at, wrt) -> list:
    """The values of ``at`` in the order of ``wrt``, as given."""
    by_name = {str(k): v for k, v in dict(at).items()}
    return [by_name[s.name] for s in wrt]


def _show(value) -> str:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


# ---- networks ---------------------------------------------------------------------------------


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


def _layer_kink(kernel, Z: np.ndarray):
    """``(label, per-unit distance to the nearest kink)`` of an activation at Z, or None."""
    if kernel is None:
        return None
    nearest, label = None, None
    z = sympy.Symbol("z")
    for node in sorted(kernel.atoms(*_KINK_NODES), key=sympy.default_sort_key):
        name, args = _kink_arguments(node)
        for arg in args:
            if ARG[0] not in arg.free_symbols:
                continue
            f = sympy.lambdify(ARG[0], arg, modules=[F.NUMPY_IMPLS, F.NUMPY_EXTRAS, "numpy"])
            distance = np.abs(f(Z) + np.zeros_like(Z)).min(axis=1)
            if nearest is None or distance.min() < nearest.min():
                where = "at 0" if arg == ARG[0] else f"where {quote(arg.xreplace({ARG[0]: z}))} = 0"
                label = f"{name} {where}"
            nearest = distance if nearest is None else np.minimum(nearest, distance)
    return None if nearest is None else (label, nearest)


def _network_kinks(net: Network, params: dict, forward: dict, X: np.ndarray, h: float):
    """Where finite differences of a step ``h`` may cross a kink of an activation.

    A perturbation of layer l's parameters (one entry, or a unit direction) moves each entry
    of Z[l] by at most ``h (1 + max column norm of A[l-1])``, and then Z[k] by at most
    ‖W[k]‖∞ times the move of Z[k-1] (activations taken as 1-Lipschitz). Kinks closer than
    ``KINK_MARGIN`` such moves are near.

    Returns:
        ``(whole, units, everything)``: per layer, a note when a kink of a later layer is
        near (every entry affected) and a boolean array of its own units near a kink (with a
        note); and a note for a perturbation of all parameters together.
    """
    L = len(net.layers)
    inputs = [X] + [forward[f"A{k}"] for k in range(1, L)]
    reach_in = [h * (1 + float(np.sqrt((a * a).sum(axis=0)).max())) for a in inputs]
    spread = [float(np.abs(params[f"W{k}"]).sum(axis=1).max()) for k in range(1, L + 1)]
    z_names = {f.ident: f.text for f in net.forward}
    kinks = [
        _layer_kink(layer.kernel(f"layer {k}"), forward[f"Z{k}"])
        for k, layer in enumerate(net.layers, start=1)
    ]

    def note(k):
        return f"{KINK} ({kinks[k][0]} in {z_names[f'Z{k + 1}']})"

    whole, units, total = [None] * L, [], np.zeros(L)
    for start in range(L):
        reach = np.zeros(L)
        reach[start] = reach_in[start]
        for k in range(start + 1, L):
            reach[k] = reach[k - 1] * spread[k]
        total += reach
        near = kinks[start] is not None and kinks[start][1] < KINK_MARGIN * reach[start]
        units.append(
            (
                np.broadcast_to(near, (net.layers[start].n_out,)),
                note(start) if kinks[start] else None,
            )
        )
        for k in range(start + 1, L):
            if (
                whole[start] is None
                and kinks[k] is not None
                and (kinks[k][1] < KINK_MARGIN * reach[k]).any()
            ):
                whole[start] = note(k)
    everything = next(
        (note(k) for k in range(L) if kinks[k] and (kinks[k][1] < KINK_MARGIN * total[k]).any()),
        None,
    )
    return whole, units, everything


def _check_network(target, data, params, h, per_entry, direction, seed, folder) -> CheckReport:
    if isinstance(target, CompiledNetwork):
        compiled = target
    else:
        compiled = CompiledNetwork(
            target, "gd", folder=DEFAULT_FOLDER if folder is None else folder
        )
    net = compiled.network
    if data is None:
        X_rows, y = synthetic_data(net, seed=seed)
        source = f"{len(X_rows)} synthetic examples (seed {seed})"
    else:
        try:
            X_rows, y = data
        except (TypeError, ValueError):
            raise SymgradError("data must be a pair (X_rows, y)") from None
        source = f"{len(X_rows)} examples"
    idents = [p.ident for p in net.params]
    if params is None:
        params, where = init_params(net, seed=seed), f"initial parameters (seed {seed})"
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
        return float(compiled.module.loss_and_grad(*values, X, Y, net.l2)[0])

    value, grads = compiled.module.loss_and_grad(*values, X, Y, net.l2)
    grads = [np.array(g) for g in grads]
    ref_errors = [relative_error(g, ref.gradients[i]) for g, i in zip(grads, idents, strict=True)]
    whole, units, everything = _network_kinks(net, params, ref.forward, X, h)
    rows = [_value_row("L", float(value), relative_error(value, ref.loss), "the loss")]
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
        numeric, noise = _entries(values[j], loss, h)
        total = float(np.linalg.norm(noise))
        rows.append(
            _row(p.text, grads[j], numeric, noise=total, exact_error=ref_errors[j], kink=kink)
        )
        for idx in np.ndindex(values[j].shape) if per_entry else ():
            entry_kink = whole[j // 2] or (unit_note if near[idx[0]] else None)
            label = f"{p.text}[{','.join(map(str, idx))}]"
            rows.append(_row(label, grads[j][idx], numeric[idx], noise=noise[idx], kink=entry_kink))
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
    title = f"check {net.describe()} on {source}, {where} (central differences, h = {h:g})"
    return CheckReport(title, rows, legend, ("parameter", "symbolic", "numeric", "ref. err."))


def _entries(value: np.ndarray, loss, h: float) -> tuple[np.ndarray, np.ndarray]:
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
        noise[idx] = _fd_noise(f_plus, f_minus, up - down)
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
    noise = _fd_noise(f_plus, f_minus, 2 * h)
    return _row(name, symbolic, numeric, noise=noise, exact_error=exact_error, kink=kink)
