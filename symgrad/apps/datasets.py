"""Apps stage: the data sets the lecture and the study train on, with or without scikit-learn.

scikit-learn's breast-cancer data (standardized) and two moons; without scikit-learn, a
synthetic stand-in of the same shape and a sentence saying so. Imports NumPy only
(scikit-learn when it is there, inside the functions).
"""

from __future__ import annotations

from dataclasses import dataclass

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


def breast_cancer() -> Dataset:
    """scikit-learn's bundled breast-cancer set, standardized; synthetic data without sklearn."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((569, 30))
        y = (X[:, :5].sum(axis=1) + 0.5 * rng.standard_normal(569) > 0).astype(float)
        note = (
            'scikit-learn is not installed (pip install "symgrad[data]"), so the breast-cancer '
            "data is replaced by 569 synthetic examples of 30 standard normal features"
        )
        return Dataset(X, y, "569 synthetic examples with 30 features", note)
    X, y = load_breast_cancer(return_X_y=True)
    about = (
        f"scikit-learn's breast-cancer data: {X.shape[0]} examples, {X.shape[1]} features, "
        "standardized (mean 0, standard deviation 1)"
    )
    return Dataset(standardize(X), y.astype(float), about)


def two_moons(m: int = 400, noise: float = 0.2, seed: int = 0) -> Dataset:
    """Two interleaving half circles in 2-D: scikit-learn's ``make_moons``, else NumPy's."""
    about = f"two moons: {m} points in 2-D with noise {noise:g}"
    try:
        from sklearn.datasets import make_moons
    except ImportError:
        rng = np.random.default_rng(seed)
        t = np.pi * rng.random(m)
        half = np.arange(m) % 2
        X = np.where(
            half[:, None] == 0,
            np.c_[np.cos(t), np.sin(t)],
            np.c_[1 - np.cos(t), 0.5 - np.sin(t)],
        )
        X = X + noise * rng.standard_normal((m, 2))
        return Dataset(X, half.astype(float), about + " (NumPy)")
    X, y = make_moons(m, noise=noise, random_state=seed)
    return Dataset(X, y.astype(float), about + " (scikit-learn's make_moons)")
