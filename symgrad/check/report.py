"""Check stage: the report of a check — rows, verdicts and tables.

A row compares a compiled gradient ``g`` with central finite differences ``ĝ`` by the
relative error ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖) (0 when both are 0): below 1e-7 "correct", up to 1e-5
"look closer", above "wrong"; a row whose perturbation crosses a kink is "near a kink" and
does not fail. Every kind of check (scalar, network) builds its rows here. Imports NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Relative errors below this are "correct"; up to :data:`LOOK_CLOSER` "look closer".
CORRECT = 1e-7
LOOK_CLOSER = 1e-5
KINK = "near a kink"
#: A difference below this many ulps of the values, over the step, is round-off.
ROUNDOFF_ULPS = 10
_EPS = np.finfo(np.float64).eps
_RANK = {"correct": 0, "look closer": 1, KINK: 1, "wrong": 2}


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
    def all_correct(self) -> bool:
        """True when every row is "correct" (none to look closer at, none near a kink)."""
        return all(r.verdict == "correct" for r in self.rows)

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


def gradient_row(name, g, g_hat, *, noise=0.0, exact_error=None, kink=None, note="") -> Row:
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


def value_row(name: str, value: float, exact_error: float | None, note: str) -> Row:
    """A row for the value itself: the compiled value against an independent evaluation."""
    if exact_error is None:
        return Row(name, value, None, None, "look closer", note)
    v = verdict(exact_error)
    if v != "correct":
        note += ": the compiled code differs from the symbolic result"
    return Row(name, value, None, None, v, note, exact_error)


def roundoff(f_plus: float, f_minus: float, width: float) -> float:
    """Round-off of one central difference: a few ulps of the values, over the width."""
    return ROUNDOFF_ULPS * _EPS * (abs(f_plus) + abs(f_minus)) / width
