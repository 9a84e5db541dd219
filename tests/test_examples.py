"""The example scripts run as a user runs them: ``python examples/NAME.py [OUT]``.

Each runs in a subprocess from a scratch working directory, writing into one output folder
per session (given by argument or by ``SYMGRAD_EXAMPLES_DIR``), so examples that train the
same model share its generated code and Numba's cache.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("examples")


def run(name: str, out: Path, tmp_path: Path, *, by_env: bool = False) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    args = [sys.executable, str(EXAMPLES / f"{name}.py")]
    if by_env:
        env["SYMGRAD_EXAMPLES_DIR"] = str(out)
    else:
        args.append(str(out))
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (tmp_path / "generated").exists()  # nothing outside the folder it was given
    return done.stdout


def test_every_example_is_short_and_documented():
    scripts = sorted(EXAMPLES.glob("*.py"))
    assert {p.stem for p in scripts} >= {
        "toy_graph",
        "logistic_regression",
        "two_layer_network",
        "learning_rate_study",
        "digits_softmax",
        "gradient_check",
    }
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        assert text.startswith('"""') and f"python examples/{script.name}" in text
        assert len(text.splitlines()) <= 50, script.name


def test_toy_graph(out, tmp_path):
    printed = run("toy_graph", out, tmp_path, by_env=True)
    assert "∂j/∂b = 3·c = 9" in printed and "j = 3·v = 21" in printed
    assert (out / "toy_graph.md").is_file() and (out / "toy_graph.dot").is_file()


def test_logistic_regression(out, tmp_path):
    printed = run("logistic_regression", out, tmp_path)
    assert "∂L/∂z = a - y" in printed and "dZ = A - Y" in printed
    assert "passed:" in printed
    assert (out / "code" / "mlp_30_1_sigmoid_bce_gd.py").is_file()


def test_two_layer_network(out, tmp_path):
    printed = run("two_layer_network", out, tmp_path, by_env=True)
    assert "dZ[2] = A[2] - Y" in printed and "training accuracy" in printed
    assert "# Backpropagation" in (out / "two_layer_network.md").read_text(encoding="utf-8")


def test_learning_rate_study(out, tmp_path):
    printed = run("learning_rate_study", out, tmp_path)
    assert "diverges (epoch 3)" in printed and "overshoots (oscillates)" in printed
    for name in ("descent_1d", "learning_rate_study"):
        assert (out / f"{name}.png").is_file() and (out / f"{name}.svg").is_file()


def test_digits_softmax_reaches_95_percent_on_the_test_set(out, tmp_path):
    printed = run("digits_softmax", out, tmp_path)
    line = next(ln for ln in printed.splitlines() if ln.startswith("test accuracy"))
    assert float(line.split()[-1].rstrip("%")) >= 95.0


def test_gradient_check(out, tmp_path):
    printed = run("gradient_check", out, tmp_path, by_env=True)
    assert printed.count("passed:") == 2 and "wrong" not in printed
    assert "| correct |" in (out / "gradient_check.md").read_text(encoding="utf-8")
