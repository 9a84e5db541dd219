"""symgrad.apps.datasets: the lecture's and the study's data, with and without scikit-learn."""

import subprocess
import sys

import numpy as np
import pytest

from symgrad.apps.datasets import breast_cancer, standardize, two_moons


def test_breast_cancer_is_standardized():
    data = breast_cancer()
    assert data.X.shape == (569, 30) and set(np.unique(data.y)) == {0.0, 1.0}
    assert np.allclose(data.X.mean(axis=0), 0) and np.allclose(data.X.std(axis=0), 1)


def test_the_data_is_scikit_learns():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_breast_cancer(return_X_y=True)
    data = breast_cancer()
    assert np.array_equal(data.X, standardize(X)) and np.array_equal(data.y, y)
    for m, noise, seed in [(400, 0.2, 0), (101, 0.1, 3), (1, 0.0, 5)]:
        X, y = datasets.make_moons(m, noise=noise, random_state=seed)
        moons = two_moons(m, noise, seed)
        assert np.array_equal(moons.X, X) and np.array_equal(moons.y, y)


def test_loading_does_not_import_scikit_learn():
    code = (
        "import sys\n"
        "from symgrad.apps.datasets import breast_cancer, two_moons\n"
        "breast_cancer(), two_moons()\n"
        "print('sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fallbacks_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if not installed: no spec either
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    data = breast_cancer()
    assert data.X.shape == (569, 30) and 'pip install "symgrad[data]"' in data.fallback
    moons = two_moons(100)
    assert moons.X.shape == (100, 2) and set(np.unique(moons.y)) == {0.0, 1.0}
    assert "NumPy" in moons.about
