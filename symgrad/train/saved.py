"""Train stage: a trained network saved to one ``.npz`` file, and loaded back to predict.

A model file is data, never code: NumPy arrays (the parameters, the standardization, the
class and feature names) and the network's description as JSON text, all read with
``np.load(allow_pickle=False)``. Loading rebuilds the network from the description (layer
sizes, named activations, the loss's name, λ) and its compiled module, and says so when
that module's hash differs from the one the model was trained with (another symgrad
version generates other code for the same equations). Only a :class:`Network` with named
activations can be saved: a tensor program or a Python activation is code. Imports the
model stage and :mod:`symgrad.train.compiled`.
"""

from __future__ import annotations

import json
import math
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symgrad._version import __version__
from symgrad.codegen.files import check_file
from symgrad.errors import SymgradError
from symgrad.model import losses
from symgrad.model.data import check_rows
from symgrad.model.network import MAX_LAYERS, Dense, Network
from symgrad.paths import DEFAULT_FOLDER
from symgrad.train.compiled import CompiledNetwork

#: What a model file says it is, in its description; another value is not symgrad's.
FORMAT = "symgrad-model"
#: The version of the file's layout; a newer one is refused with a clear message.
LAYOUT = 1
#: Array names of a model file besides the parameters (stored as ``param:<ident>``).
_EXTRAS = ("mean", "std", "classes", "features")


def describe(network: Network, optimizer: str, module_hash: str, label=None) -> dict:
    """The JSON-able description a model file keeps of ``network``.

    Raises:
        SymgradError: a tensor program, or an activation that is a Python function.
    """
    if not isinstance(network, Network):
        raise SymgradError(
            "only a Network can be saved; a tensor program is code: keep the file that makes it"
        )
    layers = []
    for l, layer in enumerate(network.layers, start=1):
        if not isinstance(layer.activation, str):
            raise SymgradError(
                f"layer {l}'s activation is a Python function, which a model file cannot hold "
                "(it is data, not code); save networks with named activations"
            )
        layers.append([layer.n_in, layer.n_out, layer.activation, float(layer.slope)])
    return {
        "format": FORMAT,
        "layout": LAYOUT,
        "symgrad": __version__,
        "layers": layers,
        "loss": network.loss_name,
        "l2": network.l2,
        "optimizer": optimizer,
        "module_hash": module_hash,
        "label": label,
    }


def save(result, path, *, mean=None, std=None, classes=None, features=None, label=None) -> Path:
    """Write a trained network (a :class:`~symgrad.train.fit.FitResult`) to ``path``.

    Args:
        result: what ``fit`` returned (its network, optimizer and parameters).
        path: the ``.npz`` file to write (the suffix is added when missing, as NumPy does).
        mean, std: the training set's feature means and deviations, when the features were
            standardized (``(X - mean) / std``) for training; prediction does it too.
        classes: the class names, in the order of the class indices the network predicts.
        features: the feature (column) names, which prediction's CSV files must have.
        label: the label's name (a CSV column), which names the predictions.

    Returns:
        The path written.

    Raises:
        SymgradError: a network that cannot be saved (see :func:`describe`), or extras of
            the wrong length.
    """
    compiled = result.compiled
    network = compiled.network
    info = describe(network, compiled.optimizer.name, check_file(compiled.path), label)
    n = int(network.X.shape[0])
    arrays = {f"param:{ident}": np.asarray(v) for ident, v in result.params.items()}
    for name, value, kind in [
        ("mean", mean, float),
        ("std", std, float),
        ("features", features, str),
        ("classes", classes, str),
    ]:
        if value is None:
            continue
        array = np.asarray(value, dtype=kind)
        if name != "classes" and array.shape != (n,):
            raise SymgradError(f"{name} must hold one value per feature ({n}), got {array.shape}")
        arrays[name] = array
    if ("mean" in arrays) != ("std" in arrays):
        raise SymgradError("give both mean and std (the standardization), or neither")
    path = Path(path)
    path = path if path.suffix == ".npz" else path.with_name(path.name + ".npz")
    np.savez(path, model=np.array(json.dumps(info)), **arrays)
    return path


@dataclass
class SavedModel:
    """A network loaded from a model file: ``predict(X)`` as the trained one, with the
    file's standardization and class names applied."""

    compiled: CompiledNetwork
    params: dict
    info: dict
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    classes: np.ndarray | None = None
    features: np.ndarray | None = None

    @property
    def network(self) -> Network:
        return self.compiled.network

    def predict(self, X_rows) -> np.ndarray:
        """Predictions for ``X_rows`` (rows = examples): class names when the file has them,
        else as :meth:`~symgrad.train.fit.FitResult.predict` gives them."""
        X_rows = check_rows(self.network, X_rows)
        if self.mean is not None:
            X_rows = (X_rows - self.mean) / self.std
        out = self.network.labels.predict(self.compiled.predict_proba(self.params, X_rows))
        return self.classes[out] if self.classes is not None else out

    def __repr__(self) -> str:
        extras = [
            "standardized" * (self.mean is not None),
            f"classes {', '.join(self.classes)}" * (self.classes is not None),
        ]
        more = "".join(f"; {e}" for e in extras if e)
        return f"<SavedModel {self.network.describe()}, {self.compiled.optimizer.name}{more}>"


def load(path, *, folder=DEFAULT_FOLDER) -> SavedModel:
    """A model file written by :func:`save` (or ``FitResult.save``), ready to predict.

    Args:
        path: the ``.npz`` file.
        folder: where the network's generated module goes (reused when it is there).

    Returns:
        A :class:`SavedModel`.

    Raises:
        SymgradError: a missing or unreadable file, or one that is not a symgrad model.
    """
    path = Path(path)
    if not path.is_file():
        raise SymgradError(f"no such model file: {path}")
    if not zipfile.is_zipfile(path):
        raise SymgradError(f"{path} is not a symgrad model file (not an NPZ file)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise SymgradError(f"{path} is not a symgrad model file ({error})") from None
    info = _read_info(path, arrays.pop("model", None))
    network = _network(path, info)
    params = {k.removeprefix("param:"): v for k, v in arrays.items() if k.startswith("param:")}
    extras = {name: arrays.get(name) for name in _EXTRAS}
    for name, kind in [("mean", "f"), ("std", "f"), ("classes", "U"), ("features", "U")]:
        value = extras[name]
        if value is not None and (value.ndim != 1 or value.dtype.kind != kind):
            raise SymgradError(f"{path} is not a symgrad model file (a bad {name!r} array)")
    try:
        compiled = CompiledNetwork(network, info["optimizer"], folder=folder)
        model = SavedModel(compiled, params, info, **extras)
        model.predict(np.zeros((1, int(network.X.shape[0]))))  # the parameters fit
    except SymgradError as error:
        raise SymgradError(f"{path} is not a usable symgrad model: {error}") from None
    if check_file(compiled.path) != info["module_hash"]:
        warnings.warn(
            f"{path} was trained with other generated code (symgrad {info['symgrad']}); "
            "predicting with this version's code for the same equations",
            stacklevel=2,
        )
    return model


def _read_info(path: Path, text) -> dict:
    """The description's JSON, checked to be a symgrad model's of a layout we read."""
    not_ours = SymgradError(f"{path} is not a symgrad model file (no model description)")
    if text is None or text.shape != () or text.dtype.kind != "U":
        raise not_ours
    try:
        info = json.loads(str(text))
    except ValueError:
        raise not_ours from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise not_ours
    if info.get("layout") != LAYOUT:
        raise SymgradError(
            f"{path} is a symgrad model of layout {info.get('layout')!r}; this version "
            f"({__version__}) reads layout {LAYOUT}"
        )
    return info


def _network(path: Path, info: dict) -> Network:
    """The network a description describes; a malformed one is one error naming the file."""
    try:
        layers = info["layers"]
        if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
            raise TypeError
        dense = [Dense(int(a), int(b), str(g), float(s)) for a, b, g, s in layers]
        if not all(isinstance(info[k], str) for k in ("loss", "optimizer", "module_hash")):
            raise TypeError
        return Network(dense, loss=_loss(info["loss"]), l2=float(info["l2"]))
    except (KeyError, TypeError, ValueError) as error:
        why = f": {error}" if isinstance(error, SymgradError) else ""
        raise SymgradError(f"{path} is not a symgrad model file (a bad description{why})") from None


def _loss(name: str):
    """A loss by the name a network gives it: a registry name or ``huber_<δ>``."""
    prefix, _, delta = name.partition("_")
    if name not in losses.LOSSES and prefix == "huber" and delta:
        value = float(delta)
        if math.isfinite(value):
            return losses.huber(value)
    return losses.get(name)
