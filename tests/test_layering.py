"""Imports go one way, along the pipeline; importing symgrad changes nothing outside it.

Every import of every module is read with ``ast`` — at the top of a module and inside its
functions alike — and checked against :data:`STAGES`, the pipeline's order written as data:
a module may import modules of its own stage or of an earlier one, never a later one, and
no import cycle may join any modules. Importing a module first runs every package
``__init__`` above it, so the top-level imports of those count as the module's own for the
order (``symgrad.model.tensor`` may not pull a later stage in through ``symgrad/__init__``);
a package importing its own modules is no cycle (its ``__init__`` runs first either way).
:data:`EXCEPTIONS` lists the imports that still go against the order, each with its reason.
Subprocess tests then check that importing symgrad has no side effect another module or the
user depends on: no rule is registered in another module's table, matplotlib is not imported
(so no backend is chosen), no file or folder is written.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import symgrad

PACKAGE = Path(symgrad.__file__).parent

#: The pipeline, from its start to its end: each stage's modules (a package by its name).
STAGES: list[tuple[str, list[str]]] = [
    ("base", ["symgrad._version", "symgrad.errors", "symgrad.paths"]),
    (
        "functions: scalar primitives",
        ["symgrad.functions.primitive", "symgrad.functions.builtins", "symgrad.functions"],
    ),
    (
        "read: text to formulas",
        [
            "symgrad.read",
            "symgrad.read.reader.tree",
            "symgrad.read.reader.builder",
            "symgrad.read.reader",
            "symgrad.read.parsing",
        ],
    ),
    (
        "engine: the chain rule",
        [
            "symgrad.engine",
            "symgrad.engine.graph",
            "symgrad.engine.rules",
            "symgrad.engine.autodiff",
            "symgrad.engine.evaluate",
        ],
    ),
    # built on the engine: a Map's kernel is differentiated by it
    (
        "model: tensor programs, losses, networks, data",
        [
            "symgrad.model",
            "symgrad.model.tensor",
            "symgrad.model.rewrite",
            "symgrad.model.losses",
            "symgrad.model.program",
            "symgrad.model.network",
            "symgrad.model.data",
            "symgrad.model.numeric",
        ],
    ),
    # before derive: printers need only the IR and the engine, and derived objects
    # (a Backprop, a Trace) print themselves through them
    (
        "show: equations, traces, pictures, notes",
        [
            "symgrad.show",
            "symgrad.show.printing",
            "symgrad.show.equations",
            "symgrad.show.trace.render",
            "symgrad.show.trace.evaluation",
            "symgrad.show.trace",
            "symgrad.show.trace.network",
            "symgrad.show.draw",
            "symgrad.show.picture",
            "symgrad.show.notes",
        ],
    ),
    (
        "derive: tensor backprop, fusion, stable forms",
        [
            "symgrad.derive",
            "symgrad.derive.vjp",
            "symgrad.derive.stabilize",
            "symgrad.derive.simplify",
            "symgrad.derive.backprop",
        ],
    ),
    (
        "codegen",
        [
            "symgrad.codegen",
            "symgrad.codegen.files",
            "symgrad.codegen.precompile",
            "symgrad.codegen.signature",
            "symgrad.codegen.vector_math",
            "symgrad.codegen.kernels",
            "symgrad.codegen.runtime",
            "symgrad.codegen.emit",
            "symgrad.codegen.scalarized",
            "symgrad.codegen.scalar_source",
            "symgrad.codegen.scalar",
            "symgrad.codegen.network",
        ],
    ),
    (
        "train",
        [
            "symgrad.train",
            "symgrad.train.optimizers",
            "symgrad.train.compiled",
            "symgrad.train.numpy_tier",
            "symgrad.train.shards",
            "symgrad.train.distributed",
            "symgrad.train.fit",
            "symgrad.train.saved",
        ],
    ),
    (
        "check",
        [
            "symgrad.check.report",
            "symgrad.check.oracle",
            "symgrad.check.kinks",
            "symgrad.check.scalar",
            "symgrad.check.network",
            "symgrad.check.program",
            "symgrad.check.claim_report",
            "symgrad.check.claim",
            "symgrad.check.backward",
            "symgrad.check",
        ],
    ),
    ("public surface", ["symgrad", "symgrad.nn", "symgrad.nn.trace"]),
    (
        "apps",
        [
            "symgrad.apps",
            "symgrad.apps.datasets",
            "symgrad.apps.curves",
            "symgrad.apps.study",
            "symgrad.apps.lecture.book",
            "symgrad.apps.lecture.loop",
            "symgrad.apps.lecture.chapters",
            "symgrad.apps.lecture.trace",
            "symgrad.apps.lecture.latex",
            "symgrad.apps.lecture.notebook",
            "symgrad.apps.lecture.build",
            "symgrad.apps.lecture",
        ],
    ),
    (
        "cli",
        [
            "symgrad.cli.common",
            "symgrad.cli.formula",
            "symgrad.cli.check",
            "symgrad.cli.cluster",
            "symgrad.cli.network",
            "symgrad.cli.trace",
            "symgrad.cli.training",
            "symgrad.cli.lecture",
            "symgrad.cli.main",
            "symgrad.cli",
            "symgrad.__main__",
        ],
    ),
]

#: (importer, imported) -> why this import may still go against the order.
EXCEPTIONS: dict[tuple[str, str], str] = {}

STAGE = {module: i for i, (_, modules) in enumerate(STAGES) for module in modules}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path, *, top_only: bool = False) -> list[tuple[str, int]]:
    """The symgrad modules ``name`` imports anywhere in its file (``top_only``: those run at
    import time, outside functions and classes), with line numbers.

    ``from a import b`` names module ``a.b`` when that is a module, else ``a`` itself.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in _top_level(tree) if top_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        found += [(t, node.lineno) for t in targets if t == "symgrad" or t.startswith("symgrad.")]
    return found


def _top_level(tree: ast.Module):
    """The statements that run when the module is imported (functions' bodies do not)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack += [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}
#: Each package's imports made at import time: what a module below it runs first.
TOP = {name: _imports(name, path, top_only=True) for name, path in MODULES.items()}


def _parents(name: str) -> list[str]:
    """The packages whose ``__init__`` runs before ``name``: ``symgrad``, ``symgrad.nn``, …"""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _implicit(name: str, top: dict) -> list[tuple[str, str, int]]:
    """(package, target, line): imports the packages above ``name`` make when it is imported,
    other than ``name`` and the packages themselves."""
    skip = {name, *_parents(name)}
    found = [(p, t, line) for p in _parents(name) for t, line in top.get(p, []) if t not in skip]
    return list(dict.fromkeys(found))


def test_every_module_has_its_stage():
    assert sorted(MODULES) == sorted(STAGE), "add the module to STAGES (or remove it there)"


def test_imports_follow_the_pipeline():
    wrong = []
    for name, targets in GRAPH.items():
        for target, line in targets:
            if STAGE[target] > STAGE[name] and (name, target) not in EXCEPTIONS:
                where = f"{MODULES[name].relative_to(PACKAGE.parent)}:{line}"
                wrong.append(f"{where}: {name} imports {target} ({STAGES[STAGE[target]][0]})")
        for package, target, line in _implicit(name, TOP):
            if STAGE[target] > STAGE[name] and (name, target) not in EXCEPTIONS:
                where = f"{MODULES[package].relative_to(PACKAGE.parent)}:{line}"
                wrong.append(
                    f"{where}: importing {name} runs {package}, which imports {target} "
                    f"({STAGES[STAGE[target]][0]})"
                )
    assert not wrong, "imports against the pipeline's order:\n" + "\n".join(wrong)


def test_every_exception_is_still_needed():
    edges = {(name, target) for name, targets in GRAPH.items() for target, _ in targets}
    stale = [f"{a} -> {b}" for a, b in EXCEPTIONS if (a, b) not in edges]
    assert not stale, "imports no longer made; remove them from EXCEPTIONS: " + ", ".join(stale)


def _cycle() -> list[str] | None:
    """One import cycle among the modules, if there is any (iterative depth-first search)."""
    edges = {name: sorted({t for t, _ in targets} - {name}) for name, targets in GRAPH.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(edges):
        if start in state:
            continue
        path, iters = [start], [iter(edges[start])]
        state[start] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(edges[nxt]))
    return None


def test_no_import_cycles():
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle(monkeypatch):
    """The oracle of the test above: a cycle through a function-level import is found."""
    planted = dict(GRAPH)
    planted["symgrad.errors"] = [*GRAPH["symgrad.errors"], ("symgrad.cli.main", 1)]
    monkeypatch.setitem(globals(), "GRAPH", planted)
    cycle = _cycle()
    assert cycle is not None and cycle[0] == cycle[-1] and "symgrad.errors" in cycle


def test_a_package_init_counts_for_every_module_below_it():
    """The oracle of the implicit imports: a later stage imported at the top of a package's
    ``__init__`` is found for a module two levels below it; one inside a function is not."""
    top = {"symgrad": [("symgrad.cli.main", 3)], "symgrad.nn": [("symgrad.nn", 1)]}
    assert _implicit("symgrad.model.tensor", top) == [("symgrad", "symgrad.cli.main", 3)]
    lazy = ast.parse("def __getattr__(name):\n    from symgrad.cli import main\n")
    assert list(_top_level(lazy))[0].name == "__getattr__"
    assert not [n for n in _top_level(lazy) if isinstance(n, ast.ImportFrom)]


def test_the_public_surfaces_load_names_only_from_earlier_stages():
    """``symgrad`` and ``symgrad.nn`` import each public name's module by its name in
    ``_HOMES`` (on first use), which the import reader above cannot see: check those too."""
    import symgrad.nn

    wrong = [
        f"{facade.__name__}: {name} from {home} ({STAGES[STAGE[home]][0]})"
        for facade in (symgrad, symgrad.nn)
        for name, home in facade._HOMES.items()
        if STAGE[home] > STAGE[facade.__name__]
    ]
    assert not wrong, "public names from later stages:\n" + "\n".join(wrong)


def test_function_level_imports_are_read():
    """cli.formula imports the trace stage inside a command, not at its top."""
    assert "symgrad.show.trace" in {t for t, _ in GRAPH["symgrad.cli.formula"]}
    assert "symgrad.functions" in {
        t for t, _ in GRAPH["symgrad.engine.rules"]
    }  # from symgrad import F


# ---- no import-time side effects ------------------------------------------------------


def _run(code: str, cwd: Path) -> str:
    """Run ``code`` in a fresh interpreter in ``cwd``; its stdout."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_every_module_touches_nothing_outside_it(tmp_path):
    """No rule lands in another module's table, no matplotlib (so no backend), no files."""
    out = _run(
        f"""
        import importlib, sys
        from symgrad.engine import rules
        before = sorted(map(repr, rules.RULES))
        for name in {sorted(MODULES)!r}:
            importlib.import_module(name)
        assert sorted(map(repr, rules.RULES)) == before, "a module registered a rule"
        assert "matplotlib" not in sys.modules, "matplotlib imported at import time"
        print("ok")
        """,
        tmp_path,
    )
    assert out == "ok\n"
    assert list(tmp_path.iterdir()) == []


def test_tensor_rules_need_no_other_import_first(tmp_path):
    """The engine differentiates a tensor program from the tensor rules' own table.

    ∂/∂W Σ(W X) is the textbook G Xᵀ with G a matrix of ones; no tensor rule is in the
    shared registry, so none depends on who imported what before.
    """
    out = _run(
        """
        from symgrad.engine.autodiff import backward
        from symgrad.engine.graph import topological_order
        from symgrad.model.tensor import MatMul, Ones, SumAll, Tensor, Transpose, Var
        from symgrad.engine.rules import RULES
        from symgrad.derive.vjp import contribution, tensor_sum

        W, X = Var("W", (2, 3)), Var("X", (3, 4), role="data")
        loss = SumAll(MatMul(W, X))
        kids = lambda node: node.children()
        order = topological_order([loss], kids)
        adjoints = backward(
            order, loss, [W], seed=Ones(()), children=kids, contribution=contribution,
            total=tensor_sum, is_zero=lambda c: c is None,
        )
        assert adjoints[W] == MatMul(Ones((2, 4)), Transpose(X)), adjoints[W]
        assert not [op for op in RULES if issubclass(op, Tensor)]
        print("ok")
        """,
        tmp_path,
    )
    assert out == "ok\n"


def test_drawing_leaves_the_users_backend_alone(tmp_path):
    pytest.importorskip("matplotlib")
    out = _run(
        f"""
        import sys
        import matplotlib
        matplotlib.use("svg")
        from symgrad.apps.study import descent_picture
        descent_picture(rates=(0.1,), steps=3, folder={str(tmp_path / "fig")!r}, name="d")
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
        assert "matplotlib.pyplot" not in sys.modules
        print("ok")
        """,
        tmp_path,
    )
    assert out == "ok\n"
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == ["d.png", "d.svg"]


def test_the_lazy_public_surface_behaves_like_an_eager_one(tmp_path):
    """``import symgrad`` loads no stage, yet every stage's package is an attribute, the
    public names arrive on first use, and a name the user set is not overwritten then."""
    out = _run(
        """
        import sys
        import symgrad, symgrad.nn
        assert "numba" not in sys.modules and "symgrad.engine.autodiff" not in sys.modules
        assert "sigmoid" in symgrad.functions.PRIMITIVES and symgrad.errors.SymgradError
        symgrad.grad = "mine"
        symgrad.nn.Network = "theirs"
        assert symgrad.latex.__module__ == "symgrad.show.printing"
        assert symgrad.nn.Dense.__module__ == "symgrad.model.network"
        assert (symgrad.grad, symgrad.nn.Network) == ("mine", "theirs")
        try:
            symgrad.no_such_name
        except AttributeError as error:
            print(error)
        """,
        tmp_path,
    )
    assert out == "module 'symgrad' has no attribute 'no_such_name'\n"
