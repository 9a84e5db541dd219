"""Show stage: lecture notes of a network or a tensor program as one Markdown document.

Forward pass, loss and backward pass, each equation with a sentence that says what
the step does, in the lecture's notation (math in ``$…$``). A network's sentences speak of
its layers; a program's backward sentences say which tensors each gradient comes through.
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


def _symbols_sentence(net, printed) -> str:
    """What ⊙ means, and 1[Z > 0] where the equations use it; ReLU′(0) only with a ReLU."""
    sentence = "⊙ is the elementwise product"
    if any("mathbb{1}" in rhs for _, rhs in printed.backward):
        sentence += " and 1[Z > 0] is 1 where Z > 0, else 0"
        relu = PRIMITIVES.get("relu")
        kernels = (layer.kernel(f"layer {k}") for k, layer in enumerate(net.layers, 1))
        if any(kernel is not None and kernel.has(relu) for kernel in kernels):
            sentence += " (ReLU′(0) = 0)"
    return sentence + "."


def _backward_sentence(e, backprop) -> str:
    net = backprop.network
    l = e.layer
    if e.kind == "dZ":
        if l == len(net.layers):
            return (
                f"The error at the output: the chain rule through the {net.loss_fn.words} "
                "and the output activation, multiplied out and simplified to the expression "
                "above. This dZ is m times ∂L/∂Z: the 1/m of the average comes in dW and db."
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


def _uses(backprop) -> dict:
    """Tensor -> the printed names of the named forward tensors computed from it directly
    (through unnamed steps, not through another name)."""
    named = {f.node: f for f in backprop.forward}
    uses: dict = {}
    for f in backprop.forward:
        pending, seen = list(f.node.children()), set()
        while pending:
            node = pending.pop()
            if node in seen:
                continue
            seen.add(node)
            if node in named or hasattr(node, "ident"):
                uses.setdefault(node, []).append(f.tex)
            if node not in named:
                pending.extend(node.children())
    return uses


def _program_sentence(e, uses: dict, targets: dict) -> str:
    """What a program's backward equation gathers: the tensors its target feeds."""
    node = targets.get(e.ident[1:])
    through = list(dict.fromkeys(uses.get(node, [])))
    if not through:
        return "The chain rule from the loss."
    names = ", ".join(f"${t}$" for t in through)
    if len(through) == 1:
        return f"The chain rule through {names}, the one tensor computed from it."
    return f"The sum of the chain rule through each tensor computed from it: {names}."


def _program_notes(backprop, title: str | None) -> list[str]:
    """The forward, loss and backward sections of a user's program."""
    program = backprop.program
    printed = equations(backprop, "markdown")
    lines = [f"# {title or 'Backpropagation for the ' + program.describe()}", ""]
    lines += [
        "Notation: each data matrix has one example per column (m of them); every gradient has",
        "its tensor's shape; ⊙ is the elementwise product, Σᵢ sums over the examples and Σₖ",
        "over the rows of one example. A named gradient d(name) leaves out the loss's scalar",
        "factor (such as 1/m), which the parameters' gradients carry.",
        "",
        "## Forward pass",
        "",
    ]
    lines += [f"${lhs} = {rhs}$\n" for lhs, rhs in printed.forward]
    section = "Upstream gradient" if program.upstream is not None else "Loss"
    lines += [f"## {section}", "", *(f"${lhs} = {rhs}$" for lhs, rhs in printed.loss), ""]
    lines += ["## Backward pass", ""]
    uses = _uses(backprop)
    targets = {f.ident: f.node for f in backprop.forward}
    targets.update({leaf.ident: leaf for leaf in program.leaves if hasattr(leaf, "role")})
    for e, (lhs, rhs) in zip(backprop.backward, printed.backward, strict=True):
        lines += [f"${lhs} = {rhs}$", "", _program_sentence(e, uses, targets), ""]
    return lines


def notes(backprop, title: str | None = None, optimizer=None) -> str:
    """The lecture-notes Markdown document of ``backprop``.

    ``optimizer`` (a :class:`symgrad.train.optimizers.Optimizer`, or anything with its
    ``notes()``) writes the update section; without one it is gradient descent's rule.
    """
    net = backprop.network
    if not hasattr(net, "layers"):
        return "\n".join([*_program_notes(backprop, title), *_update(optimizer), ""])
    printed = equations(backprop, "markdown")
    lines = [f"# {title or 'Backpropagation for a ' + net.describe() + ' network'}", ""]
    lines += [
        "Notation: X is n×m with one example per column; W[l] is h×n and b[l] has h entries;",
        "Z[l] = W[l] A[l-1] + b[l] and A[l] = g(Z[l]). Every gradient has its parameter's shape;",
        _symbols_sentence(net, printed),
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
    return "\n".join([*lines, *_update(optimizer), ""])


def _update(optimizer) -> list[str]:
    """The update section: ``optimizer``'s rule, gradient descent's without one."""
    if optimizer is not None:
        return ["## Update", "", *optimizer.notes()]
    return [
        "## Update",
        "",
        r"Gradient descent with learning rate $\alpha$: $\theta \leftarrow \theta - \alpha "
        r"\frac{\partial \mathcal{L}}{\partial \theta}$ for every parameter θ.",
    ]


def write_notes(backprop, path, optimizer=None) -> Path:
    """Write :func:`notes` (with ``optimizer``'s update rule) to ``path`` (folders created);
    returns the path.

    Raises:
        SymgradError: ``path`` is a folder, lies under a file or cannot be written.
    """
    path = output_file(path)
    path.write_text(notes(backprop, optimizer=optimizer), encoding="utf-8")
    return path
