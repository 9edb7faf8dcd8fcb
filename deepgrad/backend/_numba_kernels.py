"""The numba kernels themselves; imported only through ``deepgrad.backend.kernels`` on first use.

Every kernel is serial (``parallel=True`` fights OpenBLAS for the cores, docs/performance.md,
note 8), cached on disk (``cache=True``: compiled once per machine, then loaded in milliseconds)
and compiled with ``error_model='numpy'`` (the default Python error model checks every division
and stops LLVM from vectorizing the loop). They take float32 arrays and compute in float32: every
constant is a float32 (a Python float would promote the arithmetic to float64, which halves the
vector width and measured 2x slower, docs/performance.md, note 13). The fast-math flags allow
reassociation, fused multiply-add and reciprocal division, never the assumption that no NaN or
infinity occurs: a NaN in the inputs still comes out as a NaN.

tanh: numba's ``math.tanh`` is a scalar libm call, ~100x slower than NumPy's vectorized tanh
here. ``_tanh`` is a rational approximation tanh(x) = x P(x^2) / Q(x^2) on [-9, 9] (fitted by
least squares for this module; both polynomials have positive coefficients, so Q has no pole),
and +-1 beyond, where tanh rounds to +-1 in float32. Evaluated in float32, its relative error is
below 4e-7 (below 1.6e-7 in exact arithmetic): enough for float32, not for float64, which
therefore keeps the NumPy path.
"""

from __future__ import annotations

import math

import numpy as np

from deepgrad.backend.ops_compat import _ERF_CLIP, _ERF_P, _ERF_Q

try:
    from numba import njit
except ImportError:  # pytest's doctest collection imports every module; kernels.py never does then
    njit = None

_F = np.float32
_P1, _P2, _P3, _P4 = _F(1.34284830e-01), _F(3.55172631e-03), _F(2.15222768e-05), _F(1.45969453e-08)
_Q1, _Q2, _Q3, _Q4 = _F(4.67618146e-01), _F(2.60911547e-02), _F(3.37700557e-04), _F(8.29005486e-07)
_ONE, _HALF, _LIMIT, _ZERO = _F(1.0), _F(0.5), _F(9.0), _F(0.0)
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}  # not "nnan" nor "ninf": NaN propagates


def _jit(**options):
    if njit is None:
        return lambda function: function
    return njit(cache=True, error_model="numpy", **{"fastmath": _FASTMATH, **options})


@_jit(inline="always")
def _tanh(x):
    x = min(max(x, -_LIMIT), _LIMIT)
    s = x * x
    p = _ONE + s * (_P1 + s * (_P2 + s * (_P3 + s * _P4)))
    q = _ONE + s * (_Q1 + s * (_Q2 + s * (_Q3 + s * _Q4)))
    return min(max(x * p / q, -_ONE), _ONE)  # the fit overshoots 1 by an ulp near |x| = 9


@_jit(inline="always")
def _sigmoid(x):
    return _HALF * _tanh(_HALF * x) + _HALF  # 1 / (1 + exp(-x)), docs/performance.md, note 6


@_jit()
def tanh(x, out):
    """out = tanh(x) for 1-D float32 arrays (exposed for tests of the approximation)."""
    for k in range(x.shape[0]):
        out[k] = _tanh(x[k])


@_jit()
def lstm_forward_step(a, recurrent, c_prev, c_out, tanh_c_out, h_out):
    """One LSTM step after the gate GEMM, one batch row at a time.

    a (B, 4H) and recurrent (B, 4H): the two halves of the pre-activations (x W_ih^T + b and
    h_{t-1} W_hh^T, in either order); a is overwritten with the activations (i, f, g, o).
    c_t = f c_{t-1} + i g,  h_t = o tanh(c_t).
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
            i_ = _sigmoid(i[j] + ri[j])
            f_ = _sigmoid(f[j] + rf[j])
            g_ = _tanh(g[j] + rg[j])
            o_ = _sigmoid(o[j] + ro[j])
            c_ = f_ * cp[j] + i_ * g_
            tc_ = _tanh(c_)
            i[j], f[j], g[j], o[j] = i_, f_, g_, o_
            c[j], tc[j], h[j] = c_, tc_, o_ * tc_


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
            i_, f_, g_, o_, tc_ = i[j], f[j], g[j], o[j], tc[j]
            dh_ = dh_b[j] + dy_b[j]
            dc_ = dc_b[j] + dh_ * o_ * (_ONE - tc_ * tc_)
            di[j] = dc_ * g_ * i_ * (_ONE - i_)
            df[j] = dc_ * cp[j] * f_ * (_ONE - f_)
            dg[j] = dc_ * i_ * (_ONE - g_ * g_)
            do[j] = dh_ * tc_ * o_ * (_ONE - o_)
            dc_b[j] = dc_ * f_


@_jit()
def gru_forward_step(xg, hg, b_hh, h_prev, acts, h_out):
    """One GRU step after the GEMM hg = h_{t-1} W_hh^T, one batch row at a time.

    xg, hg, acts (B, 3H), b_hh (3H,), h_prev and h_out (B, H):
    r, z = sigmoid(xg + hg + b_hh) (first two thirds),  hg_n += b_hn (kept for backward),
    n = tanh(xg_n + r hg_n),  h_t = n + z (h_{t-1} - n);  acts = (r, z, n).
    """
    batch, hidden = h_out.shape
    br, bz, bn = b_hh[:hidden], b_hh[hidden : 2 * hidden], b_hh[2 * hidden :]
    for b in range(batch):
        xr, xz, xn = xg[b, :hidden], xg[b, hidden : 2 * hidden], xg[b, 2 * hidden :]
        hr, hz, hn = hg[b, :hidden], hg[b, hidden : 2 * hidden], hg[b, 2 * hidden :]
        r, z, n = acts[b, :hidden], acts[b, hidden : 2 * hidden], acts[b, 2 * hidden :]
        hp, h = h_prev[b], h_out[b]
        for j in range(hidden):
            r_ = _sigmoid(xr[j] + hr[j] + br[j])
            z_ = _sigmoid(xz[j] + hz[j] + bz[j])
            hn_ = hn[j] + bn[j]
            n_ = _tanh(xn[j] + r_ * hn_)
            r[j], z[j], n[j], hn[j] = r_, z_, n_, hn_
            h[j] = n_ + z_ * (hp[j] - n_)


@_jit()
def gru_backward_step(acts, hg, h_prev, dy, dh_gemm, dh_carry, dx, dhg):
    """One GRU step back through time, before the GEMM dhg @ W_hh.

    acts, hg, dx, dhg (B, 3H): (r, z, n), the forward's h_{t-1} W_hh^T + b_hh (its n third hg_n
    is used), and the outputs; h_prev, dy, dh_gemm, dh_carry (B, H).
    dh = dh_carry + dh_gemm + dy (the gradient of h_t: the z path, the W_hh path, the output);
    dn = dh (1 - z) (1 - n^2),  dz = dh (h_{t-1} - n) z (1 - z),  dr = dn hg_n r (1 - r);
    dx = (dr, dz, dn),  dhg = (dr, dz, dn r),  then dh_carry = dh z (the z path to step t-1).
    """
    batch, hidden = dy.shape
    for b in range(batch):
        r, z, n = acts[b, :hidden], acts[b, hidden : 2 * hidden], acts[b, 2 * hidden :]
        dxr, dxz, dxn = dx[b, :hidden], dx[b, hidden : 2 * hidden], dx[b, 2 * hidden :]
        dhr, dhz, dhn = dhg[b, :hidden], dhg[b, hidden : 2 * hidden], dhg[b, 2 * hidden :]
        hn, hp, dy_b = hg[b, 2 * hidden :], h_prev[b], dy[b]
        dg_b, dc_b = dh_gemm[b], dh_carry[b]
        for j in range(hidden):
            r_, z_, n_ = r[j], z[j], n[j]
            dh_ = dc_b[j] + dg_b[j] + dy_b[j]
            dn_ = dh_ * (_ONE - z_) * (_ONE - n_ * n_)
            dz_ = dh_ * (hp[j] - n_) * z_ * (_ONE - z_)
            dr_ = dn_ * hn[j] * r_ * (_ONE - r_)
            dxr[j], dxz[j], dxn[j] = dr_, dz_, dn_
            dhr[j], dhz[j], dhn[j] = dr_, dz_, dn_ * r_
            dc_b[j] = dh_ * z_


@_jit()
def max_pool_2x2_backward(g, index, dx):
    """dx[r, i, 2q + j] = g[r, q] where index[r, q] = 2i + j, else 0: max-pooling's backward.

    For 2x2 windows with stride 2 that tile the input: dx (R, 2, 2 * Q) holds the input's rows in
    pairs (N * C * H/2 of them), g and index (R, Q). One pass, 1.7-2.2x faster than the NumPy
    path's four masked copies into strided views (0.12 against 0.22 ms for LeNet's first pool at
    batch 128; docs/performance.md, note 12). The forward stays in NumPy: a numba kernel measured
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


@_jit()
def conv2d_weight_grad(x, dy, dw, batch):
    """dw[o, c, i, j] = sum_{p, m} dy[o, p, m] x[c, p + i, j * batch + m]: a stride-1 convolution's
    weight gradient straight from the (C, H, W, N) layout, with no im2col matrix.

    x (C, Hp, Wp * N) is the padded input and dy (O, Ho, Wo * N) the output gradient, each row of
    an image flattened with the batch innermost, so every term is a dot product of two contiguous
    runs of Wo * N numbers; dw (O, C, kh, kw) must be zeroed. Two kernel columns share each load of
    dy. 1.8-2.9x faster than im2col and OpenBLAS's GEMM for LeNet's two layers at batch 128, whose
    products (6 x 73 728 x 25 and 16 x 8 192 x 150) are too thin for its kernels
    (docs/performance.md, note 17).
    """
    channels, _, _ = x.shape
    out_channels, out_h, run = dy.shape
    kh, kw = dw.shape[2], dw.shape[3]
    for c in range(channels):
        for p in range(out_h):
            for i in range(kh):
                xrow = x[c, p + i]
                for o in range(out_channels):
                    d = dy[o, p]
                    for j in range(0, kw - 1, 2):
                        x0 = xrow[j * batch : j * batch + run]
                        x1 = xrow[(j + 1) * batch : (j + 1) * batch + run]
                        a0 = _ZERO
                        a1 = _ZERO
                        for m in range(run):
                            v = d[m]
                            a0 += x0[m] * v
                            a1 += x1[m] * v
                        dw[o, c, i, j] += a0
                        dw[o, c, i, j + 1] += a1
                    if kw % 2:
                        x0 = xrow[(kw - 1) * batch : (kw - 1) * batch + run]
                        a0 = _ZERO
                        for m in range(run):
                            a0 += x0[m] * d[m]
                        dw[o, c, i, kw - 1] += a0


@_jit()
def conv2d_forward(x, w, y, batch):
    """y[o, p, m] += sum_{c, i, j} w[o, c, i, j] x[c, p + i, j * batch + m]: a stride-1 convolution
    computed directly in the (C, H, W, N) layout (the weight-gradient kernel's layout).

    x (C, Hp, Wp * N) is the padded input, w (O, C, kh, kw), and y (O, Ho, Wo * N) holds the bias
    (or zeros) on entry. Each output row gains two kernel columns per pass. Faster than im2col and
    OpenBLAS's GEMM only where the GEMM's inner dimension C * kh * kw is small (0.44 against
    0.70 ms for LeNet's first layer, 25; 2.4 against 4.0 ms for 3 x 3 x 3; a tie at 144), so
    ``ops/conv.py`` uses it there only (docs/performance.md, note 17).
    """
    channels = x.shape[0]
    out_channels, out_h, run = y.shape
    kh, kw = w.shape[2], w.shape[3]
    for o in range(out_channels):
        for p in range(out_h):
            yr = y[o, p]
            for c in range(channels):
                for i in range(kh):
                    xrow = x[c, p + i]
                    for j in range(0, kw - 1, 2):
                        x0 = xrow[j * batch : j * batch + run]
                        x1 = xrow[(j + 1) * batch : (j + 1) * batch + run]
                        w0, w1 = w[o, c, i, j], w[o, c, i, j + 1]
                        for m in range(run):
                            yr[m] += w0 * x0[m] + w1 * x1[m]
                    if kw % 2:
                        x0 = xrow[(kw - 1) * batch : (kw - 1) * batch + run]
                        w0 = w[o, c, i, kw - 1]
                        for m in range(run):
                            yr[m] += w0 * x0[m]


@_jit()
def layer_norm_forward(x, w, b, eps, y, mean, rstd):
    """y = (x - mean) * rstd * w + b per row of x (R, N); mean (R,) and rstd (R,) are kept.

    rstd = 1 / sqrt(var + eps), the biased variance taken around the row's mean (two passes over
    the row, which sits in the L1 cache: no cancellation from E[x^2] - E[x]^2). eps is a float32.
    One call replaces the NumPy path's nine passes over the whole array (ops/row_kernels.py).
    """
    rows, n = x.shape
    inv_n = _ONE / np.float32(n)
    for r in range(rows):
        xr, yr = x[r], y[r]
        s = _ZERO
        for j in range(n):
            s += xr[j]
        mu = s * inv_n
        v = _ZERO
        for j in range(n):
            d = xr[j] - mu
            v += d * d
        inv = _ONE / np.sqrt(v * inv_n + eps)
        for j in range(n):
            yr[j] = (xr[j] - mu) * inv * w[j] + b[j]
        mean[r] = mu
        rstd[r] = inv


@_jit()
def layer_norm_backward(x, dy, w, mean, rstd, dx, dw, db):
    """Layer norm's backward per row of x (R, N), xhat recomputed from mean and rstd (R,):
    g = dy * w,  dx = rstd * (g - mean(g) - xhat * mean(g * xhat));  dw += dy * xhat, db += dy
    (dw and db (N,) must be zeroed by the caller: they sum over the rows)."""
    rows, n = x.shape
    inv_n = _ONE / np.float32(n)
    for r in range(rows):
        xr, gr, dxr = x[r], dy[r], dx[r]
        mu, inv = mean[r], rstd[r]
        sg = _ZERO
        sgx = _ZERO
        for j in range(n):
            xh = (xr[j] - mu) * inv
            g = gr[j] * w[j]
            dxr[j] = g  # rounded once, as the NumPy path's g: a row of one gives dx = 0 exactly
            sg += g
            sgx += g * xh
            dw[j] += gr[j] * xh
            db[j] += gr[j]
        mg = sg * inv_n
        mgx = sgx * inv_n
        for j in range(n):
            xh = (xr[j] - mu) * inv
            dxr[j] = inv * (dxr[j] - mg - xh * mgx)


@_jit()
def softmax_shift(p, scale, length, causal):
    """p = p * scale - max_j (p * scale) per row of p (R, S), the step before exp of a softmax.

    With ``causal``, row r is query i = r % length and may see keys j <= i only (top-left
    aligned): the others get -inf (exp gives 0) and stay out of the max. exp stays NumPy's (in
    numba it is a scalar libm call); ``softmax_normalize`` follows it. The max runs in eight
    lanes with selects (``max()`` checks for NaN and does not vectorize: 2.4x slower). A NaN is
    skipped by the max but still gives NaN after the shift, so its row ends all NaN, as NumPy's.
    """
    rows, n = p.shape
    lanes = np.empty(8, p.dtype)
    for r in range(rows):
        pr = p[r]
        seen = min(r % length + 1, n) if causal else n
        whole = seen - seen % 8
        lanes[:] = -np.inf
        for j in range(0, whole, 8):
            block = pr[j : j + 8]
            for k in range(8):
                v = block[k]
                lanes[k] = v if v > lanes[k] else lanes[k]
        m = lanes[0]
        for k in range(1, 8):
            m = lanes[k] if lanes[k] > m else m
        for j in range(whole, seen):
            m = pr[j] if pr[j] > m else m
        m = m * scale if scale >= _ZERO else _min_times(pr, seen, scale)
        for j in range(seen):
            pr[j] = pr[j] * scale - m
        for j in range(seen, n):
            pr[j] = -np.inf


@_jit(inline="always")
def _min_times(row, seen, scale):
    """max_j row[j] * scale for a negative scale: the row's min times scale."""
    m = np.inf
    for j in range(seen):
        m = row[j] if row[j] < m else m
    return m * scale


@_jit()
def softmax_normalize(p, length, causal):
    """p /= sum_j p per row of p (R, S), after exp; causal rows sum their first r % length + 1
    entries (the others are exp(-inf) = 0; a NaN row makes them NaN too, as NumPy's division)."""
    rows, n = p.shape
    for r in range(rows):
        pr = p[r]
        seen = min(r % length + 1, n) if causal else n
        s = _ZERO
        for j in range(seen):
            s += pr[j]
        inv = _ONE / s
        for j in range(n):
            pr[j] *= inv


@_jit()
def softmax_backward(ds, p, scale):
    """ds = (ds - sum_j ds * p) * p * scale per row of ds and p (R, S): the softmax's backward
    with the score scale of attention folded in (ds holds dP = dy v^T on entry)."""
    rows, n = p.shape
    for r in range(rows):
        dr, pr = ds[r], p[r]
        d = _ZERO
        for j in range(n):
            d += dr[j] * pr[j]
        for j in range(n):
            dr[j] = (dr[j] - d) * pr[j] * scale


# erf_float32's constants (backend/ops_compat.py) as float32: the GELU kernel repeats its passes.
_EP0, _EP1, _EP2, _EP3, _EP4, _EP5, _EP6 = (_F(c) for c in _ERF_P)
_EQ0, _EQ1, _EQ2, _EQ3, _EQ4, _EQ5 = (_F(c) for c in _ERF_Q)
_ERF_LIMIT, _INV_SQRT2 = _F(_ERF_CLIP), _F(1.0 / math.sqrt(2.0))


@_jit(fastmath=False)
def gelu_forward(x, y, phi):
    """phi = (1 + erf(x / sqrt 2)) / 2 and y = x * phi for 1-D float32 arrays, erf by
    ``erf_float32``'s rational approximation.

    The same float32 operations in the same order as the NumPy passes of ``ops/fused_layers.Gelu``
    (clip, two Horner chains, divide, clip), element by element in registers instead of ~25 passes
    over the array: the values are NumPy's bit for bit (NaN, +-inf and -0 included). No fast-math
    flags: ``contract`` would fuse the Horner steps into FMAs and ``reassoc`` could reorder them.
    """
    for k in range(x.shape[0]):
        a = x[k]
        z = a * _INV_SQRT2
        xc = _ERF_LIMIT if z > _ERF_LIMIT else (-_ERF_LIMIT if z < -_ERF_LIMIT else z)  # NaN stays
        u = xc * xc
        p = u * _EP6 + _EP5
        p = ((((p * u + _EP4) * u + _EP3) * u + _EP2) * u + _EP1) * u + _EP0
        q = u * _EQ5 + _EQ4
        q = (((q * u + _EQ3) * u + _EQ2) * u + _EQ1) * u + _EQ0
        e = p * xc / q
        e = _ONE if e > _ONE else (-_ONE if e < -_ONE else e)
        h = (e + _ONE) * _HALF
        phi[k] = h
        y[k] = a * h
