"""The whole test session, doctests included: one folder of compiled code.

``SYMGRAD_CACHE`` points at a new folder before anything compiles, so a session never fills
the user's own cache, and subprocesses inherit it: a model compiled by one test is loaded by
the next, whatever folder it writes to. Tests of the cache itself give themselves their own.
"""

import os
import shutil
import tempfile
from pathlib import Path

from symgrad.paths import CACHE_VARIABLE


def pytest_configure(config):
    """Set ``SYMGRAD_CACHE`` to a new folder before anything compiles; removed at the end.

    A pytest-xdist worker keeps the folder its controller made: the workers share it."""
    if hasattr(config, "workerinput"):
        return
    folder = Path(tempfile.mkdtemp(prefix="symgrad-cache-"))
    before = os.environ.get(CACHE_VARIABLE)
    os.environ[CACHE_VARIABLE] = str(folder)

    def restore():
        shutil.rmtree(folder, ignore_errors=True)
        if before is None:
            os.environ.pop(CACHE_VARIABLE, None)
        else:
            os.environ[CACHE_VARIABLE] = before

    config.add_cleanup(restore)
