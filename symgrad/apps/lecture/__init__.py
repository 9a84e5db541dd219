"""Apps stage, the end of the pipeline: lecture 7 (forward and backward propagation, learning
rates), rebuilt.

:func:`build_lecture` (:mod:`~symgrad.apps.lecture.build`) assembles the book
(:mod:`~symgrad.apps.lecture.book`) from its chapters (:mod:`~symgrad.apps.lecture.chapters`) and
writes it as ``index.md``, a notebook (:mod:`~symgrad.apps.lecture.notebook`) and LaTeX
(:mod:`~symgrad.apps.lecture.latex`); the data sets are :mod:`symgrad.apps.datasets`'. May
import every stage (it is the last, like the CLI).
"""

from __future__ import annotations

from symgrad.apps.datasets import Dataset, breast_cancer, standardize, two_moons
from symgrad.apps.lecture.build import build_lecture
from symgrad.apps.lecture.chapters import (
    EPOCHS,
    HIDDEN,
    LOGISTIC,
    LOGISTIC_POINT,
    RATES,
    TOY,
    TOY_POINT,
)

__all__ = [
    "EPOCHS",
    "HIDDEN",
    "LOGISTIC",
    "LOGISTIC_POINT",
    "RATES",
    "TOY",
    "TOY_POINT",
    "Dataset",
    "breast_cancer",
    "build_lecture",
    "standardize",
    "two_moons",
]
