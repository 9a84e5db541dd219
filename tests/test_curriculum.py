"""The curriculum (examples/curriculum/) runs as a student runs it, each script in a fresh
process: it prints its backward pass in matrix form, checks every gradient against central
differences ("correct" throughout), and trains where it is a whole model. Each printed
backward pass is also pinned here, checked once by hand (the scripts' docstrings say why each
is right): a change in the derivation or the printing shows up as a diff of these lines.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "examples" / "curriculum").glob("*.py"))

GOLDEN = {
    "01_affine_relu": [
        [
            "dX = Wᵀ dout",
            "dW = dout Xᵀ",
            "db = Σᵢ dout⁽ⁱ⁾",
        ],
        [
            "dX = Wᵀ (dout ⊙ 1[Z > 0])",
            "dW = (dout ⊙ 1[Z > 0]) Xᵀ",
            "db = Σᵢ (dout ⊙ 1[Z > 0])⁽ⁱ⁾",
        ],
    ],
    "02_leaky_relu_elu": [
        [
            "dX = Wᵀ (dout ⊙ (9*1[Z > 0] + 1) / 10)",
            "dW = (dout ⊙ (9*1[Z > 0] + 1) / 10) Xᵀ",
            "db = Σᵢ (dout ⊙ (9*1[Z > 0] + 1) / 10)⁽ⁱ⁾",
        ],
        [
            "dX = Wᵀ (dout ⊙ ((1 - 1[Z > 0]) ⊙ (out + 1) + 1[Z > 0]))",
            "dW = (dout ⊙ ((1 - 1[Z > 0]) ⊙ (out + 1) + 1[Z > 0])) Xᵀ",
            "db = Σᵢ (dout ⊙ ((1 - 1[Z > 0]) ⊙ (out + 1) + 1[Z > 0]))⁽ⁱ⁾",
        ],
    ],
    "03_logistic_plus_minus": [
        [
            "dw = (1/m) (-y / (exp(s ⊙ y) + 1)) Xᵀ",
            "db = (1/m) Σᵢ (-y / (exp(s ⊙ y) + 1))⁽ⁱ⁾",
        ],
    ],
    "04_softmax_cross_entropy": [
        [
            "dZ = A - Y",
            "dW = (1/m) dZ Xᵀ",
            "db = (1/m) Σᵢ dZ⁽ⁱ⁾",
        ],
        [
            "dZ = (Σₖ Y) ⊙ A - Y",
            "dW = (1/m) dZ Xᵀ",
            "db = (1/m) Σᵢ dZ⁽ⁱ⁾",
        ],
    ],
    "05_svm_hinge": [
        [
            "ds_y = Σₖ ((Y - 1) ⊙ 1[S - s_y + 1 > 0])",
            "dS = (1 - Y) ⊙ 1[S - s_y + 1 > 0] + Y ⊙ ds_y",
            "dW = λ W + (1/m) dS Xᵀ",
            "db = (1/m) Σᵢ dS⁽ⁱ⁾",
        ],
    ],
    "06_linear_regression": [
        [
            "dw = (1/m) (a - y) Xᵀ",
            "db = (1/m) Σᵢ (a - y)⁽ⁱ⁾",
        ],
        [
            "dw = (1/m) (sign(a - y)) Xᵀ",
            "db = (1/m) Σᵢ (sign(a - y))⁽ⁱ⁾",
        ],
        [
            "dw = (1/m) ({a - y if |a - y| ≤ 1; sign(a - y) otherwise}) Xᵀ",
            "db = (1/m) Σᵢ ({a - y if |a - y| ≤ 1; sign(a - y) otherwise})⁽ⁱ⁾",
        ],
    ],
    "07_l2_two_layer": [
        [
            "dZ[2] = A[2] - Y",
            "dW[2] = (λ/m) W[2] + (1/m) dZ[2] A[1]ᵀ",
            "db[2] = (1/m) Σᵢ dZ[2]⁽ⁱ⁾",
            "dZ[1] = (W[2]ᵀ dZ[2]) ⊙ 1[Z[1] > 0]",
            "dW[1] = (λ/m) W[1] + (1/m) dZ[1] Xᵀ",
            "db[1] = (1/m) Σᵢ dZ[1]⁽ⁱ⁾",
        ],
    ],
    "08_batch_norm": [
        [
            "dX_hat = dout ⊙ gamma",
            "dsigma = Σᵢ (-X_hat ⊙ dX_hat / sigma)⁽ⁱ⁾",
            "dvar = dsigma / (2 sigma)",
            "dmu = Σᵢ (-dX_hat / sigma + (2/m) (dvar ⊙ (-X + mu)))⁽ⁱ⁾",
            "dX = dX_hat / sigma + (2/m) (dvar ⊙ (X - mu)) + (1/m) dmu",
            "dgamma = Σᵢ (X_hat ⊙ dout)⁽ⁱ⁾",
            "dbeta = Σᵢ dout⁽ⁱ⁾",
        ],
    ],
    "09_dropout": [
        [
            "dZ[2] = A[2] - Y",
            "dW[2] = (1/m) dZ[2] A[1]ᵀ",
            "db[2] = (1/m) Σᵢ dZ[2]⁽ⁱ⁾",
            "dZ[1] = (W[2]ᵀ dZ[2]) ⊙ M[1] ⊙ 1[Z[1] > 0]",
            "dW[1] = (1/m) dZ[1] Xᵀ",
            "db[1] = (1/m) Σᵢ dZ[1]⁽ⁱ⁾",
        ],
    ],
    "10_residual": [
        [
            "dZ = (W_2ᵀ dout) ⊙ 1[Z > 0]",
            "dA = dout + W_1ᵀ dZ",
            "dW_1 = dZ Aᵀ",
            "db_1 = Σᵢ dZ⁽ⁱ⁾",
            "dW_2 = dout Hᵀ",
            "db_2 = Σᵢ dout⁽ⁱ⁾",
        ],
    ],
    "11_rnn": [
        [
            "dh_4 = h_4 - y",
            "da_4 = dh_4 ⊙ (1 - h_4²)",
            "dh_3 = W_hhᵀ da_4",
            "da_3 = dh_3 ⊙ (1 - h_3²)",
            "dh_2 = W_hhᵀ da_3",
            "da_2 = dh_2 ⊙ (1 - h_2²)",
            "dW_hh = (1/m) (da_4 h_3ᵀ + da_3 h_2ᵀ + da_2 h_1ᵀ)",
            "dh_1 = W_hhᵀ da_2",
            "da_1 = dh_1 ⊙ (1 - h_1²)",
            "dW_xh = (1/m) (da_4 x_4ᵀ + da_3 x_3ᵀ + da_2 x_2ᵀ + da_1 x_1ᵀ)",
            "db = (1/m) (Σᵢ da_4⁽ⁱ⁾ + Σᵢ da_3⁽ⁱ⁾ + Σᵢ da_2⁽ⁱ⁾ + Σᵢ da_1⁽ⁱ⁾)",
        ],
    ],
    "12_lstm": [
        [
            "dc = dh ⊙ o ⊙ (1 - tanh(c)²)",
            "dc_prev = dc ⊙ f",
            "dg = dc ⊙ i",
            "dW_g = (dg ⊙ (1 - g²)) xᵀ",
            "dU_g = (dg ⊙ (1 - g²)) h_prevᵀ",
            "db_g = Σᵢ (dg ⊙ (1 - g²))⁽ⁱ⁾",
            "do = dh ⊙ tanh(c)",
            "dx = W_gᵀ (dg ⊙ (1 - g²)) + W_iᵀ (di ⊙ i ⊙ (1 - i))"
            " + W_fᵀ (df ⊙ f ⊙ (1 - f)) + W_oᵀ (do ⊙ o ⊙ (1 - o))",
            "dh_prev = U_gᵀ (dg ⊙ (1 - g²)) + U_iᵀ (di ⊙ i ⊙ (1 - i))"
            " + U_fᵀ (df ⊙ f ⊙ (1 - f)) + U_oᵀ (do ⊙ o ⊙ (1 - o))",
            "dW_o = (do ⊙ o ⊙ (1 - o)) xᵀ",
            "dU_o = (do ⊙ o ⊙ (1 - o)) h_prevᵀ",
            "db_o = Σᵢ (do ⊙ o ⊙ (1 - o))⁽ⁱ⁾",
            "df = c_prev ⊙ dc",
            "dW_f = (df ⊙ f ⊙ (1 - f)) xᵀ",
            "dU_f = (df ⊙ f ⊙ (1 - f)) h_prevᵀ",
            "db_f = Σᵢ (df ⊙ f ⊙ (1 - f))⁽ⁱ⁾",
            "di = dc ⊙ g",
            "dW_i = (di ⊙ i ⊙ (1 - i)) xᵀ",
            "dU_i = (di ⊙ i ⊙ (1 - i)) h_prevᵀ",
            "db_i = Σᵢ (di ⊙ i ⊙ (1 - i))⁽ⁱ⁾",
        ],
    ],
}


def backward_sections(output: str) -> list:
    """The lines of each "Backward pass" section the script printed, up to its blank line."""
    sections, current = [], None
    for line in output.splitlines():
        if line == "Backward pass":
            current = []
            sections.append(current)
        elif current is not None and line.strip():
            current.append(line)
        else:
            current = None
    return sections


def test_every_script_has_its_golden_backward_pass():
    assert sorted(GOLDEN) == [s.stem for s in SCRIPTS]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.stem)
def test_script_runs_checks_correct_and_prints_its_backward_pass(script, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert backward_sections(done.stdout) == GOLDEN[script.stem]
    verdicts = [line for line in done.stdout.splitlines() if line.startswith("passed: ")]
    assert verdicts, done.stdout[-2000:]
    for verdict in verdicts:  # "passed: 4 of 4 correct; largest error ...": every row correct
        assert re.match(r"passed: (\d+) of \1 correct;", verdict), verdict
