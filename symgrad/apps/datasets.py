"""Apps stage: the data sets the lecture and the study train on, without importing scikit-learn.

scikit-learn's breast-cancer data (standardized), read from the CSV file its installation
ships, found with :func:`importlib.util.find_spec`, which runs none of scikit-learn's code:
importing scikit-learn takes one to three seconds, longer than the rest of a warm lecture's
start. Two moons are drawn in NumPy, point for point as scikit-learn's ``make_moons`` draws
them. Without scikit-learn, a synthetic stand-in of the breast-cancer data's shape and a
sentence saying so. Imports NumPy only (scikit-learn's loader inside a function, when its
CSV file is not where it used to be).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Dataset:
    """Features (rows = examples), labels, and a sentence on where they came from."""

    X: np.ndarray
    y: np.ndarray
    about: str
    fallback: str | None = None


def standardize(X) -> np.ndarray:
    """Each column to mean 0 and standard deviation 1 (constant columns left at 0)."""
    X = np.asarray(X, dtype=float)
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _bundled(name: str) -> Path | None:
    """The data file ``name`` an installed scikit-learn ships, found without importing it."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec and spec.submodule_search_locations) or ():
        path = Path(folder, "datasets", "data", name)
        if path.is_file():
            return path
    return None


def _breast_cancer_rows() -> tuple[np.ndarray, np.ndarray] | None:
    """The breast-cancer features and 0/1 labels from scikit-learn's installation, or None.

    The CSV file's first line holds its sizes and class names; every other line 30
    features, then the label.
    """
    path = _bundled("breast_cancer.csv")
    if path is not None:
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        return table[:, :-1], table[:, -1]
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        return None
    return load_breast_cancer(return_X_y=True)


def breast_cancer() -> Dataset:
    """scikit-learn's bundled breast-cancer set, standardized; synthetic data without sklearn."""
    rows = _breast_cancer_rows()
    if rows is None:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((569, 30))
        y = (X[:, :5].sum(axis=1) + 0.5 * rng.standard_normal(569) > 0).astype(float)
        note = (
            'scikit-learn is not installed (pip install "symgrad[data]"), so the breast-cancer '
            "data is replaced by 569 synthetic examples of 30 standard normal features"
        )
        return Dataset(X, y, "569 synthetic examples with 30 features", note)
    X, y = rows
    about = (
        f"scikit-learn's breast-cancer data: {X.shape[0]} examples, {X.shape[1]} features, "
        "standardized (mean 0, standard deviation 1)"
    )
    return Dataset(standardize(X), y.astype(float), about)


def two_moons(m: int = 400, noise: float = 0.2, seed: int = 0) -> Dataset:
    """Two interleaving half circles in 2-D, the points of scikit-learn's
    ``make_moons(m, noise=noise, random_state=seed)``, drawn in NumPy.

    Half the points (rounded down) on the upper circle, label 0, the rest on the lower one,
    label 1, evenly spaced in angle; shuffled, then Gaussian noise added, both by one
    ``np.random.RandomState(seed)``.
    """
    outer, inner = m // 2, m - m // 2
    t_out, t_in = np.linspace(0, np.pi, outer), np.linspace(0, np.pi, inner)
    X = np.c_[
        np.r_[np.cos(t_out), 1 - np.cos(t_in)],
        np.r_[np.sin(t_out), 1 - np.sin(t_in) - 0.5],
    ]
    y = np.r_[np.zeros(outer), np.ones(inner)]
    rng = np.random.RandomState(seed)
    order = np.arange(m)
    rng.shuffle(order)
    X, y = X[order], y[order]
    X += rng.normal(scale=noise, size=X.shape)
    about = f"two moons: {m} points in 2-D with noise {noise:g}"
    return Dataset(X, y, about + " (scikit-learn's make_moons, drawn in NumPy)")
