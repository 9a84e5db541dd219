"""Codegen stage: write generated modules to files, reuse them, import them.

Numba's ``cache=True`` only works for code that lives in a file, so generated source
is written to a folder (``generated/`` by default) for the user to read, and imported
from a copy in the user's cache folder (:func:`symgrad.paths.cache_folder`) named by
the hash of its text: Numba's cache sits beside that copy, so every folder holding the
same module reuses the same compiled code. Each file starts with a header holding two
hashes: one of the source expressions it was generated from (reuse when it matches,
regenerate when it does not) and one of its own body (a file edited by hand is
reported, never silently trusted). Files and copies are written atomically under a
lock, so processes generating the same module at the same time neither corrupt nor
half-read it."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path

from symgrad.errors import GeneratedFileError
from symgrad.paths import cache_folder

_HEADER = re.compile(r"^# symgrad-source-hash: (\w+)\n# symgrad-body-hash: (\w+)\n", re.M)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def with_header(body: str, source_hash: str) -> str:
    """``body`` preceded by the hash lines that :func:`read_hashes` checks."""
    return f"# symgrad-source-hash: {source_hash}\n# symgrad-body-hash: {digest(body)}\n{body}"


def check_file(path: Path) -> str:
    """The source hash of a generated file, after checking its body hash.

    Raises:
        GeneratedFileError: the header is missing or the body was edited.
    """
    text = path.read_text()
    match = _HEADER.match(text)
    if match is None:
        raise GeneratedFileError(
            f"{path.name} has no symgrad header: it was not generated or was edited"
        )
    body = text[match.end() :]
    if digest(body) != match.group(2):
        raise GeneratedFileError(
            f"{path.name} was edited by hand (its body no longer matches its hash); "
            "delete it or regenerate with overwrite=True"
        )
    return match.group(1)


@contextlib.contextmanager
def _locked(folder: Path, name: str):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_module(
    folder, name: str, body: str, source_hash: str, *, overwrite: bool = False
) -> Path:
    """Write ``folder/name.py`` unless an intact file with the same source hash is there.

    Returns the path. Raises GeneratedFileError for a hand-edited file unless
    ``overwrite`` is set.
    """
    folder = Path(folder)
    path = folder / f"{name}.py"
    with _locked(folder, name):
        if path.exists() and not overwrite and check_file(path) == source_hash:
            return path
        _replace(path, with_header(body, source_hash))
    return path


def _replace(path: Path, text: str) -> None:
    """Write ``path`` at once (a temporary file renamed over it); call it under its lock."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644 & ~_umask())  # mkstemp makes 0600; a module is for everyone
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cached_copy(path: Path, text: str) -> Path:
    """The user cache's copy of ``path`` (whose text is ``text``), written if missing.

    It is ``<cache folder>/<hash of text>/<file name>``: the same text in any folder has
    one copy, hence one Numba cache. Returns ``path`` itself when the cache folder cannot
    be written, or there is none (no home folder: Numba then caches beside ``path``).
    """
    try:
        folder = cache_folder() / digest(text)
        copy = folder / path.name
        if not (copy.is_file() and copy.read_text() == text):
            with _locked(folder, path.stem):
                if not (copy.is_file() and copy.read_text() == text):
                    _replace(copy, text)
        if not os.access(folder, os.W_OK | os.X_OK):
            return path
    except (OSError, UnicodeDecodeError, RuntimeError):  # RuntimeError: Path.home() unknown
        return path
    return copy.resolve()


def import_file(path: Path, text: str | None = None):
    """Import a generated module from its :func:`cached_copy` (so Numba caches it there).

    ``text``: the file's text as this process wrote or checked it, so that another process
    rewriting the file in between cannot hand this one its module.

    The module is named after its file, as a plain ``import`` would name it: Numba's cache
    records that name, so the cached file stays importable without symgrad. Only when
    another file already holds that name in this process does it get a private one, made
    from its path; every process registers the file under that private name too, so a cache
    written by a process that used it loads in one that did not.
    """
    text = Path(path).read_text() if text is None else text
    path = cached_copy(Path(path).resolve(), text)
    name = private = f"symgrad_generated_{path.stem}_{digest(str(path))}"
    module = sys.modules.get(path.stem)
    if module is None or Path(getattr(module, "__file__", "") or "").resolve() == path:
        name = path.stem
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__symgrad_source__", None) == text:
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = sys.modules[private] = module
    spec.loader.exec_module(module)
    module.__symgrad_source__ = text
    return module
