"""Generated files: imported from their copy in the user's cache (SYMGRAD_CACHE), under a name
Numba's cache can find again; a cache that cannot be written falls back to the file's folder."""

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import symgrad
from symgrad.codegen.files import check_file, import_file
from symgrad.paths import CACHE_VARIABLE

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


# ---- the user's cache of compiled code (SYMGRAD_CACHE) ---------------------------------------

PLAIN = "import numba\n\n\n@numba.njit(cache=True)\ndef g(x):\n    return 2.0 * x + {offset}\n"


def test_the_module_is_imported_from_its_copy_in_symgrad_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_VARIABLE, str(cache))
    text = PLAIN.format(offset=0.25)
    a, b = tmp_path / "a" / "plain_cache_model.py", tmp_path / "b" / "plain_cache_model.py"
    for path in (a, b):
        path.parent.mkdir()
        path.write_text(text)
    module = import_file(a)
    copy = cache / hashlib.sha256(text.encode()).hexdigest()[:16] / "plain_cache_model.py"
    assert Path(module.__file__) == copy.resolve() and copy.read_text() == text
    assert module.g(1.0) == 2.25
    assert import_file(b) is module  # the same text in another folder: the same module
    assert sorted(p.name for p in cache.iterdir()) == [copy.parent.name]
    assert not (tmp_path / "a" / "__pycache__").exists()  # Numba caches beside the copy
    assert list((copy.parent / "__pycache__").glob("plain_cache_model.g-*.nbi"))


def test_the_text_this_process_wrote_is_the_module_it_imports(tmp_path, monkeypatch):
    """Another process rewriting the file between writing and importing changes nothing."""
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    path = tmp_path / "raced_model.py"
    path.write_text(PLAIN.format(offset=0.75))  # the other process's model, written last
    module = import_file(path, PLAIN.format(offset=0.125))
    assert module.g(1.0) == 2.125


def _no_home():
    raise RuntimeError("Could not determine home directory.")


@pytest.mark.parametrize("blocked", ["under a file", "read-only", "no home folder"])
def test_a_cache_that_cannot_be_written_falls_back_to_the_users_folder(
    tmp_path, monkeypatch, blocked
):
    (tmp_path / "afile").write_text("")
    cache = tmp_path / "afile" / "cache"
    if blocked == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        cache = tmp_path / "readonly"
        cache.mkdir(mode=0o555)
    monkeypatch.setenv(CACHE_VARIABLE, str(cache))
    if blocked == "no home folder":  # a container's user without HOME or a passwd entry
        monkeypatch.delenv(CACHE_VARIABLE)
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        monkeypatch.setattr(Path, "home", staticmethod(_no_home))
    path = tmp_path / "user" / f"fallback_model_{blocked.replace(' ', '_').replace('-', '_')}.py"
    path.parent.mkdir()
    path.write_text(PLAIN.format(offset=0.5))
    module = import_file(path)
    assert Path(module.__file__) == path.resolve() and module.g(1.0) == 2.5
    assert list((path.parent / "__pycache__").glob(f"{path.stem}.g-*.nbi"))


_FIT_IN = textwrap.dedent(
    """
    import sys
    import numpy as np
    from symgrad.nn import logistic_regression
    from symgrad.train.fit import fit

    X, y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]), np.array([0, 1, 1, 0])
    result = fit(logistic_regression(2), X, y, epochs=3, folder=sys.argv[1], numpy_tier=False)
    stats = result.compiled.module.train_full_batch.stats  # the loop of the whole set
    print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
    print(result.history.tolist())
    """
)


def _run(args: list[str], cache: Path) -> list[str]:
    root = Path(symgrad.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), CACHE_VARIABLE: str(cache)}
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_second_process_in_a_new_folder_loads_what_symgrad_compile_compiled(tmp_path):
    cache = tmp_path / "cache"  # empty: the first process must compile
    layers = ["--layers", "2,1", "--output", "sigmoid", "--loss", "bce"]
    _run(["-m", "symgrad", "compile", *layers, "--folder", str(tmp_path / "A")], cache)
    written = sorted(p.relative_to(cache) for p in cache.rglob("*"))
    assert [p for p in written if p.suffix == ".nbc"]  # compiled into the cache
    hits_misses, history = _run(["-c", _FIT_IN, str(tmp_path / "B")], cache)
    assert hits_misses == "1 0"  # loaded from the cache, nothing compiled
    assert sorted(p.relative_to(cache) for p in cache.rglob("*")) == written  # nothing new
    assert len(history.strip("[]").split(",")) == 3  # three epochs trained
    name = "mlp_2_1_sigmoid_bce_gd.py"
    readable = tmp_path / "B" / name
    assert readable.read_bytes() == (tmp_path / "A" / name).read_bytes()
    check_file(readable)
