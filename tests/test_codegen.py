"""Generated Numba modules: their numbers against independent oracles, and their files.

Numbers: the compiled ``loss_and_grad`` against the NumPy reference evaluator (1e-12, float64)
for several architectures, activations and losses, on both product paths (loops below
``SMALL_PRODUCT`` multiply-adds, BLAS above); against central finite differences of the
compiled loss along a random direction; at logits of ±1000 against losses written here in NumPy.

Files: generation is deterministic; a file is reused while its hash matches, regenerated when
its source hash differs, refused when edited by hand (unless ``overwrite=True``); two processes
generating the same module at once leave one intact file; the module imports only numpy, numba
and math and runs without SymPy; the committed samples in ``generated/`` are up to date.
"""

import ast
import fractions
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mpmath
import numpy as np
import pytest

from symgrad.codegen.emit import LARGE_MAP, SMALL_PRODUCT
from symgrad.codegen.files import check_file, with_header
from symgrad.codegen.network import NetworkModule
from symgrad.errors import GeneratedFileError
from symgrad.nn import Network, derive, init_params, logistic_regression, mlp, reference
from symgrad.paths import CACHE_VARIABLE
from symgrad.train import optimizers
from symgrad.train.compiled import CompiledNetwork, module_name

REPO = Path(__file__).resolve().parents[1]

#: The committed sample modules in the repository's ``generated/`` folder.
EXAMPLES = [
    (
        "mlp_2_3_1_relu_sigmoid_bce_gd",
        lambda: Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce"),
        "gd",
    ),
    ("mlp_30_1_sigmoid_bce_gd", lambda: logistic_regression(30), "gd"),
]


def rel_err(g, h) -> float:
    """‖g − h‖ / (‖g‖ + ‖h‖), 0 when both are zero."""
    g, h = np.ravel(g), np.ravel(h)
    den = np.linalg.norm(g) + np.linalg.norm(h)
    return 0.0 if den == 0 else float(np.linalg.norm(g - h) / den)


def stable_sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ---- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, m",
    [
        ("logreg", 20),
        ("relu_bce", 7),
        ("tanh_softmax_l2", 9),
        ("leaky_mse", 6),
        ("wide_softmax", 5),  # W[2] A[1] (10·5·70) as loops, W[1] X (70·5·80) through BLAS
        ("wide_softmax", 64),  # every product through BLAS
        ("logreg", 20100),  # σ and the loss's sum over > LARGE_MAP entries: NumPy's ufuncs
        ("tanh_softmax_l2", 4100),  # tanh of 5 × 4100 > LARGE_MAP entries: NumPy's ufuncs
    ],
)
def test_loss_and_grad_match_reference(compiled_model, model_case, key, m):
    net = compiled_model(key).network
    X, y, params = model_case(net, m, seed=m)
    loss, grads = compiled_model(key).loss_and_grad(params, X, y)
    ref = reference(derive(net), params, X, y)
    assert abs(loss - ref.loss) <= 1e-12 * abs(ref.loss)
    assert set(grads) == {p.ident for p in net.params}
    for ident, g in grads.items():
        assert g.shape == params[ident].shape
        assert rel_err(g, ref.gradients[ident]) <= 1e-12, ident


def test_the_cases_above_exercise_every_code_path():
    """At m = 5 one product runs as loops and another through BLAS; elementwise kernels with
    exp/log/tanh/σ run as loops up to LARGE_MAP entries, through NumPy above."""
    assert 10 * 5 * 70 <= SMALL_PRODUCT < 70 * 5 * 80
    assert 5 * 9 <= LARGE_MAP < min(1 * 20100, 5 * 4100)


@pytest.mark.parametrize("key", ["relu_bce", "tanh_softmax_l2", "leaky_mse", "wide_softmax"])
def test_gradient_matches_finite_differences_along_a_random_direction(
    compiled_model, model_case, key
):
    c = compiled_model(key)
    X, y, params = model_case(c.network, 11, seed=3)
    rng = np.random.default_rng(4)
    direction = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    norm = np.sqrt(sum(np.sum(d**2) for d in direction.values()))
    direction = {k: d / norm for k, d in direction.items()}
    h = 1e-5

    def loss_at(s):
        return c.loss_and_grad({k: params[k] + s * direction[k] for k in params}, X, y)[0]

    numeric = (loss_at(h) - loss_at(-h)) / (2 * h)
    _, grads = c.loss_and_grad(params, X, y)
    analytic = sum(np.sum(grads[k] * direction[k]) for k in params)
    assert abs(numeric - analytic) <= 1e-7 * (abs(numeric) + abs(analytic)) + 1e-10


@pytest.mark.parametrize("copies", [1, 5100])  # 4 or 20400 entries: loops or NumPy's ufuncs
def test_logistic_regression_at_logits_of_1000(compiled_model, copies):
    c = compiled_model("logreg")
    X = np.zeros((4, 30))
    X[:, 0] = [1000.0, -1000.0, 1000.0, -1000.0]
    X[:, 1] = [1.0, 2.0, 3.0, 4.0]
    y = np.array([0.0, 1.0, 1.0, 0.0])  # two confidently wrong, two confidently right
    X, y = np.tile(X, (copies, 1)), np.tile(y, copies)
    params = {"W1": np.zeros((1, 30)), "b1": np.zeros(1)}
    params["W1"][0, 0] = 1.0
    loss, grads = c.loss_and_grad(params, X, y)
    z = X[:, 0]
    assert loss == pytest.approx(np.mean(np.logaddexp(0.0, z) - y * z), rel=1e-12)
    assert loss == pytest.approx(500.0, rel=1e-12)
    dz = stable_sigmoid(z) - y
    np.testing.assert_allclose(grads["W1"], (dz @ X)[None, :] / len(y), rtol=1e-12, atol=0)
    np.testing.assert_allclose(grads["b1"], [dz.mean()], rtol=1e-12, atol=0)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_softmax_network_at_logits_of_1000(compiled_model, model_case):
    c = compiled_model("tanh_softmax_l2")
    X, y, params = model_case(c.network, 8, seed=5)
    params["W2"] = 1000.0 * np.sign(params["W2"])  # |tanh| ≈ 1: logits of several thousand
    loss, grads = c.loss_and_grad(params, X, y)
    # the loss in plain NumPy, independent of the derived graph
    A1 = np.tanh(params["W1"] @ X.T + params["b1"][:, None])
    Z2 = params["W2"] @ A1 + params["b2"][:, None]
    assert np.abs(Z2).max() > 1000
    top = Z2.max(axis=0)
    lse = top + np.log(np.exp(Z2 - top).sum(axis=0))
    penalty = 0.1 / (2 * 8) * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    expected = np.mean(lse - Z2[y, np.arange(8)]) + penalty
    assert np.isfinite(loss)
    assert loss == pytest.approx(expected, rel=1e-12)
    ref = reference(derive(c.network), params, X, y)
    for ident, g in grads.items():
        assert np.all(np.isfinite(g)), ident
        assert rel_err(g, ref.gradients[ident]) <= 1e-12, ident


def exact_bce(z, y) -> float:
    """Mean over examples of softplus(z) − y·z, in 60-digit arithmetic, then rounded."""
    with mpmath.workdps(60):
        terms = []
        for zi, yi in zip(map(mpmath.mpf, map(float, z)), map(float, y), strict=True):
            terms.append(mpmath.log1p(mpmath.exp(zi)) - yi * zi)
        return float(mpmath.fsum(terms) / len(terms))


def exact_softmax_ce(Z, labels) -> float:
    """Mean over examples of log Σ_k exp(z_k) − z_label (Z: k×m), in 60-digit arithmetic."""
    with mpmath.workdps(60):
        terms = []
        for j, label in enumerate(labels):
            column = [mpmath.mpf(float(v)) for v in Z[:, j]]
            terms.append(mpmath.log(mpmath.fsum(map(mpmath.exp, column))) - column[label])
        return float(mpmath.fsum(terms) / len(terms))


#: Logits near the top of each precision's range, and the largest label-free bias there.
EDGE = [(np.float64, 1e308), (np.float64, 1.7e308), (np.float32, 3e38)]


@pytest.mark.parametrize("copies", [1, 5100])  # loops, or NumPy's ufuncs above LARGE_MAP
@pytest.mark.parametrize("dtype, big", EDGE)
def test_binary_cross_entropy_at_the_edge_of_the_range(compiled_model, copies, dtype, big):
    """Logits ±big: each example's loss is up to |z|, so their sum overflows but the mean
    does not; it must come out finite and right to rounding, with exact gradients."""
    c = compiled_model("logreg")
    rng = np.random.default_rng(7)
    X = rng.standard_normal((6, 30))
    X[:, 0] = [1.0, -1.0, 1.0, -1.0, 0.5, -1.0]
    y = np.array([0.0, 1.0, 1.0, 0.3, 1.0, 0.0])
    X, y = np.tile(X, (copies, 1)), np.tile(y, copies)
    params = {"W1": np.zeros((1, 30), dtype), "b1": np.zeros(1, dtype)}
    params["W1"][0, 0] = big  # Z = big · X[:, 0] exactly: ±big and big/2
    z = float(params["W1"][0, 0]) * X[:, 0]
    labels = y.astype(dtype).astype(np.float64)  # the labels the kernel sees
    loss, grads = c.loss_and_grad(params, X, y)
    assert np.isfinite(loss)
    single = dtype is np.float64
    assert loss == pytest.approx(exact_bce(z, labels), rel=1e-15 if single else 1e-6)
    dz = np.where(z > 0, 1.0, 0.0) - labels  # σ(±big) is 1 or 0 to every digit
    inputs = X.astype(dtype).astype(np.float64)
    tol = 1e-12 if single else 1e-5
    assert rel_err(grads["W1"], (dz @ inputs)[None, :] / len(y)) <= tol
    assert rel_err(grads["b1"], [dz.mean()]) <= tol
    if copies == 1 and single:
        ref = reference(derive(c.network), params, X, y)
        assert ref.loss == pytest.approx(exact_bce(z, y), rel=1e-15)
        for ident, g in grads.items():
            assert rel_err(g, ref.gradients[ident]) <= 1e-13, ident


@pytest.mark.parametrize("batch_size", [6, 4, 1])  # the whole set, minibatches, per example
def test_training_history_at_the_edge_of_the_range(compiled_model, batch_size):
    """The train loop's history is each epoch's mean loss: finite where the loss is."""
    c = compiled_model("logreg")
    X = np.zeros((6, 30))
    X[:, 0] = [1.0, -1.0, 1.0, -1.0, 0.5, -1.0]
    y = np.array([0.0, 1.0, 1.0, 0.3, 1.0, 0.0])
    W, b = np.zeros((1, 30)), np.zeros(1)
    W[0, 0] = 1.7e308
    history = np.full(2, np.nan)
    X_cols = np.ascontiguousarray(X.T)
    ran, _ = c.module.train(
        W, b, X_cols, X, y[None, :], 0.0, 0.0, 2, batch_size, 0, 0.0, np.inf, history
    )
    assert ran == 2 and W[0, 0] == 1.7e308  # a learning rate of 0 leaves the weights alone
    np.testing.assert_allclose(history, exact_bce(1.7e308 * X[:, 0], y), rtol=1e-15)


@pytest.mark.parametrize("dtype, big", EDGE)
def test_softmax_cross_entropy_at_the_edge_of_the_range(compiled_model, model_case, dtype, big):
    """Logits ±big: a zero label times an infinite gap would be NaN, an example's loss of
    2·big overflows; the mean is finite and must be right to rounding."""
    c = compiled_model("tanh_softmax_l2")
    X, y, params = model_case(c.network, 8, seed=5)
    y = np.array([0, 1, 2, 0, 0, 2, 0, 1])  # mean loss 0.75·big, plus the L2 term
    params = {k: v.astype(dtype) for k, v in params.items()}
    params["W2"][:] = 0.0
    params["b2"][:] = [big, -big, 0.0]
    loss, grads = c.loss_and_grad(params, X, y)
    Z = np.repeat(params["b2"].astype(np.float64)[:, None], 8, axis=1)
    W1 = params["W1"].astype(np.float64)
    penalty = 0.1 / (2 * 8) * np.sum(W1**2)
    assert loss == pytest.approx(exact_softmax_ce(Z, y) + penalty, rel=1e-15)
    assert np.isfinite(loss) and loss >= 0.75 * big
    # ∂L/∂b[2] = mean(softmax(z) − y) with softmax(z) = (1, 0, 0) exactly
    p_minus_y = np.array([[1.0], [0.0], [0.0]]) - np.eye(3)[:, y]
    np.testing.assert_allclose(grads["b2"], p_minus_y.mean(axis=1), rtol=1e-7, atol=0)
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    if dtype is np.float64:
        ref = reference(derive(c.network), params, X, y)
        assert ref.loss == pytest.approx(exact_softmax_ce(Z, y) + penalty, rel=1e-15)
        for ident, g in grads.items():
            assert rel_err(g, ref.gradients[ident]) <= 1e-12, ident


def test_mean_squared_error_at_large_outputs(compiled_model, model_case):
    """(a − y)²/2 up to 1e308 per entry: the sum overflows, the mean must not. A term that
    itself overflows ((a − y)² > 1.8e308) is a loss out of range: inf, never NaN or finite."""
    c = compiled_model("leaky_mse")
    X, _, params = model_case(c.network, 6, seed=8)
    y = np.zeros((6, 2))
    params["W2"][:] = 0.0
    params["b2"][:] = [1.3e154, -1.3e154]  # a − y = ±1.3e154: (a − y)²/2 = 8.45e307 each
    loss, grads = c.loss_and_grad(params, X, y)
    exact = 2 * (fractions.Fraction(1.3e154) ** 2 / 2)  # per example; every example alike
    assert loss == pytest.approx(float(exact), rel=1e-15)
    assert reference(derive(c.network), params, X, y).loss == pytest.approx(float(exact), rel=1e-15)
    np.testing.assert_allclose(grads["b2"], [1.3e154, -1.3e154], rtol=1e-15)
    params["b2"][:] = [1e155, 0.0]  # (a − y)² = 1e310: not a float64
    loss, grads = c.loss_and_grad(params, X, y)
    assert loss == np.inf
    np.testing.assert_allclose(grads["b2"], [1e155, 0.0], rtol=1e-15)
    with np.errstate(over="ignore"):
        assert reference(derive(c.network), params, X, y).loss == np.inf


@pytest.mark.parametrize("key, output", [("relu_bce", "A2"), ("logreg", "A1")])
def test_predict_proba_matches_reference_forward_pass(compiled_model, model_case, key, output):
    c = compiled_model(key)
    X, y, params = model_case(c.network, 13, seed=6)
    expected = reference(derive(c.network), params, X, y).forward[output].T
    np.testing.assert_allclose(c.predict_proba(params, X), expected, rtol=1e-12, atol=1e-15)


# ---- generated source -----------------------------------------------------------------------


def relu_bce():
    return Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")


@pytest.mark.parametrize("key", ["relu_bce", "tanh_softmax_l2", "leaky_mse"])
def test_generation_is_deterministic(compiled_model_specs, key):
    make, opt = compiled_model_specs[key]
    first = NetworkModule(derive(make()), optimizers.get(opt)).source()
    second = NetworkModule(derive(make()), optimizers.get(opt)).source()
    assert first == second


def test_two_folders_get_byte_identical_files(tmp_path):
    a = CompiledNetwork(relu_bce(), "adam", folder=tmp_path / "a")
    b = CompiledNetwork(relu_bce(), "adam", folder=tmp_path / "b")
    assert a.path.name == b.path.name == "mlp_2_3_1_relu_sigmoid_bce_adam.py"
    assert a.path.read_bytes() == b.path.read_bytes()


def test_gd_update_prints_in_the_generated_module(compiled_model):
    source = compiled_model("relu_bce").source()
    assert "Update (g = ∂L/∂θ)\nθ ← θ - α*g\n" in source
    assert "Network: 2-3-1, relu/sigmoid, bce; optimizer: gd." in source


def test_generated_modules_import_only_numpy_numba_and_math(compiled_model):
    for key in ["relu_bce", "tanh_softmax_l2", "leaky_mse"]:
        tree = ast.parse(compiled_model(key).source())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or ".").split(".")[0])
        assert imported == {"math", "numba", "numpy"}, key


# ---- files ----------------------------------------------------------------------------------


def test_an_intact_file_with_the_same_hash_is_reused(tmp_path):
    first = CompiledNetwork(relu_bce(), "gd", folder=tmp_path)
    before = os.stat(first.path)
    second = CompiledNetwork(relu_bce(), "gd", folder=tmp_path)
    after = os.stat(second.path)
    assert second.path == first.path
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_file_with_another_source_hash_is_regenerated(tmp_path):
    path = CompiledNetwork(relu_bce(), "gd", folder=tmp_path).path
    original = path.read_text()
    body = original.split("\n", 2)[2]
    stale = with_header(body.replace("Network: 2-3-1", "Network: 2-3-1 (old)"), "0" * 16)
    path.write_text(stale)
    assert check_file(path) == "0" * 16  # a consistent file, just from another source
    again = CompiledNetwork(relu_bce(), "gd", folder=tmp_path)
    assert again.path.read_text() == original
    assert "(old)" not in again.module.__doc__


def test_a_change_of_the_code_generator_regenerates_the_file(tmp_path, monkeypatch):
    path = CompiledNetwork(relu_bce(), "gd", folder=tmp_path).path
    source = NetworkModule.source
    monkeypatch.setattr(NetworkModule, "source", lambda self: source(self) + "# version 2\n")
    again = CompiledNetwork(relu_bce(), "gd", folder=tmp_path)
    assert again.path == path
    assert path.read_text().endswith("# version 2\n")
    check_file(path)


def test_a_file_edited_by_hand_is_refused_and_overwrite_regenerates_it(tmp_path):
    path = CompiledNetwork(relu_bce(), "gd", folder=tmp_path).path
    original = path.read_text()
    path.write_text(original + "# a comment added by hand\n")
    with pytest.raises(GeneratedFileError, match=path.name):
        CompiledNetwork(relu_bce(), "gd", folder=tmp_path)
    assert path.read_text().endswith("# a comment added by hand\n")  # left as it was
    CompiledNetwork(relu_bce(), "gd", folder=tmp_path, overwrite=True)
    assert path.read_text() == original


def test_a_file_without_header_is_refused(tmp_path):
    path = tmp_path / "mlp_2_3_1_relu_sigmoid_bce_gd.py"
    path.write_text("def loss_and_grad():\n    pass\n")
    with pytest.raises(GeneratedFileError, match=path.name):
        CompiledNetwork(relu_bce(), "gd", folder=tmp_path)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_two_processes_generating_the_same_module_at_once(tmp_path):
    folder, cache = tmp_path / "fresh", tmp_path / "cache"  # both written by the two at once
    snippet = textwrap.dedent(
        """
        import sys
        from symgrad.nn import Network, mlp
        from symgrad.train.compiled import CompiledNetwork

        net = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
        c = CompiledNetwork(net, "momentum", folder=sys.argv[1])
        print(c.path.name)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", snippet, str(folder)],
            env={**_env(), CACHE_VARIABLE: str(cache)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == "mlp_2_3_1_relu_sigmoid_bce_momentum.py"
    names = {f.name for f in folder.iterdir()} - {"__pycache__"}
    files = sorted(n for n in names if not n.endswith(".lock"))
    assert files == ["mlp_2_3_1_relu_sigmoid_bce_momentum.py"]  # no temporary file left over
    path = folder / files[0]
    check_file(path)
    (copy,) = cache.glob("*/*.py")  # one copy in the cache, no temporary file beside it
    assert copy.read_bytes() == path.read_bytes()
    assert not [f for f in copy.parent.iterdir() if f.name.endswith(".tmp")]
    expected = CompiledNetwork(relu_bce(), "momentum", folder=tmp_path / "here").path
    assert path.read_bytes() == expected.read_bytes()


_STANDALONE = textwrap.dedent(
    """
    import importlib.util
    import sys

    sys.modules["sympy"] = None  # any import of SymPy now fails
    import numpy as np

    path, name, data = sys.argv[1:]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    d = np.load(data)
    loss, grads = module.loss_and_grad(d["W1"], d["b1"], d["W2"], d["b2"], d["X"], d["Y"], 0.0)
    assert "symgrad" not in sys.modules
    print(repr(float(loss)), repr(float(grads[0][1, 1])))
    """
)


def _run_standalone(compiled, model_case, module_name_: str):
    """Run the generated module of ``compiled`` in a process without SymPy or symgrad."""
    X, y, params = model_case(compiled.network, 9, seed=7)
    loss, grads = compiled.loss_and_grad(params, X, y)  # also fills Numba's cache
    data = compiled.path.parent / "standalone_case.npz"
    np.savez(data, X=X.T.copy(), Y=y[None, :].copy(), **params)
    imported = compiled.module.__file__  # the cache's copy, beside Numba's cache
    assert Path(imported).read_text() == compiled.path.read_text()
    run = subprocess.run(
        [sys.executable, "-c", _STANDALONE, imported, module_name_, str(data)],
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert [float(v) for v in run.stdout.split()] == [loss, grads["W1"][1, 1]]


def test_generated_module_runs_without_sympy(compiled_model, model_case):
    # under the name symgrad imported it with: Numba's cache, filled above, is then reused
    c = compiled_model("relu_bce")
    _run_standalone(c, model_case, c.module.__name__)


_COMPILE_AND_CACHE = textwrap.dedent(
    """
    import sys
    import numpy as np
    from symgrad.nn import Network, init_params, mlp
    from symgrad.train.compiled import CompiledNetwork

    net = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
    c = CompiledNetwork(net, "gd", folder=sys.argv[1])
    assert c.module.__name__ == c.path.stem, c.module.__name__
    c.loss_and_grad(init_params(net), np.ones((4, 2)), np.array([0, 1, 1, 0]))
    assert open(c.module.__file__).read() == c.path.read_text()
    print(c.module.__file__)  # the cache's copy, beside Numba's cache
    """
)


def test_cached_generated_module_imports_under_its_file_name(tmp_path):
    # as a user would: symgrad compiles and caches in one process, a plain import in another
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    made = subprocess.run(
        [sys.executable, "-c", _COMPILE_AND_CACHE, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip())
    net = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
    params = init_params(net, seed=7)
    X, y = np.random.default_rng(7).standard_normal((9, 2)), np.arange(9) % 2
    data = tmp_path / "case.npz"
    np.savez(data, X=X.T.copy(), Y=y[None, :].astype(float), **params)
    run = subprocess.run(
        [sys.executable, "-c", _STANDALONE, str(path), path.stem, str(data)],
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    loss = reference(derive(net), params, X, y).loss
    assert float(run.stdout.split()[0]) == pytest.approx(loss, rel=1e-12)


# ---- the committed samples ------------------------------------------------------------------


def test_example_names_follow_module_name():
    for name, make, opt in EXAMPLES:
        assert module_name(make(), optimizers.get(opt)) == name


@pytest.mark.parametrize("name, make, opt", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_committed_sample_is_up_to_date(tmp_path, name, make, opt):
    committed = REPO / "generated" / f"{name}.py"
    if not committed.exists():
        pytest.skip(f"generated/{name}.py is not in the repository")
    fresh = CompiledNetwork(make(), opt, folder=tmp_path)
    assert fresh.path.name == committed.name
    assert committed.read_bytes() == fresh.path.read_bytes(), (
        f"generated/{name}.py is stale: regenerate it with "
        f"CompiledNetwork(..., folder='generated', overwrite=True) from the repository root"
    )


def test_every_committed_module_is_intact():
    folder = REPO / "generated"
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        check_file(path)


def _inlined(source: str) -> set:
    """Names of the generated functions Numba is told to inline into their callers."""
    marker = '@numba.njit(cache=True, inline="always", error_model="numpy")\ndef '
    return {part.split("(")[0] for part in source.split(marker)[1:]}


@pytest.mark.parametrize(
    "sizes, optimizer, inlined",
    [
        ([2, 3, 1], "gd", {"_forward_backward", "_step_one"}),
        # CPython compiles a call with more than 30 arguments as f(*args), which Numba's inliner
        # refuses: 10 parameters and their buffers for the step, 10 parameters, their 20 Adam
        # moments and 3 hyper-parameters for _step_one
        ([2, 3, 3, 3, 3, 1], "adam", set()),
    ],
)
def test_steps_are_inlined_into_their_loops_only_when_numba_can(sizes, optimizer, inlined):
    bp = derive(Network(mlp(sizes), "bce"))
    source = NetworkModule(bp, optimizers.get(optimizer)).source()
    assert _inlined(source) == inlined
    calls = [line.strip() for line in source.splitlines() if "_forward_backward(" in line]
    # the minibatch loop calls the step twice, through one compiled _batch_step
    assert sum("_batch_step(" in line for line in source.splitlines()) == 3  # def and 2 calls
    assert len(calls) == 4  # its def, _batch_step, the full-batch loop and loss_and_grad
