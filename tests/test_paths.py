"""Paths checked before work starts (symgrad.paths), and the API writers that use them."""

import sys

import numpy as np
import pytest

from symgrad.errors import SymgradError
from symgrad.nn import Network, derive, mlp
from symgrad.paths import CACHE_VARIABLE, cache_folder, input_file, output_file, output_folder
from symgrad.show.notes import write_notes


@pytest.fixture
def files(tmp_path):
    (tmp_path / "afile").write_text("text\n")
    (tmp_path / "adir").mkdir()
    return tmp_path


def test_input_file(files):
    assert input_file(files / "afile") == files / "afile"
    with pytest.raises(SymgradError, match="no such file: .*missing"):
        input_file(files / "missing")
    with pytest.raises(SymgradError, match="adir is a folder, not a file"):
        input_file(files / "adir")
    with pytest.raises(SymgradError, match="no such file"):
        input_file(files / "afile" / "below")
    with pytest.raises(SymgradError, match="an empty path"):
        input_file("")


def test_output_folder_creates_nested_folders(files):
    folder = output_folder(files / "a" / "b")
    assert folder.is_dir() and folder == files / "a" / "b"
    assert output_folder(files / "adir") == files / "adir"


def test_output_folder_without_create_writes_nothing(files):
    before = sorted(files.rglob("*"))
    assert output_folder(files / "new" / "deeper", create=False) == files / "new" / "deeper"
    assert sorted(files.rglob("*")) == before


@pytest.mark.parametrize("create", [True, False])
def test_output_folder_refuses_a_file_in_the_way(files, create):
    with pytest.raises(SymgradError, match="afile as a folder: it is a file"):
        output_folder(files / "afile", create=create)
    with pytest.raises(SymgradError, match="afile/x/y: .*afile is a file, not a folder"):
        output_folder(files / "afile" / "x" / "y", create=create)
    with pytest.raises(SymgradError, match="an empty path"):
        output_folder("  ", create=create)


def test_output_file(files):
    assert output_file(files / "new" / "n.md") == files / "new" / "n.md"
    assert (files / "new").is_dir() and not (files / "new" / "n.md").exists()
    assert output_file(files / "afile") == files / "afile"  # an existing file is overwritten
    with pytest.raises(SymgradError, match="adir: it is a folder"):
        output_file(files / "adir")
    with pytest.raises(SymgradError, match="afile/n.md: .*afile is a file, not a folder"):
        output_file(files / "afile" / "n.md")


def test_write_notes_refuses_a_path_under_a_file(files):
    backprop = derive(Network(mlp([2, 1])))
    with pytest.raises(SymgradError, match="afile is a file"):
        write_notes(backprop, files / "afile" / "notes.md")
    with pytest.raises(SymgradError, match="it is a folder"):
        write_notes(backprop, files / "adir")
    assert write_notes(backprop, files / "out" / "n.md").read_text().startswith("# ")


def test_build_lecture_refuses_a_file_before_any_work(files):
    from symgrad.apps.lecture import build_lecture

    with pytest.raises(SymgradError, match="afile as a folder: it is a file"):
        build_lecture(files / "afile", quick=True, progress=lambda line: None)


def test_learning_rate_study_refuses_bad_folders_and_rates_before_compiling(files):
    from symgrad.apps.study import learning_rate_study

    net = Network(mlp([2, 1]))
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    for kw in [dict(folder=files / "afile"), dict(folder=files / "s", code_folder=files / "afile")]:
        with pytest.raises(SymgradError, match="afile as a folder: it is a file"):
            learning_rate_study(net, X, y, [0.1], **kw)
    for rates in [[0.1, float("nan")], [float("inf")], [0.0], []]:
        with pytest.raises(SymgradError, match="need finite learning rates > 0"):
            learning_rate_study(net, X, y, rates, folder=files / "s")
    assert not (files / "s").exists()


def test_cache_folder_is_symgrad_cache_else_the_platforms_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "mine"))
    assert cache_folder() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_VARIABLE)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "symgrad"
    for ignored in ["", "relative/path"]:  # the XDG spec ignores a relative one
        monkeypatch.setenv("XDG_CACHE_HOME", ignored)
        assert cache_folder() == tmp_path / "home" / ".cache" / "symgrad"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cache_folder() == tmp_path / "home" / "Library" / "Caches" / "symgrad"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert cache_folder() == tmp_path / "local" / "symgrad" / "Cache"
    assert not (tmp_path / "home").exists()  # nothing created
