"""Files in and out, shared by every stage: a path is checked before work starts.

A path that cannot be used (missing, empty, a folder where a file is wanted, a file where a
folder is wanted, under a file, unreadable or unwritable) is a :class:`SymgradError` that names
it, so the command line reports it in one line before anything is computed or written.
Imports only :mod:`symgrad.errors`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from symgrad.errors import SymgradError

#: Where generated modules go when no folder is given: relative to the working directory,
#: and created only when something is written there.
DEFAULT_FOLDER = Path("generated")

#: The environment variable that names the folder of compiled code (see :func:`cache_folder`).
CACHE_VARIABLE = "SYMGRAD_CACHE"


def cache_folder() -> Path:
    """The user's folder of compiled code, shared by every output folder.

    ``$SYMGRAD_CACHE`` when set, else the platform's user cache folder, chosen as pip and
    platformdirs choose it: ``$XDG_CACHE_HOME/symgrad`` (an absolute one) or
    ``~/.cache/symgrad`` on Linux, ``~/Library/Caches/symgrad`` on macOS,
    ``%LOCALAPPDATA%\\symgrad\\Cache`` on Windows. Created only when something is written.
    """
    chosen = os.environ.get(CACHE_VARIABLE, "").strip()
    if chosen:
        return Path(chosen).expanduser().resolve()  # relative: from where it was read
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA", "").strip()
        return Path(local or Path.home() / "AppData" / "Local") / "symgrad" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "symgrad"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "symgrad"


def _path(path) -> Path:
    if not os.fspath(path).strip():
        raise SymgradError("an empty path: give a file or folder name")
    return Path(path)


def input_file(path) -> Path:
    """``path`` as a Path, after checking that it is a readable regular file.

    Raises:
        SymgradError: the path is empty, missing, a folder, not a regular file (a device,
            a pipe) or not readable.
    """
    file = _path(path)
    if file.is_dir():
        raise SymgradError(f"{path} is a folder, not a file")
    if not file.exists():
        raise SymgradError(f"no such file: {path}")
    if not file.is_file():
        raise SymgradError(f"{path} is not a regular file")
    if not os.access(file, os.R_OK):
        raise SymgradError(f"cannot read {path}: permission denied")
    return file


def _file_above(folder: Path) -> Path | None:
    """The nearest existing path at or above ``folder``, when it is not a folder."""
    for above in (folder, *folder.parents):
        if above.exists():
            return None if above.is_dir() else above
    return None


def output_folder(path, *, create: bool = True) -> Path:
    """``path`` as a Path, a folder that can be written into (created unless ``create=False``).

    Raises:
        SymgradError: the path is empty, is a file or lies under one, or cannot be created
            or written.
    """
    folder = _path(path)
    blocker = _file_above(folder)
    if blocker == folder:
        raise SymgradError(f"cannot use {path} as a folder: it is a file")
    if blocker is not None:
        raise SymgradError(f"cannot create folder {path}: {blocker} is a file, not a folder")
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SymgradError(f"cannot create folder {path}: {error.strerror or error}") from None
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise SymgradError(f"cannot write into folder {path}: permission denied")
    return folder


def output_file(path, *, create: bool = True) -> Path:
    """``path`` as a Path, a file that can be written (its folder created unless ``create=False``).

    Raises:
        SymgradError: the path is empty or a folder, lies under a file, or cannot be written.
    """
    file = _path(path)
    if file.is_dir():
        raise SymgradError(f"cannot write {path}: it is a folder")
    blocker = _file_above(file.parent)
    if blocker is not None:
        raise SymgradError(f"cannot write {path}: {blocker} is a file, not a folder")
    output_folder(file.parent, create=create)
    if file.exists() and not os.access(file, os.W_OK):
        raise SymgradError(f"cannot write {path}: permission denied")
    return file
