"""Apps stage, beside the lecture: the learning-rate study and the 1-D picture of gradient descent.

Takes a network and data (rows = examples), or a loss of one variable; gives a :class:`Study`
(the loss history of each learning rate from the same initial parameters, and where a run
diverged) or a :class:`Descent` (the gradient-descent iterates of each learning rate), each
drawn as one figure written as PNG and SVG (or the formats asked for). The 1-D steps use
the gradient derived by :func:`symgrad.grad`, never a hand-written one.

May import :mod:`symgrad.apps.curves` (the verdict on each rate), :mod:`symgrad.train`,
:mod:`symgrad.nn`, :mod:`symgrad.engine.autodiff` and :mod:`symgrad.errors`; matplotlib (the
optional extra ``plot``) only inside the drawing functions, through its ``Figure`` class and
never pyplot: no backend is chosen or switched, so a notebook's backend stays as its user set it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy

from symgrad.apps.curves import verdict
from symgrad.engine.autodiff import grad
from symgrad.errors import SymgradError, TrainingDivergedError, TrainingWarning
from symgrad.model.data import init_params
from symgrad.paths import DEFAULT_FOLDER, output_folder
from symgrad.read.reader import as_expression
from symgrad.train.compiled import CompiledNetwork
from symgrad.train.fit import fit

#: Rates that are, for a small ReLU/σ network on two moons: too small, good, too large, divergent.
DEFAULT_RATES = (0.01, 1.0, 10.0, 50.0)


def figure(**options):
    """A new ``matplotlib.figure.Figure(**options)``, for files only.

    Made without pyplot, so it needs no backend (``savefig`` picks a canvas by the file's
    type), never opens a window, and leaves the user's backend alone.

    Raises:
        SymgradError: matplotlib is not installed.
    """
    try:
        import matplotlib.figure
    except ImportError:
        raise SymgradError(
            'drawing figures needs matplotlib: pip install "symgrad[plot]"'
        ) from None
    return matplotlib.figure.Figure(**options)


#: The files a figure is written to by default: PNG for anything, SVG to zoom into.
FORMATS = ("png", "svg")


def save_figure(fig, folder, name: str, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``fig`` to ``folder/name.<format>`` for each of ``formats`` (PNG at 120 dpi);
    returns the paths. Each format draws the whole figure again: a tenth to a half of a
    second, so ask for the ones that are read."""
    folder = output_folder(folder)
    paths = [folder / f"{name}.{f}" for f in formats]
    for path in paths:
        fig.savefig(path, bbox_inches="tight", **({"dpi": 120} if path.suffix == ".png" else {}))
    return paths


# ---- the learning-rate study ----------------------------------------------------------


@dataclass
class Run:
    """One learning rate's training run.

    ``history`` holds the epoch losses before the divergence (all of them when there was
    none); ``diverged_at`` is the epoch training stopped at (None if it did not), and
    ``diverged_loss`` that epoch's loss (may be inf).
    """

    rate: float
    history: np.ndarray
    diverged_at: int | None = None
    diverged_loss: float | None = None
    accuracy: float | None = None

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def final_loss(self) -> float:
        return float(self.history[-1]) if len(self.history) else math.nan

    @property
    def rises(self) -> int:
        """Epochs whose loss was higher than the epoch before (overshooting)."""
        h = self.history
        return int(np.sum(h[1:] > h[:-1] * (1 + 1e-12))) if len(h) > 1 else 0

    @property
    def label(self) -> str:
        return f"α = {self.rate:g}" + (
            f": diverged at epoch {self.diverged_at}" if self.diverged else ""
        )


@dataclass
class Study:
    """The runs of a learning-rate study, the verdict on each, and the figure's files."""

    description: str
    epochs: int
    runs: list[Run]
    files: list[Path] = field(default_factory=list)
    code: Path | None = None

    def verdict(self, run: Run) -> str:
        """``diverges``, ``too large``, ``too small`` or ``good``, read from ``run``'s curve
        and the lowest final loss of the others (:func:`symgrad.apps.curves.verdict`)."""
        finals = [r.final_loss for r in self.runs if not r.diverged and len(r.history)]
        best = min(finals) if finals else run.final_loss
        return verdict(run.history, best, run.diverged_at)

    def markdown(self) -> str:
        """A Markdown table: rate, final loss, accuracy, verdict."""
        lines = [
            "| learning rate $\\alpha$ | loss at the last epoch | training accuracy | verdict |",
            "|---|---|---|---|",
        ]
        for run in self.runs:
            loss = f"{run.final_loss:.4g}" if len(run.history) else "—"
            if run.diverged:
                loss = f"{run.diverged_loss:.4g} (epoch {run.diverged_at})"
            acc = "—" if run.accuracy is None else f"{100 * run.accuracy:.1f}%"
            lines.append(f"| ${run.rate:g}$ | {loss} | {acc} | {self.verdict(run)} |")
        return "\n".join(lines) + "\n"


def _run(network, X, y, rate, start, compiled, epochs, **kw) -> Run:
    """Train with ``rate``; on divergence keep the history of the epochs before it."""
    try:
        with warnings.catch_warnings():  # the study judges each rate itself (verdict)
            warnings.simplefilter("ignore", TrainingWarning)
            result = fit(
                network, X, y, lr=rate, params=start, compiled=compiled, epochs=epochs, **kw
            )
        return Run(rate, result.history, accuracy=_accuracy(result, X, y))
    except TrainingDivergedError as error:
        return Run(
            rate, error.history[:-1], diverged_at=error.epoch, diverged_loss=error.history[-1]
        )


def _accuracy(result, X, y) -> float | None:
    if not result.compiled.network.labels.classify:
        return None
    return result.accuracy(X, y)


def learning_rate_study(
    network,
    X,
    y,
    rates: Sequence[float] = DEFAULT_RATES,
    *,
    epochs: int = 500,
    optimizer="gd",
    batch_size: int | None = None,
    seed: int = 0,
    folder=DEFAULT_FOLDER / "study",
    code_folder=None,
    compiled: CompiledNetwork | None = None,
    name: str = "learning_rate_study",
    title: str | None = None,
    formats: Sequence[str] = FORMATS,
) -> Study:
    """Train ``network`` with each learning rate from the same start; plot the loss curves.

    Args:
        network: a :class:`symgrad.nn.Network` or any trainable :class:`symgrad.nn.Program`.
        X, y: data, one row per example, and labels (as for :func:`symgrad.train.fit.fit`).
        rates: the learning rates α, e.g. too small, good, too large, divergent.
        epochs: epochs per run.
        seed: seeds the common initial parameters and the shuffling.
        folder: where the figure goes (``name``.png and ``name``.svg).
        formats: the figure's files (see :func:`save_figure`).
        code_folder: where the generated module goes (default ``folder``/code).
        compiled: a :class:`CompiledNetwork` of ``network`` to reuse.
        title: the figure's title (default: the network's description).

    Returns:
        A :class:`Study`; a run that diverged keeps its history up to the divergence.

    Raises:
        SymgradError: no rates, a rate ≤ 0 or not finite, matplotlib missing, or ``folder``
            or ``code_folder`` a file or under one.
    """
    if not rates or any(not 0 < r < math.inf for r in rates):
        raise SymgradError(f"need finite learning rates > 0, got {list(rates)}")
    # a file in the way, or matplotlib missing, is refused before anything is compiled
    folder = output_folder(folder, create=False)
    code_folder = output_folder(
        code_folder if code_folder is not None else folder / "code", create=False
    )
    fig = figure(figsize=(7.5, 4.5))
    compiled = compiled or CompiledNetwork(network, optimizer, folder=code_folder)
    start = init_params(network, seed=seed)
    kw = dict(batch_size=batch_size, seed=seed)
    runs = [_run(network, X, y, float(r), start, compiled, epochs, **kw) for r in rates]
    study = Study(network.describe(), epochs, runs, code=compiled.path)
    ax = fig.subplots()
    for run in runs:
        epochs_axis = np.arange(1, len(run.history) + 1)
        label = run.label if run.diverged else f"{run.label} ({study.verdict(run)})"
        (line,) = ax.plot(epochs_axis, run.history, label=label)
        if run.diverged:
            finite = run.history[np.isfinite(run.history)]
            top = float(finite.max()) * 10 if len(finite) else 10.0
            loss = run.diverged_loss
            y_mark = loss if loss is not None and math.isfinite(loss) else top
            color = line.get_color()
            if len(run.history):  # the step that diverged, dashed
                last = (len(run.history), run.history[-1])
                ax.plot(*zip(last, (run.diverged_at, y_mark), strict=True), "--", color=color)
            ax.plot([run.diverged_at], [y_mark], marker="X", markersize=11, color=color)
            ax.annotate(
                f"diverged at epoch {run.diverged_at}",
                (run.diverged_at, y_mark),
                textcoords="offset points",
                xytext=(10, 4),
                color=color,
            )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (log scale)")
    ax.set_title(title or f"Learning rates for a {network.describe()} network")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="center right")
    study.files = save_figure(fig, folder, name, formats)
    return study


# ---- gradient descent on a loss of one variable -----------------------------------------

W = sympy.Symbol("w")
#: The 1-D picture's default loss: a parabola with its minimum L = 1 at w = 3.
DEFAULT_LOSS = (W - 3) ** 2 + 1


@dataclass
class Descent:
    """Gradient descent on ``loss`` of ``w``: the derived gradient, the iterates per rate."""

    loss: sympy.Expr
    w: sympy.Symbol
    gradient: sympy.Expr
    paths: dict  # rate -> array of iterates w_0, w_1, ...
    files: list[Path] = field(default_factory=list)

    def behaviour(self, rate: float) -> str:
        """``converges smoothly``, ``overshoots (oscillates)`` or ``diverges``."""
        steps = np.diff(self.paths[rate])
        steps = steps[np.abs(steps) > 1e-12]
        if len(steps) < 2:
            return "converges smoothly"
        if abs(steps[-1]) > abs(steps[0]):
            return "diverges"
        if np.any(np.sign(steps[1:]) != np.sign(steps[:-1])):
            return "overshoots (oscillates)"
        return "converges smoothly"


def descent_picture(
    loss=DEFAULT_LOSS,
    w=W,
    *,
    start: float = 0.0,
    rates: Sequence[float] = (0.1, 0.9),
    steps: int = 10,
    folder=DEFAULT_FOLDER / "study",
    name: str = "descent",
    formats: Sequence[str] = FORMATS,
) -> Descent:
    """Draw ``loss`` of one variable with the gradient-descent steps of each learning rate.

    ``w ← w − α L′(w)``, with ``L′`` derived by :func:`symgrad.grad`. One panel per rate:
    the curve, the iterates as points and each step as an arrow.

    Args:
        loss: a SymPy expression (or text) in the one variable ``w``.
        w: the variable (a symbol or its name).
        start: the initial ``w``.
        rates: the learning rates α, e.g. one that converges smoothly and one that overshoots.
        steps: gradient-descent steps per rate.
        folder: where ``name``.png and ``name``.svg go.
        formats: the figure's files (see :func:`save_figure`).

    Returns:
        A :class:`Descent` with the derived gradient and the iterates.

    Raises:
        SymgradError: a loss in other variables than ``w``, or matplotlib missing.

    >>> d = descent_picture(rates=(0.1,), steps=2, folder=getfixture("tmp_path"))
    >>> d.gradient, [round(float(x), 2) for x in d.paths[0.1]]
    (2*w - 6, [0.0, 0.6, 1.08])
    """
    w = sympy.Symbol(w) if isinstance(w, str) else w
    loss = as_expression(loss)
    extra = loss.free_symbols - {w}
    if extra:
        names = ", ".join(sorted(map(str, extra)))
        raise SymgradError(f"the 1-D picture needs a loss of {w} only; it also has {names}")
    fig = figure(figsize=(5 * len(rates), 4))
    gradient = sympy.expand(grad(loss, w))
    f = sympy.lambdify(w, loss, "math")
    df = sympy.lambdify(w, gradient, "math")
    paths = {}
    for rate in rates:
        path = [float(start)]
        for _ in range(steps):
            path.append(path[-1] - rate * float(df(path[-1])))
            if not math.isfinite(path[-1]) or abs(path[-1]) > 1e6:
                path.pop()
                break
        paths[rate] = np.array(path)
    descent = Descent(loss, w, gradient, paths)
    axes = fig.subplots(1, len(rates), squeeze=False)
    for ax, rate in zip(axes[0], rates, strict=True):
        path = paths[rate]
        low, high = float(path.min()), float(path.max())
        pad = max(1.0, 0.15 * (high - low))
        grid = np.linspace(low - pad, high + pad, 400)
        ax.plot(grid, [f(float(x)) for x in grid], color="0.3")
        values = [f(float(x)) for x in path]
        ax.plot(path, values, "o", color="C3", markersize=5, zorder=3)
        points = list(zip(path, values, strict=True))
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            ax.annotate(
                "", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", color="C3", lw=1.2)
            )
        ax.set_title(f"α = {rate:g}: {descent.behaviour(rate)}")
        ax.set_xlabel(f"${sympy.latex(w)}$")
        ax.set_ylabel(f"$L({sympy.latex(w)}) = {sympy.latex(loss)}$")
        ax.grid(True, alpha=0.3)
    fig.suptitle(
        f"Gradient descent ${sympy.latex(w)} \\leftarrow {sympy.latex(w)} - \\alpha\\,L'"
        f"({sympy.latex(w)})$ with $L'({sympy.latex(w)}) = {sympy.latex(gradient)}$"
    )
    descent.files = save_figure(fig, folder, name, formats)
    return descent
