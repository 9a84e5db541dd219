"""Every tensor node class has an entry in every interpretation's table, or is in that
interpretation's explicit exclusion set; a planted new node class is caught; a missing entry
is a one-line error naming the class and the interpretation."""

import gc
from dataclasses import dataclass

import pytest

from symgrad.codegen import emit, scalarized
from symgrad.derive import vjp
from symgrad.model import numeric
from symgrad.model.tensor import Tensor
from symgrad.show import equations

#: Each interpretation: (its tables, the classes it leaves out on purpose).
INTERPRETATIONS = {
    "VJP": ([vjp.TENSOR_RULES], vjp.NO_VJP),
    "NumPy evaluation": ([numeric.EVALUATORS], frozenset()),
    "Numba emission": ([emit.EMITTERS, emit.VIEWS], frozenset()),
    "scalarization": ([scalarized.SCALARIZERS], scalarized.NOT_SCALARIZED),
    "printing": ([equations.RENDERERS], equations.NAMED),
}


@pytest.fixture(autouse=True)
def _forget_planted_classes():
    """Classes planted by a test leave ``Tensor.__subclasses__()`` once collected."""
    yield
    gc.collect()


def node_classes() -> set[type]:
    """Every subclass of Tensor, walked recursively (so a subclass of a subclass counts)."""
    found, pending = set(), list(Tensor.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls not in found:
            found.add(cls)
            pending.extend(cls.__subclasses__())
    return found


def gaps() -> list[str]:
    """``interpretation: class`` for each class with neither an entry nor an exclusion."""
    missing = []
    for name, (tables, excluded) in INTERPRETATIONS.items():
        for cls in node_classes():
            if not any(cls in t for t in tables) and cls not in excluded:
                missing.append(f"{name}: {cls.__name__}")
    return sorted(missing)


def test_every_node_class_is_in_every_table_or_excluded():
    assert gaps() == []


def test_no_class_is_both_handled_and_excluded():
    for name, (tables, excluded) in INTERPRETATIONS.items():
        handled = set().union(*tables)
        assert not handled & excluded, name
        if len(tables) > 1:  # one entry per class across an interpretation's tables
            assert sum(len(t) for t in tables) == len(handled), name


def test_the_tables_hold_only_node_classes():
    for tables, excluded in INTERPRETATIONS.values():
        for cls in set().union(*tables) | excluded:
            assert issubclass(cls, Tensor)


def test_a_planted_node_class_is_caught():
    """The oracle of the completeness test: a new node class without entries fails it."""

    @dataclass(frozen=True)
    class Planted(Tensor):
        a: Tensor

    try:
        assert gaps() == sorted(f"{name}: Planted" for name in INTERPRETATIONS)
    finally:
        del Planted
    gc.collect()
    assert gaps() == []


def test_a_missing_entry_is_one_line_naming_the_class_and_interpretation():
    @dataclass(frozen=True)
    class Unknown(Tensor):
        shape: tuple = (2,)

    node = Unknown()
    with pytest.raises(TypeError, match=r"^no NumPy evaluation .*Unknown$"):
        numeric.evaluate([node], {}, {})
    with pytest.raises(TypeError, match=r"^no printing .*Unknown$"):
        equations.Renderer("text", {})(node)
    with pytest.raises(TypeError, match=r"^no Numba emission .*Unknown$"):
        emit.Emitter([node], {}, {}, emit.KernelPrinter())
