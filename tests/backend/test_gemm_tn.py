"""numba's gemm_tn (c += a^T b) and matmul_tn, which chooses it, against NumPy; the recurrent layers
and their Projection with each product path forced."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.backend import blas, gemm_tn
from deepgrad.backend import kernels as K
from deepgrad.ops.rnn import Projection, gru_layer, lstm_layer, rnn_layer

needs_numba = pytest.mark.skipif(not K.numba_available(), reason="numba not installed")


@needs_numba
@pytest.mark.parametrize(
    "shape", [(64, 128, 512), (130, 512, 128), (7, 13, 37), (1, 1, 1), (70, 24, 50), (5, 8, 32)]
)
@pytest.mark.parametrize("strided", [False, True])
def test_gemm_tn_kernel_adds_the_product(shape, strided):
    """Whole 8x32 tiles, k blocks of 64 and the edge rows and columns: c + a^T b as in float64."""
    depth, rows, cols = shape
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal((depth, rows)).astype(np.float32)
    if strided:  # a transposed view, as the forward step passes h
        a = np.ascontiguousarray(a.T).T
    b = rng.standard_normal((depth, cols)).astype(np.float32)
    c = rng.standard_normal((rows, cols)).astype(np.float32)
    want = c.astype(np.float64) + a.T.astype(np.float64) @ b.astype(np.float64)
    K.kernel("gemm_tn")(a, b, c)
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5 * np.sqrt(depth))
    a[depth - 1, rows - 1] = np.nan  # the last row of c: in a tile or an edge, by the shape
    K.kernel("gemm_tn")(a, b, c)
    assert np.isnan(c[rows - 1]).all() and np.isfinite(c[: rows - 1]).all()


@pytest.fixture(params=[True, False], ids=["gemm_tn", "numpy"])
def tn_path(request, monkeypatch):
    """matmul_tn forced onto one path for every shape class (numba's kernel or NumPy's a.T @ b)."""
    if request.param and not K.numba_available():
        pytest.skip("numba not installed")
    monkeypatch.setattr(gemm_tn, "_chosen", lambda gemm, a, b: request.param)
    return request.param


def test_matmul_tn_equals_numpy(tn_path):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((100, 40)).astype(np.float32)
    b = rng.standard_normal((100, 70)).astype(np.float32)
    want = a.T.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(gemm_tn.matmul_tn(a, b), want, rtol=1e-5, atol=1e-4)
    out = np.ones((40, 70), np.float32)
    assert gemm_tn.matmul_tn(a, b[:, ::-1], out) is out  # b with reversed rows: copied first
    np.testing.assert_allclose(out, 1 + a.T @ b[:, ::-1], rtol=1e-5, atol=1e-4)
    as_float64 = gemm_tn.matmul_tn(a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(as_float64, want, rtol=1e-12)


@needs_numba
def test_matmul_tn_decision_is_kept_for_later_processes(monkeypatch, tmp_path):
    path = tmp_path / "choices.json"
    monkeypatch.setenv("DEEPGRAD_BLAS_CACHE", str(path))
    monkeypatch.setattr(blas, "_persisted", None)
    monkeypatch.setattr(gemm_tn, "_uses_kernel", {})
    a, b = np.ones((300, 64), np.float32), np.ones((300, 32), np.float32)
    with K.use_numba(True):
        first = gemm_tn._chosen(K.kernel("gemm_tn"), a, b)
    kept = [c for section in json.loads(path.read_text()).values() for c in section.items()]
    assert ("a^T b float32 k 256-511 m 64-127 n 32-63", "numba" if first else "numpy") in kept
    monkeypatch.setattr(blas, "_persisted", None)
    monkeypatch.setattr(gemm_tn, "_uses_kernel", {})
    rigged = {"numpy": 1.0, "numba": 2.0} if first else {"numpy": 2.0, "numba": 1.0}
    monkeypatch.setattr(blas, "calibrate", lambda *args: dict(rigged))
    with K.use_numba(True):
        assert gemm_tn._chosen(K.kernel("gemm_tn"), a, b) == first


_LAYERS = {"lstm": (lstm_layer, 4), "gru": (gru_layer, 3), "rnn": (rnn_layer, 1)}


def _layer_run(kind, arrays, bias, numba):
    layer, _ = _LAYERS[kind]
    with K.use_numba(numba):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = (
            dg.from_numpy(a.copy()).requires_grad_() for a in arrays
        )
        biases = (b_ih, b_hh) if bias else (None, None)
        state = (h0, c0) if kind == "lstm" else h0
        out, _ = layer(x, state, w_ih, w_hh, *biases, reverse=True)
        (out * out).sum().backward()
    tensors = (x, h0, w_ih, w_hh) + (biases if bias else ())
    return [out.detach().numpy()] + [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("kind", list(_LAYERS))
@pytest.mark.parametrize("bias", [True, False])
def test_layers_with_each_product_path_equal_the_numpy_path(kind, bias, tn_path):
    """Projection and dW_hh through the forced path == the plain NumPy path (numba off)."""
    T, B, I, H = 5, 9, 33, 40  # 4H = 160 and H = 40: whole tiles and edges
    gates = _LAYERS[kind][1] * H
    rng = np.random.default_rng(7)
    shapes = [(T, B, I), (B, H), (B, H), (gates, I), (gates, H), (gates,), (gates,)]
    arrays = [rng.uniform(-0.5, 0.5, s).astype(np.float32) for s in shapes]
    fast = _layer_run(kind, arrays, bias, True)
    plain = _layer_run(kind, arrays, bias, False)
    for i, (a, b) in enumerate(zip(fast, plain)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max(), err_msg=str(i))


@pytest.mark.parametrize("bias", [True, False])
def test_projection_gradcheck_and_gradgradcheck(bias):
    rng = np.random.default_rng(2)
    args = [dg.tensor(rng.standard_normal(s)).requires_grad_() for s in ((6, 3), (4, 3), (4,))]
    args = args if bias else args[:2]
    assert gradcheck(Projection.apply, tuple(args))
    assert gradgradcheck(Projection.apply, tuple(args))
    x, w, *b = (t.detach().numpy() for t in args)
    want = x @ w.T + (b[0] if bias else 0)
    np.testing.assert_allclose(Projection.apply(*args).detach().numpy(), want, rtol=1e-12)
