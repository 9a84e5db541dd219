"""Codegen stage: fixed Numba helpers that generated modules include when they use them.

Source text, not functions: each generated module carries its own copy so that it
runs without symgrad installed.
"""

RUNTIME = {
    "_blas": '''@numba.njit(cache=True)
def _blas(a, b, out):
    """out = a @ b through BLAS (one call site per array layout: Numba compiles each)."""
    np.dot(a, b, out)''',
    "_softmax": '''@numba.njit(cache=True)
def _softmax(z, out):
    """Softmax of each column, shifted by the column's maximum (no overflow)."""
    for j in range(z.shape[1]):
        top = z[0, j]
        for i in range(1, z.shape[0]):
            top = max(top, z[i, j])
        total = 0.0
        for i in range(z.shape[0]):
            out[i, j] = math.exp(z[i, j] - top)
            total += out[i, j]
        for i in range(z.shape[0]):
            out[i, j] /= total''',
    "_log_softmax": '''@numba.njit(cache=True)
def _log_softmax(z, out):
    """log softmax of each column: z - top - log Σ exp(z - top), top the column's maximum."""
    for j in range(z.shape[1]):
        top, log_total = _logsumexp(z, j)
        for i in range(z.shape[0]):
            out[i, j] = (z[i, j] - top) - log_total''',
    "_softmax_cross_entropy": '''@numba.njit(cache=True)
def _softmax_cross_entropy(z, y, out):
    """Per example: -Σ_k y_k log softmax(z)_k = Σ_k y_k (logsumexp(z) - z_k)."""
    for j in range(z.shape[1]):
        top, log_total = _logsumexp(z, j)
        acc = 0.0
        for i in range(z.shape[0]):
            if y[i, j] != 0.0:  # a zero label adds nothing, even where z_k is far below
                acc += y[i, j] * _scaled_gap(top, z[i, j], log_total, 1.0)
        out[0, j] = acc''',
    "_softmax_cross_entropy_sum": '''@numba.njit(cache=True)
def _softmax_cross_entropy_sum(z, y, scale):
    """scale · Σ over examples of -Σ_k y_k log softmax(z)_k, without a buffer.

    Each term is scaled before it is added (m losses near 1e308 overflow their sum, not
    their mean); a zero label adds nothing (never 0·inf)."""
    acc = 0.0
    for j in range(z.shape[1]):
        top, log_total = _logsumexp(z, j)
        for i in range(z.shape[0]):
            if y[i, j] != 0.0:
                acc += y[i, j] * _scaled_gap(top, z[i, j], log_total, scale)
    return acc''',
    "_logsumexp": '''@numba.njit(cache=True)
def _logsumexp(z, j):
    """(top, log Σ_i exp(z[i, j] - top)) in float64, top the column's maximum.

    Their sum is column j's log-sum-exp; kept apart, so -log softmax = (top - z) + log Σ
    is formed without rounding the log-sum-exp first."""
    top = np.float64(z[0, j])
    for i in range(1, z.shape[0]):
        top = max(top, np.float64(z[i, j]))
    total = 0.0
    for i in range(z.shape[0]):
        total += math.exp(z[i, j] - top)
    return top, math.log(total)''',
    "_scaled_gap": '''@numba.njit(cache=True)
def _scaled_gap(top, z, log_total, scale):
    """scale · ((top - z) + log_total): -log softmax, finite whenever the result is."""
    gap = top - z
    if math.isinf(gap):  # logits near ±1e308: top - z overflows, its scaled form may not
        return (top * scale - z * scale) + log_total * scale
    return (gap + log_total) * scale''',
    "_gather": '''@numba.njit(cache=True)
def _gather(X_rows, Y, order, start, Xb, Yb):
    """Columns of a minibatch: examples order[start:start + Xb.shape[1]]."""
    for j in range(Xb.shape[1]):
        r = order[start + j]
        for i in range(Xb.shape[0]):
            Xb[i, j] = X_rows[r, i]
        for i in range(Yb.shape[0]):
            Yb[i, j] = Y[i, r]''',
}
