"""Show stage: lecture notes of a network as one Markdown document.

Forward pass, loss and backward pass, each equation with a sentence that says what
the step does, in the lecture's notation (math in ``$…$``).
"""

from __future__ import annotations

from pathlib import Path

from symgrad.functions import PRIMITIVES
from symgrad.paths import output_file
from symgrad.show.equations import equations

_ACTIVATION_WORDS = {
    "relu": "ReLU (max(0, z))",
    "leaky_relu": "leaky ReLU",
    "sigmoid": "the sigmoid σ",
    "tanh": "tanh",
    "identity": "the identity (no activation)",
    "softmax": "softmax over the classes of each example",
}


def _forward_sentence(f, network) -> str:
    kind, l = f.kind, f.layer
    layer = network.layers[l - 1]
    source = "the input X" if l == 1 else f"the activations of layer {l - 1}"
    if kind == "Z":
        return (
            f"Layer {l} multiplies {source} by its {layer.n_out}×{layer.n_in} weights "
            f"and adds its bias to every column (every example)."
        )
    act = layer.activation
    if isinstance(act, str):  # words, else the primitive's notation (GELU)
        words = _ACTIVATION_WORDS.get(act) or getattr(PRIMITIVES.get(act), "text_name", act)
    else:  # a primitive from symgrad.function by its notation
        words = getattr(act, "text_name", None) or "a custom function"
    return f"It applies {words} elementwise."


def _backward_sentence(e, backprop) -> str:
    net = backprop.network
    l = e.layer
    if e.kind == "dZ":
        if l == len(net.layers):
            return (
                f"The error at the output: the chain rule through the {net.loss_fn.words} "
                "and the output activation, simplified as one scalar kernel "
                "(this dZ is m times ∂L/∂Z)."
            )
        return (
            f"The error flows back through the transposed weights of layer {l + 1} and is "
            f"multiplied elementwise by the derivative of layer {l}'s activation."
        )
    if e.kind == "dW":
        return (
            f"The weight gradient: the error times the transposed inputs of layer {l}, "
            "averaged over the m examples" + (", plus the L2 term." if net.l2 else ".")
        )
    return "The bias gradient: the error summed over the examples, divided by m."


def notes(backprop, title: str | None = None, optimizer=None) -> str:
    """The lecture-notes Markdown document of ``backprop``.

    ``optimizer`` (a :class:`symgrad.train.optimizers.Optimizer`, or anything with its
    ``notes()``) writes the update section; without one it is gradient descent's rule.
    """
    net = backprop.network
    printed = equations(backprop, "markdown")
    lines = [f"# {title or 'Backpropagation for a ' + net.describe() + ' network'}", ""]
    lines += [
        "Notation: X is n×m with one example per column; W[l] is h×n and b[l] has h entries;",
        "Z[l] = W[l] A[l-1] + b[l] and A[l] = g(Z[l]). Every gradient has its parameter's shape;",
        "⊙ is the elementwise product and 1[Z > 0] is 1 where Z > 0, else 0 (ReLU′(0) = 0).",
        "",
        "## Forward pass",
        "",
    ]
    for f, (lhs, rhs) in zip(backprop.forward, printed.forward, strict=True):
        lines += [f"${lhs} = {rhs}$", "", _forward_sentence(f, net), ""]
    [(lhs, rhs)] = printed.loss
    penalty = f" plus the L2 penalty with λ = {net.l2:g}" if net.l2 else ""
    lines += [
        "## Loss",
        "",
        f"${lhs} = {rhs}$",
        "",
        f"The {net.loss_fn.words}, averaged over the m examples{penalty}.",
        "",
        "## Backward pass",
        "",
    ]
    for e, (lhs, rhs) in zip(backprop.backward, printed.backward, strict=True):
        lines += [f"${lhs} = {rhs}$", "", _backward_sentence(e, backprop), ""]
    lines += ["## Update", ""]
    if optimizer is None:
        lines.append(
            r"Gradient descent with learning rate $\alpha$: $\theta \leftarrow \theta - \alpha "
            r"\frac{\partial \mathcal{L}}{\partial \theta}$ for every parameter θ."
        )
    else:
        lines += optimizer.notes()
    return "\n".join([*lines, ""])


def write_notes(backprop, path, optimizer=None) -> Path:
    """Write :func:`notes` (with ``optimizer``'s update rule) to ``path`` (folders created);
    returns the path.

    Raises:
        SymgradError: ``path`` is a folder, lies under a file or cannot be written.
    """
    path = output_file(path)
    path.write_text(notes(backprop, optimizer=optimizer), encoding="utf-8")
    return path
