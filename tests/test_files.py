"""Generated files: imported from their file under a name Numba's cache can find again."""

import subprocess
import sys
import textwrap
from pathlib import Path

import symgrad
from symgrad.codegen.files import import_file

#: A module whose compiled function needs its module at load time (objmode keeps an
#: environment that Numba's cache pickles by module name).
SOURCE = textwrap.dedent(
    """
    import numba
    import numpy as np

    @numba.njit(cache=True)
    def f(x):
        with numba.objmode(y="float64"):
            y = float(np.exp(x))
        return y + OFFSET

    OFFSET = {offset}
    """
)


def _write(folder: Path, offset: float) -> Path:
    folder.mkdir()
    path = folder / "same_name_model.py"
    path.write_text(SOURCE.format(offset=offset))
    return path


def test_a_cache_written_under_a_private_name_loads_in_a_fresh_process(tmp_path):
    first, second = _write(tmp_path / "a", 1.0), _write(tmp_path / "b", 2.0)
    assert import_file(first).f(0.0) == 2.0
    module = import_file(second)  # the name is taken: a private one
    assert module.__name__ != first.stem and module.f(0.0) == 3.0  # cache written
    root = Path(symgrad.__file__).resolve().parents[1]
    script = (
        f"import sys; sys.path.insert(0, {str(root)!r})\n"
        "from symgrad.codegen.files import import_file\n"
        f"m = import_file({str(second)!r})\n"
        "print(m.f(0.0), sum(m.f.stats.cache_hits.values()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    value, hits = done.stdout.split()
    assert float(value) == 3.0 and hits == "1"
