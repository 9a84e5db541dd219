"""Optimizers as symbolic update rules, compiled into the training step.

Oracle: the textbook rules written here in NumPy (PyTorch's conventions: momentum
``v ← βv + g; θ ← θ − αv``; Adam with bias correction), applied to gradients from the NumPy
reference evaluator. Compiled steps — through ``fit`` with full batches and through the
module's own ``_update`` — must agree to 1e-12. Also the printed rules.
"""

import numpy as np
import pytest

from symgrad.errors import SymgradError
from symgrad.nn import derive, reference
from symgrad.train import optimizers
from symgrad.train.fit import fit


def rel_err(g, h) -> float:
    g, h = np.ravel(g), np.ravel(h)
    den = np.linalg.norm(g) + np.linalg.norm(h)
    return 0.0 if den == 0 else float(np.linalg.norm(g - h) / den)


def gd_step(p, g, state, lr, t):
    return p - lr * g


def momentum_step(p, g, state, lr, t, beta=0.9):
    state["v"] = beta * state.get("v", 0.0) + g
    return p - lr * state["v"]


def adam_step(p, g, state, lr, t, beta1=0.9, beta2=0.999, eps=1e-8):
    state["v"] = beta1 * state.get("v", 0.0) + (1 - beta1) * g
    state["s"] = beta2 * state.get("s", 0.0) + (1 - beta2) * g * g
    v_hat = state["v"] / (1 - beta1**t)
    s_hat = state["s"] / (1 - beta2**t)
    return p - lr * v_hat / (np.sqrt(s_hat) + eps)


def rmsprop_step(p, g, state, lr, t, rho=0.9, eps=1e-8):
    state["s"] = rho * state.get("s", 0.0) + (1 - rho) * g * g
    return p - lr * g / (np.sqrt(state["s"]) + eps)


def hand_training(network, params, X, y, step, lr, steps, **hyper):
    """``steps`` full-batch steps of ``step`` from reference gradients: (params, losses)."""
    bp = derive(network)
    params = {k: v.copy() for k, v in params.items()}
    states = {k: {} for k in params}
    losses = []
    for t in range(1, steps + 1):
        ref = reference(bp, params, X, y)
        losses.append(ref.loss)
        params = {k: step(params[k], ref.gradients[k], states[k], lr, t, **hyper) for k in params}
    return params, losses


@pytest.mark.parametrize(
    "key, step, lr, hyper",
    [
        ("logreg", gd_step, 0.3, {}),
        ("relu_bce", gd_step, 0.5, {}),
        ("tanh_softmax_l2", momentum_step, 0.2, {}),
        ("leaky_mse", adam_step, 0.01, {}),
    ],
    ids=["gd-logreg", "gd-mlp", "momentum", "adam"],
)
def test_full_batch_steps_match_the_textbook_rule(compiled_model, model_case, key, step, lr, hyper):
    c = compiled_model(key)
    X, y, params = model_case(c.network, 12, seed=21)
    before = {k: v.copy() for k, v in params.items()}
    result = fit(c.network, X, y, lr=lr, epochs=3, params=params, compiled=c)
    expected, losses = hand_training(c.network, params, X, y, step, lr, 3, **hyper)
    np.testing.assert_allclose(result.history, losses, rtol=1e-12, atol=0)
    for k, v in expected.items():
        assert rel_err(result.params[k], v) <= 1e-12, k
        assert rel_err(result.params[k], params[k]) > 1e-6, k  # the step did move θ
    assert all(np.array_equal(params[k], before[k]) for k in params)  # the caller's are kept


def test_momentum_hyperparameter_reaches_the_compiled_rule(
    compiled_model, model_case, codegen_folder
):
    """β is a runtime argument: β = 0.5 reuses the module generated for β = 0.9."""
    c = compiled_model("tanh_softmax_l2")
    X, y, params = model_case(c.network, 12, seed=22)
    opt = optimizers.momentum(0.5)
    result = fit(
        c.network, X, y, optimizer=opt, lr=0.2, epochs=3, params=params, folder=codegen_folder
    )
    assert result.compiled.path == c.path
    expected, _ = hand_training(c.network, params, X, y, momentum_step, 0.2, 3, beta=0.5)
    for k, v in expected.items():
        assert rel_err(result.params[k], v) <= 1e-12, k


@pytest.mark.parametrize(
    "key, step, hyper",
    [
        ("relu_bce", gd_step, {}),
        ("tanh_softmax_l2", momentum_step, {"beta": 0.9}),
        ("leaky_mse", adam_step, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    ],
    ids=["gd", "momentum", "adam"],
)
def test_update_applies_the_rule_to_given_gradients(compiled_model, key, step, hyper):
    """The module's ``_update`` on random parameters, gradients and state, at step t = 7."""
    c = compiled_model(key)
    rng = np.random.default_rng(23)
    names = [p.ident for p in c.network.params]
    params = {
        p.ident: rng.standard_normal(tuple(int(d) for d in p.shape)) for p in c.network.params
    }
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    state_names = [str(s) for s in c.optimizer.state]
    states = {k: {s: rng.random(v.shape) for s in state_names} for k, v in params.items()}
    values = [params[k].copy() for k in names]
    state_arrays = [states[k][s].copy() for s in state_names for k in names]
    lr, t = 0.05, 7.0
    assert c.hyper_names == list(hyper)  # the order _update takes them in
    c.module._update(
        *values,
        *(grads[k] for k in names),
        *state_arrays,
        lr,
        t,
        *(hyper[h] for h in c.hyper_names),
    )
    for i, k in enumerate(names):
        state = {s: a.copy() for s, a in states[k].items()}
        expected = step(params[k], grads[k], state, lr, t, **hyper)
        assert rel_err(values[i], expected) <= 1e-12, k
        for j, s in enumerate(state_names):
            assert rel_err(state_arrays[j * len(names) + i], state[s]) <= 1e-12, (k, s)


def test_gd_prints_the_lecture_rule():
    assert optimizers.get("gd").equations() == ["θ ← θ - α*g"]


def test_momentum_and_adam_print_their_rules():
    assert optimizers.get("momentum").equations() == ["v ← β*v + g", "θ ← θ - α*v"]
    adam = optimizers.get("adam").equations()
    assert adam[:2] == ["v ← β₁*v + g*(1 - β₁)", "s ← β₂*s + g^2*(1 - β₂)"]
    assert adam[2].startswith("θ ← θ - α*") and "1 - β₁^t" in adam[2] and "1 - β₂^t" in adam[2]


def test_compiled_module_documents_its_update_rule(compiled_model):
    source = compiled_model("tanh_softmax_l2").source()
    assert "Update (g = ∂L/∂θ)\nv ← β*v + g\nθ ← θ - α*v\n" in source


def test_unknown_optimizer_is_named():
    with pytest.raises(SymgradError, match="'lion'.*gd, momentum, adam"):
        optimizers.get("lion")


@pytest.mark.parametrize("rho, eps", [(0.9, 1e-8), (0.5, 1e-3)])
def test_rmsprop_steps_match_numpy_and_lower_the_loss(model_case, codegen_folder, rho, eps):
    from symgrad.nn import Network, mlp

    net = Network(mlp([3, 4, 1], hidden="tanh", output="sigmoid"), loss="bce")
    X, y, params = model_case(net, 16, seed=24)
    opt = optimizers.rmsprop(rho, eps)
    result = fit(net, X, y, optimizer=opt, lr=0.01, epochs=4, params=params, folder=codegen_folder)
    expected, losses = hand_training(net, params, X, y, rmsprop_step, 0.01, 4, rho=rho, eps=eps)
    np.testing.assert_allclose(result.history, losses, rtol=1e-12, atol=0)
    for k, v in expected.items():
        assert rel_err(result.params[k], v) <= 1e-12, k
    assert result.compiled.hyper_names == ["rho", "eps"]
    longer = fit(net, X, y, optimizer=opt, lr=0.01, epochs=200, params=params,
                 compiled=result.compiled, batch_size=4)  # fmt: skip
    assert longer.history[-1] < 0.8 * longer.history[0]


def test_rmsprop_prints_its_rule_and_checks_its_decay():
    assert optimizers.get("rmsprop").equations() == [
        "s ← g^2*(1 - ρ) + ρ*s",
        "θ ← θ - α*g/(ε + sqrt(s))",
    ]
    with pytest.raises(SymgradError, match="rmsprop: rho must be a number in"):
        optimizers.rmsprop(1.0)


#: optimizer -> a line of its rule in the notes, written out by hand from its textbook form.
RULE_LINES = {
    "gd": r"\theta &\leftarrow \theta - \alpha g",
    "momentum": r"v &\leftarrow \beta v + g \\",
    "adam": r"\theta &\leftarrow \theta - \frac{\alpha v}{\left(1 - \beta_{1}^{t}\right) "
    r"\left(\epsilon + \sqrt{\frac{s}{1 - \beta_{2}^{t}}}\right)}",
    "rmsprop": r"\theta &\leftarrow \theta - \frac{\alpha g}{\epsilon + \sqrt{s}}",
}
RULE_WORDS = {
    "gd": "Gradient descent with learning rate α, for every",
    "momentum": "Heavy-ball momentum with learning rate α (β = 0.9)",
    "adam": "Adam (bias-corrected) with learning rate α (β₁ = 0.9, β₂ = 0.999, ε = 1e-08)",
    "rmsprop": "RMSprop with learning rate α (ρ = 0.9, ε = 1e-08)",
}


@pytest.mark.parametrize("name", list(RULE_LINES))
def test_notes_print_the_optimizers_update_rule(name, tmp_path):
    from symgrad.cli import main
    from symgrad.nn import logistic_regression
    from symgrad.show.notes import notes

    update = notes(derive(logistic_regression(2)), optimizer=optimizers.get(name))
    update = update.split("## Update")[1]
    assert RULE_LINES[name] in update.splitlines()
    assert RULE_WORDS[name] in update
    assert ("state" in update) == (name != "gd")
    out = tmp_path / "n.md"
    assert main(["notes", "--layers", "2,1", "--optimizer", name, "-o", str(out)]) == 0
    assert RULE_LINES[name] in out.read_text(encoding="utf-8").splitlines()


def test_notes_without_an_optimizer_keep_the_lectures_rule():
    from symgrad.nn import logistic_regression
    from symgrad.show.notes import notes

    text = notes(derive(logistic_regression(2)))
    assert r"Gradient descent with learning rate $\alpha$: $\theta \leftarrow" in text
