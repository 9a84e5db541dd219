"""Apps stage: the lecture's chapters, each derived once, printed, trained and checked.

The toy graph ``j = 3(a + b·c)`` traced step by step (Markdown and a Graphviz picture),
logistic regression (closed-form gradients, the single-example chain rule with
``∂L/∂z = a − y``, training on the breast-cancer data, a gradient check), the
one-hidden-layer network (forward and backprop equations, training on two moons, a gradient
check), the learning-rate figures, and the list of generated modules. Each chapter writes
its files and adds its cells through a :class:`~symgrad.apps.lecture.book.Book`: Markdown for
every output, and the symgrad calls that redo the step for the notebook.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import sympy

from symgrad.apps.datasets import breast_cancer, two_moons
from symgrad.apps.lecture.book import Book, embed, link
from symgrad.apps.lecture.loop import start_compiling_loop
from symgrad.apps.study import descent_picture, figure, learning_rate_study, save_figure
from symgrad.check import check
from symgrad.nn import Network, derive, logistic_regression, mlp
from symgrad.show.draw import MissingDependencyError, render
from symgrad.show.equations import equations
from symgrad.show.notes import notes
from symgrad.show.trace import explain
from symgrad.train.compiled import CompiledNetwork
from symgrad.train.fit import fit
from symgrad.train.numpy_tier import loop_name

TOY = "u = b*c; v = a + u; j = 3*v"
TOY_POINT = {"a": 1, "b": 2, "c": 3}
LOGISTIC = "z = w1*x1 + w2*x2 + b; a = sigmoid(z); L = -(y*log(a) + (1 - y)*log(1 - a))"
LOGISTIC_POINT = {"w1": 0.5, "w2": -1, "b": 0.1, "x1": 1, "x2": 2, "y": 1}
LOGISTIC_WRT = ("w1", "w2", "b")  # the parameters; not the data x1, x2, y
HIDDEN = 16
RATES = (0.01, 1.0, 10.0, 50.0)
#: Epochs (full run, --quick): logistic regression, the network, each learning rate's run.
EPOCHS = {"logistic": (500, 100), "network": (3000, 400), "study": (500, 150)}
#: Each figure's one file, which the index, the notebook and pdflatex all show (each format
#: more would draw every figure again).
FIGURE_FORMATS = ("png",)


def _chain_paths(trace, name) -> list[list]:
    """Every path of local derivatives from the output down to ``name``, outermost first."""
    local = {(d.step, d.wrt): d for d in trace.local_derivatives}
    if name == trace.output:
        return [[]]
    paths = []
    for (step, wrt), d in local.items():
        if wrt == name:
            paths += [[*p, d] for p in _chain_paths(trace, step)]
    return paths


def toy_graph(book: Book) -> None:
    """Section 1: the toy graph traced step by step, its picture, the chain rule per input."""
    book.progress("[1/5] toy graph j = 3(a + b·c): trace and picture")
    trace = explain(TOY, TOY_POINT)
    trace_file = book.write("toy_graph_trace.md", "# The toy graph\n\n" + trace.markdown())
    dot = render(trace, book.folder / "toy_graph.dot").name
    try:  # the SVG for the index and the notebook, the PDF for the LaTeX document
        pictures = [render(trace, book.folder / f"toy_graph.{f}") for f in ("svg", "pdf")]
    except MissingDependencyError as error:
        pictures = []
        book.progress(f"      note: the graph's picture was skipped: {error}")
        book.notes.append(
            f"The graph's SVG was not drawn: {error}. "
            f"Draw it with `dot -Tsvg {dot} -o toy_graph.svg`."
        )
    latex = sympy.latex
    forward = ", ".join(f"${latex(s.name)} = {latex(s.expr)} = {s.value}$" for s in trace.steps)
    rows = []
    for x in sorted(trace.point, key=str):
        for path in _chain_paths(trace, x):
            partial = [rf"\frac{{\partial {d.step}}}{{\partial {d.wrt}}}" for d in path]
            value = trace.gradients[str(x)][1]
            products = r" \cdot ".join(str(d.value) for d in path)
            rows.append(
                rf"- $\frac{{\partial j}}{{\partial {x}}} = "
                + r" \cdot ".join(partial)
                + f" = {products} = {value}$"
            )
    book.add(
        "## 1. The toy graph $j = 3(a + b c)$",
        "",
        "Split into one operation per step, $u = b c$, $v = a + u$, $j = 3 v$, at "
        + ", ".join(f"${k} = {v}$" for k, v in TOY_POINT.items())
        + ".",
        "",
        f"Forward propagation: {forward}. So the output is ${trace.steps[-1].value}$.",
        "",
        "Backward propagation multiplies the local derivatives along the path from $j$ back to "
        "each input (the chain rule):",
        "",
        *rows,
        "",
        f"The whole trace (forward values, local derivatives, chain-rule products): "
        f"{link(trace_file)}. The graph with values and gradients ({link(dot)}):",
        "",
        embed(pictures, "The graph of j = 3(a + b c) with its values and gradients"),
    )
    book.code(
        "from symgrad import explain\n\n"
        f"trace = explain({TOY!r}, {TOY_POINT!r})\n"
        "trace  # forward values, local derivatives, chain-rule products"
    )


def _loss_figure(book: Book, history, title: str, name: str) -> list[Path]:
    if not book.plots:
        return []
    fig = figure(figsize=(6, 3.6))
    ax = fig.subplots()
    ax.plot(np.arange(1, len(history) + 1), history)
    ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="training loss (log scale)", title=title)
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, book.folder, name, FIGURE_FORMATS)


def lecture_data() -> dict:
    """The data sets of the lecture's two models (``logistic``, ``network``), loaded once."""
    return {"logistic": breast_cancer(), "network": two_moons()}


def trained_models(code: Path, data: dict, *, loop: bool = True) -> dict:
    """The modules of the two models the lecture trains (``logistic``, ``network``) on
    ``data`` (:func:`lecture_data`), each already compiling its gradient check
    (``loss_and_grad``) in a process of its own, so that Numba works while the chapters
    before the checks run; and, with ``loop``, the network its training loop
    (:mod:`~symgrad.apps.lecture.loop`)."""
    models = {
        "logistic": logistic_regression(data["logistic"].X.shape[1]),
        "network": Network(mlp([2, HIDDEN, 1], hidden="relu", output="sigmoid"), loss="bce"),
    }
    compiled = {key: CompiledNetwork(net, "gd", folder=code) for key, net in models.items()}
    for module in compiled.values():
        module.start_compiling("loss_and_grad")
    if loop:
        start_compiling_loop(compiled["network"], data["network"])
    return compiled


def _train_and_check(book, compiled, data, lr, epochs, name) -> tuple:
    network = compiled.network
    t0 = time.perf_counter()
    # a loop in the cache loads in a second: the NumPy tier beside the loading is slower
    tier = not compiled.cached(loop_name(None, len(data.X)))
    result = fit(network, data.X, data.y, lr=lr, epochs=epochs, compiled=compiled, numpy_tier=tier)
    accuracy = result.accuracy(data.X, data.y)
    book.progress(
        f"      trained {epochs} epochs in {time.perf_counter() - t0:.1f} s: "
        f"loss {result.history[-1]:.4g}, training accuracy {100 * accuracy:.1f}%"
    )
    figures = _loss_figure(book, result.history, f"{network.describe()}, α = {lr:g}", name)
    sample, params, check_file = (data.X[:100], data.y[:100]), result.params, f"{name}_check.md"

    def checked() -> str:
        report = check(compiled, data=sample, params=params)
        book.write(
            check_file,
            f"# Gradient check: {network.describe()}\n\nAt the trained parameters, on the first "
            f"{len(sample[0])} examples.\n\n{report.markdown()}\n",
        )
        book.progress(f"      gradient check of the {network.describe()}: {report.summary()}")
        return report.markdown()

    # last: its compiled loss_and_grad builds in a process of its own until then
    return compiled, result, accuracy, figures, check_file, book.later(checked)


def _training_lines(data, lr, epochs, result, accuracy, figures, check_file, report: str) -> list:
    return [
        f"Data: {data.about}. Full-batch gradient descent with $\\alpha = {lr:g}$ for "
        f"{epochs} epochs: the loss goes from ${result.history[0]:.4f}$ to "
        f"${result.history[-1]:.4f}$; training accuracy ${100 * accuracy:.1f}\\%$.",
        "",
        embed(figures, "The training loss per epoch (log scale)"),
        "",
        "Gradient check at the trained parameters on the first 100 examples: the compiled "
        "gradients against central differences of the compiled loss "
        f"(also in {link(check_file)}):",
        "",
        report,
    ]


def _training_code(lr, epochs) -> str:
    """The notebook's cell that trains ``network`` on ``data`` as the chapter did, and checks."""
    return (
        "from symgrad.check import check\n"
        "from symgrad.train.compiled import CompiledNetwork\n"
        "from symgrad.train.fit import fit\n\n"
        'compiled = CompiledNetwork(network, "gd", folder="code")\n'
        f"result = fit(network, data.X, data.y, lr={lr!r}, epochs={epochs!r}, compiled=compiled)\n"
        "accuracy = result.accuracy(data.X, data.y)\n"
        'print(f"loss {result.history[0]:.4f} -> {result.history[-1]:.4f}, "\n'
        '      f"training accuracy {100 * accuracy:.1f}%")\n'
        "check(compiled, data=(data.X[:100], data.y[:100]), params=result.params)"
    )


def logistic(book: Book, quick: bool, compiled: CompiledNetwork, data) -> None:
    """Section 2: logistic regression: one example traced, the batch equations, training on
    ``data`` (:func:`symgrad.apps.datasets.breast_cancer`)."""
    book.progress("[2/5] logistic regression: equations, training, gradient check")
    trace = explain(LOGISTIC, LOGISTIC_POINT, wrt=LOGISTIC_WRT)
    single = book.write(
        "logistic_single_example.md",
        "# Logistic regression, one example, step by step\n\n" + trace.markdown(),
    )
    if data.fallback:
        book.progress(f"      note: {data.fallback}")
        book.notes.append(data.fallback + ".")
    network = compiled.network
    backprop = derive(network)
    equations_file = book.write(
        "logistic_regression_equations.md",
        f"# Logistic regression with {data.X.shape[1]} inputs\n\n" + backprop.markdown(),
    )
    lr, epochs = 0.5, EPOCHS["logistic"][quick]
    *_, result, accuracy, figures, check_file, report = _train_and_check(
        book, compiled, data, lr, epochs, "logistic_regression"
    )
    dz, dz_value = trace.gradients["z"]
    back = equations(backprop, "markdown").backward
    book.add(
        "## 2. Logistic regression",
        "",
        "One example: $z = w_1 x_1 + w_2 x_2 + b$, $a = \\sigma(z)$ and the binary "
        "cross-entropy $L = -(y \\log a + (1 - y) \\log(1 - a))$. Through the sigmoid "
        "($\\frac{\\partial a}{\\partial z} = a (1 - a)$) and the loss the chain rule "
        f"simplifies to $\\frac{{\\partial L}}{{\\partial z}} = {sympy.latex(dz)}$, here "
        f"${float(dz_value):.6g}$; the step-by-step trace: {link(single)}.",
    )
    book.code(
        "from symgrad import explain\n\n"
        f"trace = explain({LOGISTIC!r}, {LOGISTIC_POINT!r})\n"
        'trace.gradients["z"]  # dL/dz and its value'
    )
    book.add(
        "Over a batch of $m$ examples ($X$ is $n \\times m$) the same derivation gives",
        "",
        *[f"- ${lhs} = {rhs}$" for lhs, rhs in back],
        "",
        f"and the forward pass and loss in {link(equations_file)}.",
    )
    book.code(
        "from symgrad.apps.datasets import breast_cancer\n"
        "from symgrad.nn import derive, logistic_regression\n\n"
        "data = breast_cancer()\n"
        "network = logistic_regression(data.X.shape[1])\n"
        "derive(network)  # the forward pass, the loss and the backward pass over a batch"
    )
    book.add(
        *_training_lines(data, lr, epochs, result, accuracy, figures, check_file, report),
    )
    book.code(_training_code(lr, epochs))


def _boundary_figure(book, compiled, params, data) -> list[Path]:
    if not book.plots:
        return []
    (x0, y0), (x1, y1) = data.X.min(axis=0) - 0.5, data.X.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    proba = compiled.predict_proba(params, np.c_[gx.ravel(), gy.ravel()])[:, 0]
    fig = figure(figsize=(5.5, 4.2))
    ax = fig.subplots()
    ax.contourf(gx, gy, proba.reshape(gx.shape), levels=20, cmap="RdBu_r", alpha=0.6)
    ax.contour(gx, gy, proba.reshape(gx.shape), levels=[0.5], colors="k")
    ax.scatter(*data.X.T, c=data.y, cmap="RdBu_r", edgecolors="k", s=14)
    ax.set(
        title="$\\hat{y} = A^{[2]}$ and the decision boundary $\\hat{y} = 0.5$",
        xlabel="$x_1$",
        ylabel="$x_2$",
    )
    return save_figure(fig, book.folder, "network_decision_boundary", FIGURE_FORMATS)


def network_chapter(book: Book, quick: bool, compiled: CompiledNetwork, data) -> tuple:
    """Section 3: the one-hidden-layer network on ``data`` (two moons);
    ``(network, compiled, data)``."""
    book.progress("[3/5] one-hidden-layer network: equations, training, gradient check")
    network = compiled.network
    backprop = derive(network)
    notes_file = book.write("network_notes.md", notes(backprop, "The one-hidden-layer network"))
    lr, epochs = 1.0, EPOCHS["network"][quick]
    compiled, result, accuracy, figures, check_file, report = _train_and_check(
        book, compiled, data, lr, epochs, "network"
    )
    boundary = _boundary_figure(book, compiled, result.params, data)
    parts = equations(backprop, "markdown")
    book.add(
        f"## 3. A network with one hidden layer ({network.describe()})",
        "",
        f"$n = 2$ inputs, {HIDDEN} ReLU units, a sigmoid output and binary cross-entropy. "
        "Forward propagation, one column per example:",
        "",
        *[f"- ${lhs} = {rhs}$" for lhs, rhs in parts.forward],
        *[f"- ${lhs} = {rhs}$" for lhs, rhs in parts.loss],
        "",
        "Backward propagation, from the output layer down ($dZ^{[l]}$ is $m$ times "
        "$\\partial \\mathcal{L} / \\partial Z^{[l]}$):",
        "",
        *[f"- ${lhs} = {rhs}$" for lhs, rhs in parts.backward],
        "",
        f"With a sentence per step: {link(notes_file)}.",
    )
    book.code(
        "from symgrad.apps.datasets import two_moons\n"
        "from symgrad.nn import Network, derive, mlp\n\n"
        "data = two_moons()\n"
        f'network = Network(mlp([2, {HIDDEN}, 1], hidden="relu", output="sigmoid"), loss="bce")\n'
        "derive(network)"
    )
    book.add(
        *_training_lines(data, lr, epochs, result, accuracy, figures, check_file, report),
        "",
        "The decision boundary:",
        "",
        embed(boundary, "The network's output and its decision boundary on two moons"),
    )
    book.code(_training_code(lr, epochs))
    return network, compiled, data


def learning_rates(book: Book, quick: bool, network, compiled, data) -> None:
    """Section 4: gradient descent in 1-D and the network trained with several rates."""
    book.progress("[4/5] learning rates: the 1-D picture and the study")
    if not book.plots:
        book.add("## 4. The learning rate", "", "(Figures not drawn: see the notes.)")
        return
    descent = descent_picture(folder=book.folder, name="descent_1d", formats=FIGURE_FORMATS)
    epochs = EPOCHS["study"][quick]
    title = f"The same {network.describe()} network and start, four learning rates"
    study = learning_rate_study(
        network,
        data.X,
        data.y,
        RATES,
        epochs=epochs,
        folder=book.folder,
        compiled=compiled,
        title=title,
        formats=FIGURE_FORMATS,
    )
    for run in study.runs:
        book.progress(f"      α = {run.rate:g}: {study.verdict(run)}")
    loss, w = sympy.latex(descent.loss), sympy.latex(descent.w)
    behaviour = "; ".join(f"$\\alpha = {r:g}$ {descent.behaviour(r)}" for r in descent.paths)
    book.add(
        "## 4. Gradient descent and the learning rate",
        "",
        f"On $L({w}) = {loss}$ the derived gradient is $L'({w}) = "
        f"{sympy.latex(descent.gradient)}$ and each step is ${w} \\leftarrow {w} - \\alpha "
        f"L'({w})$ from ${w} = 0$: {behaviour}.",
        "",
        embed(descent.files, "Gradient descent on L(w) with a small and a large learning rate"),
    )
    book.code(
        "from symgrad.apps.study import descent_picture\n\n"
        'descent = descent_picture(folder=".", name="descent_1d")\n'
        "descent.gradient"
    )
    book.add(
        f"The network of section 3 trained from the same initial parameters with "
        f"{len(RATES)} learning rates for {epochs} epochs each:",
        "",
        embed(study.files, "The training loss with each learning rate"),
        "",
        study.markdown(),
    )
    book.code(
        "from IPython.display import Markdown\n\n"
        "from symgrad.apps.study import learning_rate_study\n\n"
        f"study = learning_rate_study(network, data.X, data.y, {RATES!r}, epochs={epochs!r},\n"
        f'                            folder=".", compiled=compiled, title={title!r})\n'
        "Markdown(study.markdown())"
    )


def generated_code(book: Book, code: Path) -> None:
    """Section 5: the generated modules training ran in, linked."""
    book.progress("[5/5] index")
    lines = []
    for path in sorted(code.glob("*.py")):
        doc = path.read_text(encoding="utf-8").split('"""')
        what = (
            next((ln for ln in doc[1].splitlines() if ln.startswith("Network:")), "")
            if len(doc) > 1
            else ""
        )
        lines.append(f"- {link(f'code/{path.name}')}" + (f" — {what}" if what else ""))
    book.add(
        "## 5. The generated code",
        "",
        "Training ran in these generated modules (NumPy and Numba only; the equations are in "
        "each module's docstring). Numba's compiled code is kept in your cache of compiled "
        "code (symgrad's README says where), so a second build, in any folder, starts at once.",
        "",
        *lines,
    )
