"""Codegen stage: compile a generated function into Numba's cache in a process of its own.

A compile in a helper thread dies with the process: a first fit that the NumPy tier
finishes in two seconds would leave nothing behind, and every later run would start cold
again. A process of its own outlives the one that started it, so the next run loads the
compiled loop from the cache; it also leaves this process's interpreter lock alone.

The function is called once on stand-in arguments of the real ones' types (zeros of the
same dimensions and dtypes, one example in the data), which compiles it and everything it
calls; then the marker file is written that says so (see
:meth:`symgrad.train.compiled.CompiledNetwork.cached`).

Run as ``python -m symgrad.codegen.precompile FILE FUNCTION ARGUMENTS MARKER``, where
ARGUMENTS is the JSON of :func:`stand_ins`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from symgrad.codegen.files import import_file

#: Compiles started here, by (module file, function), so that a caller can wait for one
#: (:func:`wait`).
_RUNNING: dict = {}


def stand_ins(arguments: dict, data: set) -> list:
    """JSON-ready stand-ins for ``arguments`` (name -> value, in call order): an array's
    dimensions and dtype (the examples' axis of a ``data`` array cut to one), else the
    number itself."""
    out = []
    for name, value in arguments.items():
        if isinstance(value, np.ndarray):
            shape = list(value.shape)
            if name in data:  # X, Y: n×m, k×m; X_rows: m×n
                shape[0 if name == "X_rows" else -1] = 1
            out.append(["array", shape, value.dtype.name])
        else:
            out.append(["int" if isinstance(value, int) else "float", value])
    return out


class Process:
    """A compile started by :func:`start`: a bare process id, not a ``Popen``, since the
    process may outlive this one's interpreter, which warns about every ``Popen`` left
    running at its exit."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        """The exit status once the process has ended, else None."""
        return self._reap(os.WNOHANG)

    def wait(self) -> int:
        return self._reap(0)

    def _reap(self, options: int) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, options)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def start(file: Path, function: str, arguments: list, marker: Path) -> Process:
    """Start compiling ``function`` of the module in ``file`` in a new process."""
    command = [sys.executable, "-m", __name__, str(file), function, json.dumps(arguments)]
    quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    pid = os.posix_spawn(sys.executable, [*command, str(marker)], os.environ, file_actions=quiet)
    process = _RUNNING[str(file), function] = Process(pid)
    return process


def wait(file: Path, function: str) -> None:
    """Wait until a compile of ``function`` that :func:`start` began has ended, if any: then
    importing the module loads the function from the cache instead of compiling it again."""
    process = _RUNNING.pop((str(file), function), None)
    if process is not None:
        process.wait()


def _value(kind: str, *spec):
    if kind == "array":
        shape, dtype = spec
        return np.zeros(shape, dtype=dtype)
    return int(spec[0]) if kind == "int" else float(spec[0])


def main(argv: list[str]) -> int:
    file, function, arguments, marker = argv
    module = import_file(Path(file))
    getattr(module, function)(*[_value(*spec) for spec in json.loads(arguments)])
    Path(marker).touch()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
