"""Model files (symgrad.train.saved): FitResult.save -> symgrad.load -> predict, the file's
contents read back without pickle, files that are not symgrad's, and the short reprs.

One trained 2-3-1 network of the session (conftest's ``relu_bce``), so nothing compiles twice.
"""

import json
import warnings
import zipfile

import numpy as np
import pytest
import sympy

import symgrad
from symgrad.errors import ShapeError, SymgradError
from symgrad.nn import Dense, Network, mlp
from symgrad.train.fit import fit
from symgrad.train.saved import _loss, describe


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _by_hand(params, X_rows):
    """The 2-3-1 relu/sigmoid network's output per example, in NumPy."""
    A1 = np.maximum(0, params["W1"] @ X_rows.T + params["b1"][:, None])
    return _sigmoid(params["W2"] @ A1 + params["b2"][:, None])[0]


@pytest.fixture(scope="module")
def trained(compiled_model, codegen_folder):
    compiled = compiled_model("relu_bce")
    rng = np.random.default_rng(3)
    X = rng.standard_normal((120, 2))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    result = fit(compiled.network, X, y, lr=0.5, epochs=200, compiled=compiled)
    return result, X, y, codegen_folder


def test_save_load_predict_round_trip(trained, tmp_path):
    result, X, y, folder = trained
    path = result.save(tmp_path / "model.npz")
    model = symgrad.load(path, folder=folder)
    assert np.array_equal(model.predict(X), result.predict(X))
    assert np.array_equal(model.predict(X), (_by_hand(result.params, X) >= 0.5).astype(int))
    for ident, value in result.params.items():
        assert np.array_equal(model.params[ident], value)
    assert model.network.describe() == "2-3-1, relu/sigmoid, bce"
    assert model.mean is None and model.classes is None
    with pytest.raises(ShapeError, match=r"X must have shape \(m, 2\)"):
        model.predict(np.zeros((4, 3)))


def test_standardization_and_class_names_are_applied_on_prediction(trained, tmp_path):
    result, X, y, folder = trained
    mean, std = np.array([1.0, -2.0]), np.array([2.0, 0.5])
    path = result.save(tmp_path / "m", mean=mean, std=std, classes=["no", "yes"], label="ok")
    assert path.name == "m.npz"
    model = symgrad.load(path, folder=folder)
    raw = mean + X * std  # rows that standardize to X
    expected = np.where(_by_hand(result.params, X) >= 0.5, "yes", "no")
    assert np.array_equal(model.predict(raw), expected)
    assert model.info["label"] == "ok"


def test_the_file_is_arrays_and_json_read_without_pickle(trained, tmp_path):
    result, *_ = trained
    path = result.save(tmp_path / "model.npz", features=["a", "b"])
    with np.load(path, allow_pickle=False) as data:
        info = json.loads(str(data["model"]))
        params = ["param:W1", "param:W2", "param:b1", "param:b2"]
        assert sorted(data.files) == ["features", "model", *params]
        assert list(data["features"]) == ["a", "b"]
        assert np.array_equal(data["param:W2"], result.params["W2"])
    assert info["layers"] == [[2, 3, "relu", 0.01], [3, 1, "sigmoid", 0.01]]
    assert (info["format"], info["loss"], info["optimizer"]) == ("symgrad-model", "bce", "gd")
    header = result.compiled.path.read_text().splitlines()[0]
    assert header == f"# symgrad-source-hash: {info['module_hash']}"


def test_a_changed_module_hash_is_a_warning(trained, tmp_path):
    result, X, _, folder = trained
    path = result.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as data:
        arrays = dict(data)
    info = json.loads(str(arrays["model"]))
    info["module_hash"] = "0" * 16
    arrays["model"] = np.array(json.dumps(info))
    np.savez(path, **arrays)
    with pytest.warns(UserWarning, match="trained with other generated code"):
        model = symgrad.load(path, folder=folder)
    assert np.array_equal(model.predict(X), result.predict(X))


def _with_info(tmp_path, change):
    arrays = {"param:W1": np.zeros((1, 2)), "param:b1": np.zeros(1)}
    info = {
        "format": "symgrad-model",
        "layout": 1,
        "layers": [[2, 1, "sigmoid", 0.01]],
        "loss": "bce",
        "l2": 0.0,
        "optimizer": "gd",
        "module_hash": "x",
    }
    change(info, arrays)
    np.savez(tmp_path / "bad.npz", model=np.array(json.dumps(info)), **arrays)
    return tmp_path / "bad.npz"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda i, a: i.update(format="other"), "is not a symgrad model file (no model"),
        (lambda i, a: i.update(layout=7), "layout 7; this version"),
        (lambda i, a: i.update(layers=[[2, 1, "swish", 0]]), "unknown activation 'swish'"),
        (lambda i, a: i.update(layers="x"), "a bad description"),
        (lambda i, a: i.pop("loss"), "a bad description"),
        (lambda i, a: i.update(loss="hinge"), "unknown loss 'hinge'"),
        (lambda i, a: a.pop("param:b1"), "missing parameter b1"),
        (lambda i, a: a.update({"param:W1": np.zeros(3)}), "W1 must have shape (1, 2)"),
        (lambda i, a: a.update(mean=np.array(["a", "b"])), "a bad 'mean' array"),
    ],
)
def test_a_file_that_is_not_a_usable_model_is_one_error(tmp_path, change, message):
    with pytest.raises(SymgradError, match="bad.npz") as error:
        symgrad.load(_with_info(tmp_path, change), folder=tmp_path / "code")
    assert message in str(error.value)


def test_files_that_are_not_models(tmp_path):
    np.savez(tmp_path / "data.npz", X=np.zeros((3, 2)), y=np.zeros(3))
    np.savez(tmp_path / "objects.npz", model=np.array([{"a": 1}], dtype=object))
    (tmp_path / "text.npz").write_text("hello")
    cases = {
        "data.npz": "is not a symgrad model file (no model description)",
        "objects.npz": "is not a symgrad model file",
        "text.npz": "is not a symgrad model file (not an NPZ file)",
        "missing.npz": "no such model file",
    }
    for name, message in cases.items():
        with pytest.raises(SymgradError, match=name.split(".")[0]) as error:
            symgrad.load(tmp_path / name)
        assert message in str(error.value), name
    assert not (tmp_path / "generated").exists()


def test_only_networks_with_named_activations_are_described():
    with pytest.raises(SymgradError, match="layer 1's activation is a Python function"):
        describe(Network([Dense(2, 1, sympy.sin)], loss="mse"), "gd", "h")
    import symgrad.nn as nn

    X, Y = nn.data("X", 2), nn.labels("Y")
    w = nn.param("w", (1, 2))
    program = nn.Program(nn.mean((w @ X - Y) ** 2), output=w @ X)
    with pytest.raises(SymgradError, match="only a Network can be saved"):
        describe(program, "gd", "h")


def test_a_huber_loss_keeps_its_delta():
    assert _loss("huber_2.5").name == "huber_2.5"
    assert _loss("huber").name == "huber" and _loss("mse").name == "mse"


def test_short_reprs(trained, tmp_path):
    result, X, y, folder = trained
    net = Network(mlp([2, 3, 1]), loss="bce")
    assert repr(net) == "<Network 2-3-1, relu/sigmoid, bce: 13 parameters>"
    h = result.history
    assert repr(result) == (
        f"<FitResult 2-3-1, relu/sigmoid, bce, gd: 200 epochs, loss {h[0]:.4g} → {h[-1]:.4g}>"
    )
    path = result.save(tmp_path / "m.npz", mean=[0, 0], std=[1, 1], classes=["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = symgrad.load(path, folder=folder)
    assert repr(model) == "<SavedModel 2-3-1, relu/sigmoid, bce, gd; standardized; classes a, b>"
    assert zipfile.is_zipfile(path)
