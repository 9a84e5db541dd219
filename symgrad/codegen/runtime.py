"""Codegen stage: fixed Numba helpers that generated modules include when they use them.

NumPy's error model, like the rest of a generated module (see ``njit_source``). Source text,
not functions: each generated module carries its own copy so that it
runs without symgrad installed.
"""

#: The functions of :mod:`~symgrad.codegen.vector_math` each runtime function calls.
RUNTIME_MATH = {
    "_softmax_column": ("_exp",),
    "_softmax_loss": ("_exp", "_log"),
    "_logsumexp": ("_exp", "_log"),
}

RUNTIME = {
    "_blas": '''@numba.njit(cache=True, error_model="numpy")
def _blas(a, b, out):
    """out = a @ b through BLAS (one call site per array layout: Numba compiles each)."""
    np.dot(a, b, out)''',
    "_softmax": '''@numba.njit(cache=True, error_model="numpy")
def _softmax(z, out):
    """Softmax of each column, shifted by the column's maximum (no overflow)."""
    for j in range(z.shape[1]):
        _softmax_column(z, j, out)''',
    "_softmax_column": '''@numba.njit(cache=True, error_model="numpy")
def _softmax_column(z, j, out):
    """Softmax of column j into out; returns the column's maximum and Σ e^(z - top)."""
    top = z[0, j]
    for i in range(1, z.shape[0]):
        top = max(top, z[i, j])
    total = 0.0
    for i in range(z.shape[0]):
        out[i, j] = _exp(z[i, j] - top)
        total += out[i, j]
    for i in range(z.shape[0]):
        out[i, j] /= total
    return top, total''',
    "_softmax_loss": '''@numba.njit(cache=True, error_model="numpy")
def _softmax_loss(z, y, out, scale):
    """Softmax of each column into out, and scale · Σ over examples of -Σ_k y_k log
    softmax(z)_k, in one pass: each e^(z - top) serves both (a zero label adds nothing)."""
    acc = 0.0
    for j in range(z.shape[1]):
        top, total = _softmax_column(z, j, out)
        log_total = _log(total)
        for i in range(z.shape[0]):
            if y[i, j] != 0.0:
                acc += y[i, j] * _scaled_gap(top, z[i, j], log_total, scale)
    return acc''',
    "_log_softmax": '''@numba.njit(cache=True, error_model="numpy")
def _log_softmax(z, out):
    """log softmax of each column: z - top - log Σ exp(z - top), top the column's maximum."""
    for j in range(z.shape[1]):
        top, log_total = _logsumexp(z, j)
        for i in range(z.shape[0]):
            out[i, j] = (z[i, j] - top) - log_total''',
    "_softmax_cross_entropy": '''@numba.njit(cache=True, error_model="numpy")
def _softmax_cross_entropy(z, y, out):
    """Per example: -Σ_k y_k log softmax(z)_k = Σ_k y_k (logsumexp(z) - z_k)."""
    for j in range(z.shape[1]):
        top, log_total = _logsumexp(z, j)
        acc = 0.0
        for i in range(z.shape[0]):
            if y[i, j] != 0.0:  # a zero label adds nothing, even where z_k is far below
                acc += y[i, j] * _scaled_gap(top, z[i, j], log_total, 1.0)
        out[0, j] = acc''',
    "_softmax_cross_entropy_sum": '''@numba.njit(cache=True, error_model="numpy")
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
    "_logsumexp": '''@numba.njit(cache=True, error_model="numpy")
def _logsumexp(z, j):
    """(top, log Σ_i exp(z[i, j] - top)) in float64, top the column's maximum.

    Their sum is column j's log-sum-exp; kept apart, so -log softmax = (top - z) + log Σ
    is formed without rounding the log-sum-exp first."""
    top = np.float64(z[0, j])
    for i in range(1, z.shape[0]):
        top = max(top, np.float64(z[i, j]))
    total = 0.0
    for i in range(z.shape[0]):
        total += _exp(z[i, j] - top)
    return top, _log(total)''',
    "_scaled_gap": '''@numba.njit(cache=True, error_model="numpy")
def _scaled_gap(top, z, log_total, scale):
    """scale · ((top - z) + log_total): -log softmax, finite whenever the result is."""
    gap = top - z
    if math.isinf(gap):  # logits near ±1e308: top - z overflows, its scaled form may not
        return (top * scale - z * scale) + log_total * scale
    return (gap + log_total) * scale''',
    "_pairwise_sum": '''@numba.njit(cache=True, error_model="numpy")
def _pairwise_sum(a):
    """Σ a, pairwise like NumPy's sum: blocks of up to 128 summed by eight accumulators (which
    the compiler runs as vectors), halves added. Error O(log n) roundings, not O(n)."""
    n = a.shape[0]
    if n <= 128:
        if n < 8:
            total = 0.0
            for i in range(n):
                total += a[i]
            return total
        s0, s1, s2, s3 = a[0], a[1], a[2], a[3]
        s4, s5, s6, s7 = a[4], a[5], a[6], a[7]
        whole = n - n % 8
        for i in range(8, whole, 8):
            s0 += a[i]
            s1 += a[i + 1]
            s2 += a[i + 2]
            s3 += a[i + 3]
            s4 += a[i + 4]
            s5 += a[i + 5]
            s6 += a[i + 6]
            s7 += a[i + 7]
        total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
        for i in range(whole, n):
            total += a[i]
        return total
    half = n // 2
    half -= half % 8
    return _pairwise_sum(a[:half]) + _pairwise_sum(a[half:])''',
    "_gather": '''@numba.njit(cache=True, error_model="numpy")
def _gather(X_rows, Y, order, start, Xb, Yb):
    """Columns of a minibatch: examples order[start:start + Xb.shape[1]]."""
    for j in range(Xb.shape[1]):
        r = order[start + j]
        for i in range(Xb.shape[0]):
            Xb[i, j] = X_rows[r, i]
        for i in range(Yb.shape[0]):
            Yb[i, j] = Y[i, r]''',
}
