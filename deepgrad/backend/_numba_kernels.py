"""The numba kernels themselves; imported only through ``deepgrad.backend.kernels`` on first use.

Every kernel is serial (``parallel=True`` fights OpenBLAS for the cores, docs/performance.md,
note 8), cached on disk (``cache=True``: compiled once per machine, then loaded in milliseconds)
and compiled with ``error_model='numpy'`` (the default Python error model checks every division
and stops LLVM from vectorizing the loop). They take float32 arrays and compute in float64.

tanh: numba's ``math.tanh`` is a scalar libm call, ~100x slower than NumPy's vectorized tanh
here. ``_tanh`` is a rational approximation tanh(x) = x P(x^2) / Q(x^2) on [-9, 9] (fitted by
least squares for this module; both polynomials have positive coefficients, so Q has no pole),
and +-1 beyond, where tanh rounds to +-1 in float32. Its relative error is below 1.3e-7, about
2 float32 ulps: enough for float32, not for float64, which therefore keeps the NumPy path.
"""

from __future__ import annotations

try:
    from numba import njit
except ImportError:  # pytest's doctest collection imports every module; kernels.py never does then
    njit = None

_P = (1.0, 1.34284830e-01, 3.55172631e-03, 2.15222768e-05, 1.45969453e-08)
_Q = (1.0, 4.67618146e-01, 2.60911547e-02, 3.37700557e-04, 8.29005486e-07)


def _jit(**options):
    if njit is None:
        return lambda function: function
    return njit(cache=True, error_model="numpy", **options)


@_jit(inline="always")
def _tanh(x):
    x = min(max(x, -9.0), 9.0)
    s = x * x
    p = _P[0] + s * (_P[1] + s * (_P[2] + s * (_P[3] + s * _P[4])))
    q = _Q[0] + s * (_Q[1] + s * (_Q[2] + s * (_Q[3] + s * _Q[4])))
    return min(max(x * p / q, -1.0), 1.0)  # the fit overshoots 1 by an ulp near |x| = 9


@_jit()
def tanh(x, out):
    """out = tanh(x) for 1-D float arrays (exposed for tests of the approximation)."""
    for k in range(x.shape[0]):
        out[k] = _tanh(x[k] + 0.0)


@_jit()
def lstm_forward_step(a, recurrent, c_prev, c_out, tanh_c_out, h_out):
    """One LSTM step after the gate GEMM, one batch row at a time.

    a (B, 4H): pre-activations x W_ih^T + b, overwritten with the activations (i, f, g, o);
    recurrent (B, 4H): h_{t-1} W_hh^T.  c_t = f c_{t-1} + i g,  h_t = o tanh(c_t).
    Every inner loop indexes 1-D views from 0 to their length: with an offset index
    (row[2 * hidden + j]) numba cannot rule out negative indices, and LLVM stops vectorizing
    (measured 6x slower).
    """
    batch, hidden = c_out.shape
    for b in range(batch):
        i, f = a[b, :hidden], a[b, hidden : 2 * hidden]
        g, o = a[b, 2 * hidden : 3 * hidden], a[b, 3 * hidden :]
        ri, rf = recurrent[b, :hidden], recurrent[b, hidden : 2 * hidden]
        rg, ro = recurrent[b, 2 * hidden : 3 * hidden], recurrent[b, 3 * hidden :]
        cp, c, tc, h = c_prev[b], c_out[b], tanh_c_out[b], h_out[b]
        for j in range(hidden):
            i[j] = 0.5 * _tanh(0.5 * (i[j] + ri[j] + 0.0)) + 0.5
            f[j] = 0.5 * _tanh(0.5 * (f[j] + rf[j] + 0.0)) + 0.5
            g[j] = _tanh(g[j] + rg[j] + 0.0)
            o[j] = 0.5 * _tanh(0.5 * (o[j] + ro[j] + 0.0)) + 0.5
            c[j] = f[j] * cp[j] + i[j] * g[j]
            tc[j] = _tanh(c[j] + 0.0)
            h[j] = o[j] * tc[j]


@_jit()
def lstm_backward_step(a, tanh_c, c_prev, dy, dh, dc, d):
    """One LSTM step back through time, before the GEMM d @ W_hh that gives dh_{t-1}.

    a (B, 4H): the activations (i, f, g, o);  dh += dy;  dc += dh o (1 - tanh(c)^2);
    d = (dc g, dc c_{t-1}, dc i, dh tanh(c)) times the slopes (s (1 - s), or 1 - g^2 for g);
    then dc *= f (the cell gradient handed to step t-1).
    """
    batch, hidden = dc.shape
    for b in range(batch):
        i, f = a[b, :hidden], a[b, hidden : 2 * hidden]
        g, o = a[b, 2 * hidden : 3 * hidden], a[b, 3 * hidden :]
        di, df = d[b, :hidden], d[b, hidden : 2 * hidden]
        dg, do = d[b, 2 * hidden : 3 * hidden], d[b, 3 * hidden :]
        tc, cp, dy_b, dh_b, dc_b = tanh_c[b], c_prev[b], dy[b], dh[b], dc[b]
        for j in range(hidden):
            dh_ = dh_b[j] + dy_b[j]
            dc_ = dc_b[j] + dh_ * o[j] * (1.0 - tc[j] * tc[j])
            di[j] = dc_ * g[j] * i[j] * (1.0 - i[j])
            df[j] = dc_ * cp[j] * f[j] * (1.0 - f[j])
            dg[j] = dc_ * i[j] * (1.0 - g[j] * g[j])
            do[j] = dh_ * tc[j] * o[j] * (1.0 - o[j])
            dc_b[j] = dc_ * f[j]


@_jit()
def max_pool_2x2_backward(g, index, dx):
    """dx[r, i, 2q + j] = g[r, q] where index[r, q] = 2i + j, else 0: max-pooling's backward.

    For 2x2 windows with stride 2 that tile the input: dx (R, 2, 2 * Q) holds the input's rows in
    pairs (N * C * H/2 of them), g and index (R, Q). One pass, 1.7-2.2x faster than the NumPy
    path's four masked copies into strided views (0.12 against 0.22 ms for LeNet's first pool at
    batch 128; docs/performance.md, note 11). The forward stays in NumPy: a numba kernel measured
    slower there (its stride-2 loads do not vectorize).
    """
    rows, width = g.shape
    for r in range(rows):
        for q in range(width):
            v, k = g[r, q], index[r, q]
            dx[r, 0, 2 * q] = v if k == 0 else 0.0
            dx[r, 0, 2 * q + 1] = v if k == 1 else 0.0
            dx[r, 1, 2 * q] = v if k == 2 else 0.0
            dx[r, 1, 2 * q + 1] = v if k == 3 else 0.0
