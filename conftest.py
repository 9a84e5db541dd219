"""The whole test session, doctests included: one folder of compiled code.

``SYMGRAD_CACHE`` points at a new folder before anything compiles, so a session never fills
the user's own cache, and subprocesses inherit it: a model compiled by one test is loaded by
the next, whatever folder it writes to. Tests of the cache itself give themselves their own.

Test files run longest first (:data:`LONGEST_FIRST`): pytest-xdist hands a worker one file at
a time (``--dist loadfile``, without its reordering by test count), so a long file started
last would leave the other worker idle while it ends.
"""

import os
import shutil
import tempfile
from pathlib import Path

from symgrad.paths import CACHE_VARIABLE

#: Test files that take longest, longest first (``--durations`` of whole runs on two workers,
#: compiling included); the others follow in their collected order. A file missing from this
#: list only runs later than it could.
LONGEST_FIRST = (
    "tests/test_program_training.py",
    "tests/test_examples.py",
    "tests/test_curriculum.py",
    "tests/test_losses.py",
    "tests/test_lecture.py",
    "tests/test_distributed.py",
    "tests/test_numpy_tier.py",
    "tests/test_codegen.py",
    "tests/test_files.py",
    "tests/test_autodiff.py",
    "tests/test_optimizers.py",
    "tests/test_primitives.py",
    "tests/test_cli_network.py",
    "tests/test_claim.py",
    "tests/test_check.py",
    "tests/test_fit_checks.py",
    "tests/test_trace.py",
)


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


def pytest_collection_modifyitems(items):
    """Put the files of :data:`LONGEST_FIRST` first, in its order (a stable sort: the tests of
    a file keep theirs)."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
