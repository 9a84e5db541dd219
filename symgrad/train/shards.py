"""Train stage: data stored as shard files, one partition of distributed training each.

A data set too large for one machine's memory is kept as many files, each small enough
to read whole: ``.npy`` (one table, the label one of its columns, named by its index),
``.npz`` (the label array and one feature array, as ``symgrad train`` reads it), CSV with
a header row, or Parquet (one column per feature and the label's column; the ``dask``
extra brings pyarrow). :func:`shard_files` expands a glob, a folder or a list into the
files in a fixed order; :class:`Shard` reads one of them where it is used (on a Dask
worker), counts its rows cheaply, and gives the lecture's layout (X of n×m, Y of k×m).
"""

from __future__ import annotations

import csv
import glob
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symgrad.errors import DataError, ShapeError, SymgradError
from symgrad.model.data import check_finite

#: The kinds of shard files, by suffix.
SUFFIXES = (".npy", ".npz", ".csv", ".parquet")


def is_shards(data) -> bool:
    """Whether ``data`` names shard files: a path or glob, or a list of them."""
    if isinstance(data, str | os.PathLike):
        return True
    return (
        isinstance(data, list | tuple)
        and bool(data)
        and all(isinstance(d, str | os.PathLike) for d in data)
    )


def shard_files(data) -> list[Path]:
    """The files ``data`` names: a glob (sorted), a folder (its shard files, sorted), a
    file, or a list of these in its order.

    Raises:
        SymgradError: nothing matched, or a file that is not a shard kind.
    """
    if not isinstance(data, list | tuple):
        data = [data]
    files: list[Path] = []
    for item in data:
        text = os.fspath(item)
        if Path(text).is_dir():
            found = sorted(p for p in Path(text).iterdir() if p.suffix.lower() in SUFFIXES)
        elif glob.has_magic(text):
            found = [Path(p) for p in sorted(glob.glob(text))]
        else:
            found = [Path(text)]
        if not found:
            raise SymgradError(f"no shard files match {text}")
        files += found
    for file in files:
        if file.suffix.lower() not in SUFFIXES:
            raise SymgradError(f"cannot read {file}: shards are {', '.join(SUFFIXES)} files")
        if not file.is_file():
            raise SymgradError(f"no such file: {file}")
    return files


@dataclass(frozen=True)
class Layout:
    """How a partition becomes the generated kernel's X (n×m) and Y (k×m): the network's
    sizes, its labels (a :class:`~symgrad.model.losses.Labels`), whose labels they are,
    and the float dtype."""

    n: int
    k: int
    labels: object
    owner: str
    dtype: str

    def columns(self, X_rows, y, where: str) -> tuple[np.ndarray, np.ndarray]:
        """X and Y of one partition, C-ordered, checked (``where`` names it in errors)."""
        X_rows = np.asarray(X_rows)
        if X_rows.ndim != 2 or X_rows.shape[1] != self.n:
            raise ShapeError(f"{where}: {self.n} feature column(s) expected, got {X_rows.shape}")
        if X_rows.dtype.kind not in "biuf" or np.asarray(y).dtype.kind not in "biuf":
            raise DataError(f"{where}: the features and the label must be numbers")
        X = np.ascontiguousarray(X_rows.T, dtype=self.dtype)
        check_finite(where, X)
        y = np.asarray(y)
        check_finite(f"{where}, labels", y.astype(float))
        try:
            Y = self.labels.to_columns(y, self.k, self.owner)
        except ShapeError as error:
            raise ShapeError(f"{where}: {error}") from None
        return X, np.ascontiguousarray(Y, dtype=self.dtype)


@dataclass(frozen=True)
class Shard:
    """One shard file and the name of its label (a column index for ``.npy``)."""

    path: str
    label: str

    @property
    def kind(self) -> str:
        return Path(self.path).suffix.lower()

    def rows(self) -> int:
        """Its number of examples, from the file's header where it has one."""
        if self.kind == ".npy":
            return int(np.load(self.path, mmap_mode="r").shape[0])
        if self.kind == ".parquet":
            import pyarrow.parquet

            return int(pyarrow.parquet.ParquetFile(self.path).metadata.num_rows)
        return int(self.read()[1].shape[0])

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """Its features (rows = examples) and labels."""
        read = {".npy": self._npy, ".npz": self._npz, ".csv": self._csv}
        return read.get(self.kind, self._parquet)()

    def _npy(self):
        try:
            column = int(self.label)
        except ValueError:
            raise SymgradError(
                f"{self.path}: a .npy shard has no column names; give the label's column "
                "index (-1 for the last)"
            ) from None
        table = np.load(self.path, allow_pickle=False)
        if table.ndim != 2 or not -table.shape[1] <= column < table.shape[1]:
            raise ShapeError(f"{self.path}: no column {column} in a table of {table.shape}")
        return np.delete(table, column, axis=1), table[:, column]

    def _npz(self):
        if not zipfile.is_zipfile(self.path):
            raise SymgradError(f"{self.path} is not an NPZ file")
        with np.load(self.path, allow_pickle=False) as data:
            if self.label not in data.files:
                raise SymgradError(f"{self.path} has no array {self.label!r}")
            features = [name for name in data.files if name != self.label]
            if len(features) != 1:
                raise SymgradError(f"{self.path} must hold one feature array beside the label")
            return data[features[0]], data[self.label]

    def _csv(self):
        with open(self.path, newline="", encoding="utf-8-sig") as f:
            header = [name.strip() for name in next(csv.reader(f), [])]
            if self.label not in header:
                raise SymgradError(f"{self.path} has no column {self.label!r}")
            try:
                table = np.loadtxt(f, delimiter=",", ndmin=2)
            except ValueError as error:
                raise DataError(f"{self.path}: {error}") from None
        k = header.index(self.label)
        return np.delete(table, k, axis=1), table[:, k]

    def _parquet(self):
        import pyarrow.parquet

        table = pyarrow.parquet.read_table(self.path)
        if self.label not in table.column_names:
            raise SymgradError(f"{self.path} has no column {self.label!r}")
        names = [name for name in table.column_names if name != self.label]
        X = np.column_stack([table.column(name).to_numpy() for name in names])
        return X, table.column(self.label).to_numpy()
