"""Train stage: a network, or any tensor program with one data and one labels leaf,
compiled into a generated, cached module.

:class:`CompiledNetwork` derives the backprop equations, writes the generated module
(reused while its hash matches), imports it from the cache's copy at first use, and
takes data in NumPy's usual layout, checked first (see :func:`check_params`). It knows
which of its functions are compiled (in this process, or in the cache as a marker file
says) and can start compiling one in a process of its own. Calls that may compile run in
a helper thread, so Ctrl-C is seen at once.
"""

from __future__ import annotations

import contextlib
import re
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from symgrad._version import __version__
from symgrad.codegen import precompile
from symgrad.codegen.files import cached_copy, digest, ensure_module, import_file, with_header
from symgrad.codegen.network import NetworkModule
from symgrad.derive.backprop import derive
from symgrad.errors import ShapeError, SymgradError
from symgrad.model.data import as_numbers, check_finite, check_rows, l2_strength, to_columns
from symgrad.model.network import Network
from symgrad.model.numeric import Plan
from symgrad.model.program import Program
from symgrad.model.tensor import Mask, m
from symgrad.paths import DEFAULT_FOLDER
from symgrad.train import optimizers


def module_name(network: Program, optimizer=None, body: str = "") -> str:
    """A file name from the model: ``mlp_2_3_1_relu_sigmoid_bce_gd`` (L2 is a runtime value).

    Another program's name is its title (or ``program``) and the digest of its generated
    module's ``body`` (generated here when not given): stable, and one file per program.
    """
    if isinstance(network, Network):
        words = f"mlp {network.describe(values=False)} {optimizer.name if optimizer else ''}"
    else:
        if not body:
            opt = optimizers.get(optimizer or "gd")
            body = NetworkModule(derive(network), opt).source()
        title = network.title or "program"
        words = f"{title} {digest(body)[:10]} {optimizer.name if optimizer else ''}"
    return re.sub(r"[^0-9a-zA-Z]+", "_", words).strip("_").lower()


class CompiledNetwork:
    """A network's (or program's) generated training module, imported from its file.

    ``source()`` is the generated text, ``path`` its file, ``latex()`` its equations,
    ``signature`` the argument lists of its functions as the generator made them.
    """

    def __init__(
        self,
        network: Program,
        optimizer="gd",
        *,
        folder=DEFAULT_FOLDER,
        name=None,
        overwrite: bool = False,
    ):
        self.network = network
        self.optimizer = optimizers.get(optimizer)
        self.backprop = derive(network)
        generator = NetworkModule(self.backprop, self.optimizer)
        body = generator.source()
        # the body's digest too: a change of the code generator regenerates existing files
        source_hash = digest(
            f"{__version__}\n{network.describe(values=False)}\n{self.backprop.text()}\n"
            f"{self.optimizer.equations()}\n{digest(body)}"
        )
        self.path = ensure_module(
            folder,
            name or module_name(network, self.optimizer, body),
            body,
            source_hash,
            overwrite=overwrite,
        )
        self._text = with_header(body, source_hash)
        #: the file the module is imported from: the cache's copy (see ``import_file``)
        self.module_file = cached_copy(self.path.resolve(), self._text)
        #: the generated functions' argument lists (see :class:`Signature`)
        self.signature = generator.signature
        self._built: set[tuple[str, str]] = set()  # (function, dtype) compiled or loaded here
        self.hyper_names = [code for _, code in self.signature.hyper]
        #: compiles started by :meth:`compile_elsewhere`, by marker file
        self._compiling: dict = {}

    @cached_property
    def module(self):
        """The generated module, imported at first use: the NumPy tier trains without it,
        so a short first fit need not wait for Numba's import (about a second)."""
        return import_file(self.path, self._text)

    def source(self) -> str:
        return self.path.read_text()

    def function(self, name: str):
        """The generated function ``name``, once a compile of it begun by
        :meth:`start_compiling` has ended (it then loads from the cache)."""
        precompile.wait(self.module_file, name)
        return getattr(self.module, name)

    def start_compiling(self, name: str) -> None:
        """Compile ``loss_and_grad`` or ``predict`` (for float64) into the cache in a process
        of its own, unless it is there: work to overlap with other work before
        :meth:`function` needs it."""
        if not self.cached(name):
            zeros = [np.zeros(tuple(int(d) for d in p.shape)) for p in self.network.params]
            X = np.zeros((int(self.network.X.shape[0]), 1))
            Y = np.zeros((int(self.network.Y.shape[0]), 1))
            self.compile_elsewhere(name, {**self._named(zeros), "X": X, "Y": Y, "lam": 0.0})

    def compile_elsewhere(self, name: str, given: dict, *, marks: str | None = None):
        """Start compiling the generated ``name`` into the cache in a process of its own
        (:mod:`symgrad.codegen.precompile`), for arguments of the types of ``given``
        (argument name -> value; the data's examples do not matter). ``marks``: the
        function its marker names when done (``train``: the loop it picks). Returns the
        process: the one started before while it runs (each ``fit`` of this module that
        trains on the NumPy tier asks for its loop)."""
        args = {arg: given[arg] for arg in self.signature.functions[name]}
        stand_ins = precompile.stand_ins(args, {"X", "X_rows", "Y"})
        dtype = next((a.dtype for a in args.values() if isinstance(a, np.ndarray)), np.float64)
        marker = self.marker(marks or name, dtype)
        running = self._compiling.get(marker)
        if running is None or running.poll() is not None:
            running = self._compiling[marker] = precompile.start(
                self.module_file, name, stand_ins, marker
            )
        return running

    def loaded(self, function: str) -> bool:
        """Whether the generated ``function`` is compiled (or loaded) in this process."""
        return "module" in vars(self) and bool(getattr(self.module, function).signatures)

    def cached(self, function: str, dtype=np.float64) -> bool:
        """Whether ``function`` for arrays of ``dtype`` is loaded, or in Numba's cache as a
        process that compiled it noted (:meth:`mark_compiled`)."""
        return self.loaded(function) or self.marker(function, dtype).exists()

    def mark_compiled(self, function: str, dtype=np.float64) -> None:
        """Note beside the imported module that ``function`` for ``dtype`` is in the cache."""
        self._built.add((function, np.dtype(dtype).name))
        with contextlib.suppress(OSError):
            self.marker(function, dtype).touch()

    def built_here(self, function: str, dtype=np.float64) -> bool:
        """Whether ``function`` for ``dtype`` was compiled or loaded by this process (a later
        ``fit`` has nothing to build, check or mark: no helper thread, no file)."""
        return (function, np.dtype(dtype).name) in self._built

    def marker(self, function: str, dtype) -> Path:
        """The file whose presence says that ``function`` for ``dtype`` is in the cache."""
        file = self.module_file
        return file.with_name(f".{file.stem}.{function}.{np.dtype(dtype).name}.compiled")

    def latex(self) -> str:
        return self.backprop.latex()

    def loss_and_grad(self, params: dict, X_rows, y) -> tuple[float, dict]:
        """Loss and gradients (each of its parameter's shape) from the compiled code."""
        values = check_params(self.network, params)
        X, Y = to_columns(self.network, X_rows, y)
        dtype = values[0].dtype
        X, Y = np.ascontiguousarray(X, dtype), np.ascontiguousarray(Y, dtype)
        lam = l2_strength(self.network)
        args = self.signature.arguments(
            "loss_and_grad", {**self._named(values), "X": X, "Y": Y, "lam": lam}
        )
        loss, grads = in_helper_thread(lambda: self.module.loss_and_grad(*args))
        return float(loss), {p.ident: g for p, g in zip(self.network.params, grads, strict=False)}

    def predict_proba(self, params: dict, X_rows, *, numpy: bool | None = None) -> np.ndarray:
        """The output layer's values (a program's output), one row per example.

        ``numpy``: evaluate the output's graph in NumPy (one pass over the data needs no
        compiled code) or call the compiled ``predict`` (compiling it if need be); by
        default NumPy unless ``predict`` is compiled or cached, or the program has dropout.

        Raises:
            SymgradError: a program without an output computed from its data alone.
        """
        if "predict" not in self.signature.functions:
            raise SymgradError(
                "this program predicts nothing: give Program(..., output=...) a tensor "
                "computed from the data and the parameters only"
            )
        values = check_params(self.network, params)
        X = np.ascontiguousarray(check_rows(self.network, X_rows).T, dtype=values[0].dtype)
        if numpy is None:
            masks = any(isinstance(leaf, Mask) for leaf in self.network.leaves)
            numpy = not (masks or self.cached("predict", X.dtype))
        if numpy:
            env = {self.network.X.ident: X, **self._named(values)}
            scalars = {m: X.shape[1], **self.network.constants()}
            with np.errstate(all="ignore"):  # as the compiled code: inf or NaN, no warning
                (out,) = Plan([self.network.output])(env, scalars)
            return np.asarray(out, dtype=X.dtype).T
        args = self.signature.arguments("predict", {**self._named(values), "X": X})
        out = in_helper_thread(lambda: self.module.predict(*args)).T
        self.mark_compiled("predict", X.dtype)
        return out

    def _named(self, values: list) -> dict:
        """The parameters' arrays (in the network's order) by their argument names."""
        return dict(zip(self.signature.params, values, strict=True))


def check_params(network: Program, params: dict, dtype=None) -> list:
    """The network's parameters from ``params`` (ident -> array), in order, as C-ordered
    arrays of one float dtype: ``dtype``, else float32 if all are float32, else float64.

    Raises:
        ShapeError: a parameter missing or of the wrong shape.
        DataError: a parameter that is not numbers or holds NaN or inf.
    """
    missing = [p.ident for p in network.params if p.ident not in params]
    if missing:
        raise ShapeError(f"missing parameter {', '.join(missing)}")
    arrays = [as_numbers(f"parameter {p.ident}", params[p.ident]) for p in network.params]
    if dtype is None:
        dtype = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64
    out = []
    for p, a in zip(network.params, arrays, strict=True):
        want = tuple(int(d) for d in p.shape)
        if a.shape != want:
            raise ShapeError(f"parameter {p.ident} must have shape {want}, got {a.shape}")
        with np.errstate(over="ignore"):  # float32 overflow: named just below
            value = np.array(a, dtype=dtype, order="C")  # a copy: training updates it in place
        check_finite(f"parameter {p.ident}", value)
        out.append(value)
    return out


def in_helper_thread(run):
    """``run()``, called in a helper thread while this one waits, so Ctrl-C interrupts the wait.

    For calls that may compile: Ctrl-C raised inside Numba's compiler (partly C code that
    calls back into Python) could be lost or turn into another error. An interrupted
    compile goes on in the background; the CLI ends the process without waiting for it.
    """
    failure, result = [], []

    def target():
        try:
            result.append(run())
        except BaseException as error:  # re-raised in the calling thread
            failure.append(error)

    helper = threading.Thread(target=target, name="symgrad-compile", daemon=True)
    helper.start()
    helper.join()
    if failure:
        raise failure[0]
    return result[0]


class Background:
    """``run()`` in a helper thread, started on demand, for code that keeps working (the
    NumPy tier) while Numba compiles; ``ready()`` says when it is done, raising its error.

    The thread is a daemon: a process that has its result without it ends without waiting.
    """

    def __init__(self, run):
        self._run, self._failure = run, []
        self._done = threading.Event()
        self.started = False

    def start(self) -> None:
        if not self.started:
            self.started = True
            threading.Thread(target=self._target, name="symgrad-compile", daemon=True).start()

    def _target(self):
        try:
            self._run()
        except BaseException as error:  # re-raised by ready() in the thread that asks
            self._failure.append(error)
        finally:
            self._done.set()

    def ready(self) -> bool:
        if self._failure:
            raise self._failure[0]
        return self._done.is_set()
