"""Data-parallel training on Dask: one local cluster of 2 worker processes for the file.

Results are checked against single-process ``fit`` on the same data in memory (full-batch
gradient descent: to 1e-12 relative) and against a NumPy replay of the documented
minibatch scheme; shards are written to a temporary folder in every kind symgrad reads.
"""

import os
import signal
import sys

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from symgrad.cli.main import main  # noqa: E402
from symgrad.model.data import init_params  # noqa: E402
from symgrad.nn import Network, mlp  # noqa: E402
from symgrad.train import distributed as training  # noqa: E402
from symgrad.train.compiled import CompiledNetwork  # noqa: E402
from symgrad.train.fit import fit  # noqa: E402

EPOCHS, LR = 15, 0.5


def _network():
    """The network `--layers 4,3,1 --l2 0.05` describes (L2: λ is split among partitions)."""
    return Network(mlp([4, 3, 1], hidden="relu", output="sigmoid"), loss="bce", l2=0.05)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((230, 4))
    y = (X[:, 0] - X[:, 2] + 0.5 * rng.standard_normal(230) > 0).astype(float)
    return X, y


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


@pytest.fixture(scope="module")
def compiled(data, folder):
    """The generated module, its loss_and_grad compiled here first: the workers then load
    it from the session's cache of compiled code instead of each compiling it."""
    compiled = CompiledNetwork(_network(), folder=folder)
    compiled.loss_and_grad(init_params(_network()), *data)
    return compiled


@pytest.fixture(scope="module")
def single(data, compiled):
    """Single-process full-batch training on the data in memory."""
    return fit(_network(), *data, epochs=EPOCHS, lr=LR, compiled=compiled)


def _close(result, reference):
    for name, value in reference.params.items():
        np.testing.assert_allclose(result.params[name], value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.history, reference.history, rtol=1e-12)


def test_full_batch_on_a_dask_array_matches_single_process(client, data, folder, single):
    X, y = data
    # 5 partitions of unequal size (4 × 50 + 30): the sum weights each by its examples
    result = fit(
        _network(),
        da.from_array(X, chunks=(50, 4)),
        y,
        epochs=EPOCHS,
        lr=LR,
        folder=folder,
        client=client,
    )
    _close(result, single)


def _write_shards(path, X, y):
    """The data in 4 shards of every kind, sorted by name in the data's order."""
    import pyarrow
    import pyarrow.parquet

    cuts = [0, 70, 120, 200, 230]
    pieces = [(X[a:b], y[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    (Xa, ya), (Xb, yb), (Xc, yc), (Xd, yd) = pieces
    columns = {f"x{i}": Xa[:, i] for i in range(4)}
    pyarrow.parquet.write_table(pyarrow.table({**columns, "y": ya}), path / "part0.parquet")
    header = "x0,x1,y,x2,x3"  # the label between features: taken out by name
    table = np.column_stack([Xb[:, :2], yb, Xb[:, 2:]])
    np.savetxt(path / "part1.csv", table, delimiter=",", header=header, comments="", fmt="%.17g")
    np.savez(path / "part2.npz", X=Xc, y=yc)
    columns = {f"x{i}": Xd[:, i] for i in range(4)}
    pyarrow.parquet.write_table(pyarrow.table({**columns, "y": yd}), path / "part3.parquet")


def test_a_shard_folder_trains_out_of_core(client, data, folder, single, tmp_path):
    pytest.importorskip("pyarrow")
    _write_shards(tmp_path, *data)
    # persist=False (the default for files): each step reads every shard and releases it
    result = fit(_network(), tmp_path, "y", epochs=EPOCHS, lr=LR, folder=folder, client=client)
    _close(result, single)


def test_minibatches_follow_the_documented_seeded_scheme(client, data, compiled, tmp_path):
    X, y = data
    parts = [(0, 90), (90, 230)]
    for i, (a, b) in enumerate(parts):  # .npy shards: the label is a column, by index
        np.save(tmp_path / f"s{i}.npy", np.column_stack([y[a:b], X[a:b]]))
    network, seed, batch, epochs = _network(), 7, 64, 3
    result = fit(
        network,
        str(tmp_path / "*.npy"),
        0,
        epochs=epochs,
        lr=LR,
        batch_size=batch,
        seed=seed,
        compiled=compiled,
        client=client,
        persist=True,
    )
    # the scheme replayed in NumPy: S = ⌈m / B⌉ steps an epoch; partition p's rows in
    # epoch e permuted by default_rng([seed, e, p]), step s taking ⌈m_p / S⌉ of them
    params = init_params(network, seed=seed)
    steps = -(-len(X) // batch)
    for e in range(epochs):
        orders = [
            np.random.default_rng([seed, e, p]).permutation(b - a) + a
            for p, (a, b) in enumerate(parts)
        ]
        for s in range(steps):
            rows = np.concatenate(
                [o[s * -(-len(o) // steps) :][: -(-len(o) // steps)] for o in orders]
            )
            _, grads = compiled.loss_and_grad(params, X[rows], y[rows])
            for k in params:
                params[k] = params[k] - LR * grads[k]
    for k, v in params.items():
        np.testing.assert_allclose(result.params[k], v, rtol=1e-12, atol=1e-14)


class _KillAt:
    """A progress bar that kills worker process ``pid`` after epoch ``epoch``."""

    def __init__(self, client, epoch):
        self.client, self.epoch, self.done, self.killed = client, epoch, 0, None

    def update(self, count):
        self.done += count
        if self.done == self.epoch:
            self.killed = next(iter(self.client.run(os.getpid).values()))
            os.kill(self.killed, signal.SIGKILL)

    def set_postfix(self, **values):
        self.workers = values["workers"]

    def close(self):
        pass


def test_a_worker_killed_mid_run_is_replaced_and_the_result_is_the_same(
    client, data, compiled, single
):
    X, y = data
    bar = _KillAt(client, 3)
    params, history, _ = training.train(
        _network(),
        da.from_array(X, chunks=(50, 4)),
        y,
        client=client,
        lr=LR,
        epochs=EPOCHS,
        compiled=compiled,
        bar=bar,
    )
    assert bar.killed is not None and bar.done == EPOCHS
    client.wait_for_workers(2, timeout=60)  # the nanny started a new one
    assert bar.killed not in client.run(os.getpid).values()
    for name, value in single.params.items():
        np.testing.assert_allclose(params[name], value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(history, single.history, rtol=1e-12)


def test_the_cli_trains_shards_on_the_cluster_it_is_given(
    client, data, folder, single, tmp_path, capsys
):
    pytest.importorskip("pyarrow")
    _write_shards(tmp_path, *data)
    address = client.scheduler.address
    args = [
        "train",
        str(tmp_path / "*"),
        "--label",
        "y",
        "--layers",
        "4,3,1",
        "--l2",
        "0.05",
        "--lr",
        str(LR),
        "--epochs",
        str(EPOCHS),
        "--folder",
        str(folder),
        "--dask",
        address,
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "4 shard(s) on 2 Dask worker(s)" in out
    assert f"epoch {EPOCHS:>6}: loss {single.history[-1]:.6g}" in out


def test_without_dask_the_cli_and_fit_say_how_to_install_it(monkeypatch, capsys, data):
    for name in ("dask", "dask.array", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails, as without the extra
    assert main(["train", "data/*.parquet", "--layers", "4,3,1", "--dask"]) == 2
    err = capsys.readouterr().err
    assert err == 'symgrad: error: distributed training needs Dask: pip install "symgrad[dask]"\n'
    with pytest.raises(training.SymgradError, match=r"symgrad\[dask\]"):
        fit(_network(), ["a.npy"], 0)


def test_an_unreachable_scheduler_is_one_line_naming_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(training, "CONNECT_TIMEOUT", 1)
    np.save(tmp_path / "a.npy", np.zeros((3, 5)))
    address = "tcp://127.0.0.1:9"
    code = main(
        ["train", str(tmp_path / "a.npy"), "--label", "0", "--layers", "4,1", "--dask", address]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"symgrad: error: cannot reach the Dask scheduler at {address}")
    assert err.count("\n") == 1
