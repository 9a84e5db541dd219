"""Command line: ``symgrad train DATA --dask [ADDRESS]``, training on a Dask cluster.

DATA is then shard files (a glob, a folder or one file; see :mod:`symgrad.train.shards`),
read where the workers run; ``--dask`` alone starts a local cluster of worker processes,
``--dask tcp://HOST:PORT`` joins a running scheduler. Without the ``dask`` extra, or with
a scheduler that does not answer, the command ends with one line saying so.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

#: ``--dask`` given without an address: a local cluster.
LOCAL = "local"


def dask_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--dask [ADDRESS]`` to the train command's parser."""
    p.add_argument(
        "--dask",
        nargs="?",
        const=LOCAL,
        metavar="ADDRESS",
        help="train on Dask (pip install 'symgrad[dask]'): a local cluster, or the scheduler "
        "at ADDRESS (tcp://HOST:PORT); DATA may then be a glob of .npy, .npz, .csv or "
        ".parquet shards",
    )


def train_on_dask(args: argparse.Namespace, network) -> int:
    """Train ``network`` on the shards ``args.data`` on the cluster ``args.dask``; print the
    loss curve as ``symgrad train`` does."""
    from symgrad.errors import TrainingWarning
    from symgrad.paths import output_folder
    from symgrad.train.compiled import CompiledNetwork
    from symgrad.train.distributed import connected, require_dask
    from symgrad.train.fit import check_settings, fit
    from symgrad.train.shards import shard_files

    require_dask()
    check_settings(lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    files = shard_files(args.data)
    output_folder(args.folder, create=False)
    with connected(None if args.dask == LOCAL else args.dask) as client:
        compiled = CompiledNetwork(network, args.optimizer, folder=args.folder)
        workers = len(client.scheduler_info()["workers"])
        print(
            f"{network.describe()}, {compiled.optimizer.name}, α = {args.lr:g}, "
            f"{len(files)} shard(s) on {workers} Dask worker(s)"
        )
        sys.stdout.flush()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrainingWarning)  # printed below, in one line
            result = fit(
                network,
                [str(f) for f in files],
                args.label,
                lr=args.lr,
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=args.seed,
                compiled=compiled,
                client=client,
            )
    for e in sorted({0, *np.linspace(0, args.epochs - 1, 6).astype(int)}):
        print(f"epoch {e + 1:>6}: loss {result.history[e]:.6g}")
    if result.warning:
        print(f"symgrad: warning: {result.warning}", file=sys.stderr)
    return 0
