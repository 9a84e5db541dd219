"""symgrad.apps.datasets: the lecture's and the study's data, with and without scikit-learn."""

import sys

import numpy as np

from symgrad.apps.datasets import breast_cancer, two_moons


def test_breast_cancer_is_standardized():
    data = breast_cancer()
    assert data.X.shape == (569, 30) and set(np.unique(data.y)) == {0.0, 1.0}
    assert np.allclose(data.X.mean(axis=0), 0) and np.allclose(data.X.std(axis=0), 1)


def test_fallbacks_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    data = breast_cancer()
    assert data.X.shape == (569, 30) and 'pip install "symgrad[data]"' in data.fallback
    moons = two_moons(100)
    assert moons.X.shape == (100, 2) and set(np.unique(moons.y)) == {0.0, 1.0}
    assert "NumPy" in moons.about
