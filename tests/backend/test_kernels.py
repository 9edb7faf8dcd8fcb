"""The optional numba kernels (deepgrad.backend.kernels) against the NumPy code they replace,
the switch that turns them off, and deepgrad.backend.info()."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.backend import BackendInfo, info
from deepgrad.backend import kernels as K
from deepgrad.ops.rnn import GRURecurrence, LSTMRecurrence, gru_layer, lstm_layer

needs_numba = pytest.mark.skipif(not K.numba_available(), reason="numba not installed")


def test_import_deepgrad_does_not_import_numba():
    code = "import sys, deepgrad; deepgrad.backend.info(); print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_use_numba_as_call_and_context_manager():
    before = K.numba_enabled()
    with K.use_numba(False):
        assert not K.numba_enabled()
        assert K.kernel("lstm_forward_step") is None
        assert K.active_kernels() == ()
        with K.use_numba(True):
            assert K.numba_enabled() == K.numba_available()
        assert not K.numba_enabled()
    assert K.numba_enabled() == before
    switch = K.use_numba(False)  # a plain call switches until switched back
    assert not K.numba_enabled()
    K.use_numba(switch.previous)
    assert K.numba_enabled() == before


def test_kernel_errors():
    with pytest.raises(ValueError, match="unknown kernel 'nope'"):
        K.kernel("nope")
    with pytest.raises(TypeError, match="use_numba: enabled must be True or False"):
        K.use_numba(1)


def test_float32_numpy():
    assert K.float32_numpy(np.zeros(2, np.float32), np.ones((1, 2), np.float32))
    assert not K.float32_numpy(np.zeros(2, np.float32), np.zeros(2, np.float64))


@needs_numba
def test_tanh_approximation_matches_numpy_to_float32_precision():
    x = np.concatenate(
        [np.linspace(-12, 12, 100_001), [0.0, -0.0, 1e-30, 8.99, 9.0, 9.01, 50, -50]]
    )
    x = x.astype(np.float32)
    out = np.empty_like(x)
    from deepgrad.backend import _numba_kernels

    _numba_kernels.tanh(x, out)
    exact = np.tanh(x.astype(np.float64))
    # evaluated in float32: a few ulps (NumPy's own float32 tanh is within ~1.1e-7)
    assert np.all(np.abs(out - exact) <= 4e-7 * np.maximum(np.abs(exact), 1e-30) + 1e-45)
    assert np.all(np.abs(out) <= 1.0)
    special = np.array([np.nan, np.inf, -np.inf] + [0.5] * 29, np.float32)  # the vector loop too
    _numba_kernels.tanh(special, out[:32])
    assert np.isnan(out[0]) and out[1] == 1.0 and out[2] == -1.0


@needs_numba
def test_lstm_forward_kernel_propagates_nan():
    """fast-math without the no-NaN assumption: a NaN pre-activation reaches h and c."""
    from deepgrad.backend import _numba_kernels

    a = np.zeros((2, 4 * 16), np.float32)
    a[1, 3] = np.nan  # the input gate of unit 3 in row 1
    c, tc, h = (np.empty((2, 16), np.float32) for _ in range(3))
    _numba_kernels.lstm_forward_step(a, np.zeros_like(a), np.ones((2, 16), np.float32), c, tc, h)
    assert np.isnan(h[1, 3]) and np.isnan(c[1, 3])
    assert np.isfinite(np.delete(h.ravel(), 16 + 3)).all()


@needs_numba
def test_lstm_sequence_kernels_propagate_nan(lstm_sequence):
    """A NaN input at step 0 reaches every later state through the recurrent GEMM."""
    rng = np.random.default_rng(4)
    xg, w_hh, h0, c0 = _lstm_arrays(rng, 4, 9, 6)
    xg[0, 2, 1] = np.nan
    with K.use_numba(True):
        y = LSTMRecurrence.apply(*(dg.from_numpy(a) for a in (xg, w_hh, h0, c0))).numpy()
    assert np.isnan(y[0, 2]).sum() >= 1 and np.isnan(y[1:, 2]).all()
    assert np.isfinite(np.delete(y, 2, axis=1)).all()


def test_lstm_sequence_kernels_only_for_float32_numpy_with_numba():
    from deepgrad.ops import rnn_kernels

    rng = np.random.default_rng(5)
    arrays = _lstm_arrays(rng, 2, 3, 4)
    assert rnn_kernels.lstm_sequence_kernels(np, *(a.astype(np.float64) for a in arrays)) is None
    with K.use_numba(False):
        assert rnn_kernels.lstm_sequence_kernels(np, *arrays) is None
    if K.numba_available():
        with K.use_numba(True):
            chosen = rnn_kernels.lstm_sequence_kernels(np, *arrays)
        assert isinstance(rnn_kernels._numba_gemm_faster[(3, 16, 4)], bool)
        assert (chosen is not None) == rnn_kernels._numba_gemm_faster[(3, 16, 4)]


@needs_numba
def test_the_recurrent_gemm_decision_is_kept_for_later_processes(monkeypatch, tmp_path):
    """A resumed run must take the same LSTM path as the run that wrote its checkpoint."""
    import json

    from deepgrad.backend import blas
    from deepgrad.ops import rnn_kernels

    path = tmp_path / "choices.json"
    monkeypatch.setenv("DEEPGRAD_BLAS_CACHE", str(path))
    monkeypatch.setattr(blas, "_persisted", None)
    arrays = _lstm_arrays(np.random.default_rng(6), 2, 3, 4)
    with K.use_numba(True):
        first = rnn_kernels._measure_gemm(np, arrays[2], arrays[1])
    kept = [c for section in json.loads(path.read_text()).values() for c in section.items()]
    assert (
        "lstm step h W_hh^T (gemm_tn) float32 batch 3 hidden 4",
        "numba" if first else "numpy",
    ) in kept
    # A new process reads the file; times rigged the other way must not change the decision.
    monkeypatch.setattr(blas, "_persisted", None)
    rigged = {"numpy": 1.0, "numba": 2.0} if first else {"numpy": 2.0, "numba": 1.0}
    monkeypatch.setattr(blas, "calibrate", lambda *args: dict(rigged))
    with K.use_numba(True):
        assert rnn_kernels._measure_gemm(np, arrays[2], arrays[1]) == first


def _lstm_arrays(rng, length, batch, hidden, dtype=np.float32):
    return (
        rng.uniform(-2, 2, (length, batch, 4 * hidden)).astype(dtype),
        rng.uniform(-0.5, 0.5, (4 * hidden, hidden)).astype(dtype),
        rng.uniform(-1, 1, (batch, hidden)).astype(dtype),
        rng.uniform(-1, 1, (batch, hidden)).astype(dtype),
    )


def _lstm_run(arrays, dy, reverse, enabled):
    with K.use_numba(enabled):
        tensors = [dg.from_numpy(a.copy()).requires_grad_() for a in arrays]
        y = LSTMRecurrence.apply(*tensors, reverse=reverse)
        y.backward(dg.from_numpy(dy))
    return [y.detach().numpy()] + [t.grad.numpy() for t in tensors]


@pytest.fixture(params=[True, False], ids=["sequence", "per-step"])
def lstm_sequence(request, monkeypatch):
    """Both float32 kernel paths of the LSTM: the whole-sequence kernels and the per-step loop,
    whichever the GEMM measurement would pick on this machine."""
    from deepgrad.ops import rnn_kernels

    monkeypatch.setattr(rnn_kernels, "_numba_gemm_faster", {})
    monkeypatch.setattr(rnn_kernels, "_measure_gemm", lambda xp, h, w: request.param)
    return request.param


@needs_numba
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 2, 5), (7, 4, 17), (5, 64, 128), (3, 9, 11)])
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_kernels_equal_the_numpy_path(shape, reverse, lstm_sequence):
    rng = np.random.default_rng(sum(shape))
    arrays = _lstm_arrays(rng, *shape)
    length, batch, hidden = shape
    dy = rng.standard_normal((length + 1, batch, hidden)).astype(np.float32)
    fast = _lstm_run(arrays, dy, reverse, True)
    plain = _lstm_run(arrays, dy, reverse, False)
    for name, a, b in zip(("y", "dxg", "dw_hh", "dh0", "dc0"), fast, plain):
        assert a.dtype == np.float32
        # both are float32 computations summing many terms: compare relative to the largest entry
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max(), err_msg=name)


@needs_numba
def test_lstm_kernel_handles_strided_inputs(lstm_sequence):
    """A non-contiguous c0 and output gradient (as slices of larger arrays) take the kernel too."""
    rng = np.random.default_rng(3)
    _xg, w_hh, h0, _ = _lstm_arrays(rng, 4, 3, 6)
    c0_big = rng.uniform(-1, 1, (6, 3)).astype(np.float32)
    results = []
    for enabled in (True, False):
        with K.use_numba(enabled):
            x = dg.from_numpy(rng.standard_normal((4, 3, 5)).astype(np.float32) * 0 + 0.3)
            ts = [dg.from_numpy(a.copy()).requires_grad_() for a in (w_hh, h0)]
            c0 = dg.from_numpy(c0_big.copy()).requires_grad_()
            w_ih = dg.from_numpy(np.full((24, 5), 0.1, np.float32)).requires_grad_()
            out, (_hn, cn) = lstm_layer(x, (ts[1], c0.mT), w_ih, ts[0], reverse=True)
            (out[:, :, ::2].sum() + (cn * cn).sum()).backward()
            results.append(
                [out.detach().numpy(), c0.grad.numpy(), w_ih.grad.numpy(), ts[0].grad.numpy()]
            )
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)


def _gru_run(arrays, dy, reverse, enabled):
    with K.use_numba(enabled):
        tensors = [dg.from_numpy(a.copy()).requires_grad_() for a in arrays]
        y = GRURecurrence.apply(*tensors, reverse=reverse)
        y.backward(dg.from_numpy(dy))
    return [y.detach().numpy()] + [t.grad.numpy() for t in tensors]


@needs_numba
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 2, 5), (7, 4, 17), (5, 64, 128)])
@pytest.mark.parametrize("reverse", [False, True])
def test_gru_kernels_equal_the_numpy_path(shape, reverse):
    rng = np.random.default_rng(sum(shape) + 1)
    length, batch, hidden = shape
    arrays = (
        rng.uniform(-2, 2, (length, batch, 3 * hidden)).astype(np.float32),
        rng.uniform(-0.5, 0.5, (3 * hidden, hidden)).astype(np.float32),
        rng.uniform(-1, 1, 3 * hidden).astype(np.float32),
        rng.uniform(-1, 1, (batch, hidden)).astype(np.float32),
    )
    dy = rng.standard_normal((length, batch, hidden)).astype(np.float32)
    fast = _gru_run(arrays, dy, reverse, True)
    plain = _gru_run(arrays, dy, reverse, False)
    for name, a, b in zip(("y", "dxg", "dw_hh", "db_hh", "dh0"), fast, plain):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max(), err_msg=name)


@needs_numba
def test_gru_kernel_handles_strided_inputs():
    """A transposed h0 and a strided output gradient take the kernel and match the NumPy path."""
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal((4, 3, 5)).astype(np.float32)
    params = [
        rng.uniform(-0.5, 0.5, s).astype(np.float32) for s in ((18, 5), (18, 6), (18,), (18,))
    ]
    h0_t = rng.uniform(-1, 1, (6, 3)).astype(np.float32)
    results = []
    for enabled in (True, False):
        with K.use_numba(enabled):
            ts = [dg.from_numpy(p.copy()).requires_grad_() for p in params]
            h0 = dg.from_numpy(h0_t.copy()).requires_grad_()
            out, hn = gru_layer(dg.from_numpy(x_np), h0.mT, *ts, reverse=True)
            (out[:, :, ::2].sum() + (hn * hn).sum()).backward()
            results.append([out.detach().numpy(), h0.grad.numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)


def test_float64_keeps_the_numpy_path(monkeypatch):
    """The kernels are float32-only (their tanh is accurate to float32): float64 never calls one."""
    import deepgrad.ops.rnn_fused as rnn_fused
    import deepgrad.ops.rnn_kernels as rnn_kernels

    def refuse(name):
        pytest.fail(f"kernel {name} asked for float64")

    # the ops import ``kernel`` by name: patch it where they look it up
    for module in (K, rnn_fused, rnn_kernels):
        monkeypatch.setattr(module, "kernel", refuse)
    rng = np.random.default_rng(0)
    tensors = [dg.from_numpy(a).requires_grad_() for a in _lstm_arrays(rng, 3, 2, 4, np.float64)]
    y = LSTMRecurrence.apply(*tensors)
    y.sum().backward()
    assert tensors[0].grad.dtype == dg.float64
    x, w_hh, h0, _ = (
        a[..., :12] if a.ndim == 3 else a for a in _lstm_arrays(rng, 3, 2, 4, np.float64)
    )
    tensors = [dg.from_numpy(a).requires_grad_() for a in (x, w_hh[:12], np.zeros(12), h0)]
    GRURecurrence.apply(*tensors).sum().backward()
    assert tensors[0].grad.dtype == dg.float64


def test_nn_lstm_trains_the_same_with_and_without_numba(numba_mode):
    """nn.LSTM, two layers, bidirectional: the gradients under either mode equal the plain path's."""

    def grads(enabled):
        dg.manual_seed(0)
        with K.use_numba(enabled):
            lstm = dg.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
            x = dg.from_numpy(
                np.random.default_rng(1).standard_normal((6, 2, 3)).astype(np.float32)
            )
            out, (h, c) = lstm(x)
            (out.sum() + h.sum() + (c * c).sum()).backward()
            return [p.grad.numpy() for p in lstm.parameters()]

    for a, b in zip(grads(numba_mode), grads(False)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)


def test_info_reports_blas_cpu_threads_and_kernels():
    report = info()
    assert isinstance(report, BackendInfo)
    assert report.numpy_version == np.__version__
    assert report.cpu_count >= 1 and report.cpu_model
    assert report.blas
    text = str(report)
    for label in ("CPU:", "NumPy:", "BLAS:", "numba:", "kernels:"):
        assert label in text
    with K.use_numba(False):
        off = info()
    assert off.kernels == () and not off.numba_enabled
    assert "none (NumPy everywhere)" in str(off)
    if K.numba_available():
        assert report.kernels == K.KERNELS and report.numba_version
        assert "switched off" in str(off)
    else:
        assert report.numba_version is None and "not installed" in text


def test_info_cpu_model_reads_proc_cpuinfo():
    from deepgrad.backend.sysinfo import cpu_model

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    assert cpu_model() == names[0]


def test_without_numba_every_kernel_is_none(monkeypatch):
    monkeypatch.setattr(K, "_available", False)
    assert not K.numba_enabled() and K.active_kernels() == ()
    assert all(K.kernel(name) is None for name in K.KERNELS)
    with K.use_numba(True):
        assert not K.numba_enabled()
    assert info().numba_version is None and "not installed" in str(info())


@pytest.fixture(params=[True, False], ids=["kernels", "numpy"])
def layer_norm_path(request, monkeypatch):
    """Both float32 paths of LayerNorm, whichever the measurement would pick on this machine."""
    from deepgrad.ops import row_kernels

    monkeypatch.setattr(row_kernels, "_kernels_faster", {})
    monkeypatch.setattr(row_kernels, "_measure", lambda x, reference: request.param)
    return request.param


def _layer_norm_run(x, shape, affine, dy, enabled, dtype=np.float32):
    with K.use_numba(enabled):
        rng = np.random.default_rng(1)
        xt = dg.from_numpy(x.astype(dtype)).requires_grad_()
        params = [
            dg.from_numpy(rng.uniform(0.5, 1.5, shape).astype(dtype)).requires_grad_()
            if on
            else None
            for on in affine
        ]
        y = F.layer_norm(xt, shape, *params)
        ran_kernels = y.grad_fn.stats is not None  # the context is freed by backward
        y.backward(dg.from_numpy(dy.astype(dtype)))
    return ran_kernels, [y.detach().numpy(), xt.grad.numpy()] + [
        p.grad.numpy() for p in params if p is not None
    ]


@needs_numba
@pytest.mark.parametrize(
    "x_shape,shape",
    [
        ((1, 1), (1,)),
        ((3, 7), (7,)),
        ((2, 5, 33), (33,)),
        ((4, 64, 128), (128,)),
        ((3, 4, 5), (4, 5)),
    ],
)
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
def test_layer_row_kernels_equal_the_numpy_path(x_shape, shape, affine, layer_norm_path):
    from deepgrad.ops import row_kernels

    rng = np.random.default_rng(sum(x_shape))
    x = (rng.standard_normal(x_shape) * 3 + 2).astype(np.float32)
    dy = rng.standard_normal(x_shape).astype(np.float32)
    ran_kernels, fast = _layer_norm_run(x, shape, affine, dy, True)
    assert ran_kernels == layer_norm_path  # the path forced ran
    assert len(row_kernels._kernels_faster) == 1
    _, plain = _layer_norm_run(x, shape, affine, dy, False)
    for name, a, b in zip(("y", "dx", "dw", "db"), fast, plain):
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5 * np.abs(b).max(), err_msg=name)


@needs_numba
def test_layer_row_kernels_take_strided_input_and_propagate_nan(layer_norm_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 20)).astype(np.float32)[:, ::2]  # not contiguous
    x[1, 3] = np.nan
    dy = rng.standard_normal((6, 10)).astype(np.float32)
    _, fast = _layer_norm_run(x, (10,), (True, True), dy, True)
    _, plain = _layer_norm_run(x, (10,), (True, True), dy, False)
    y, dx = fast[0], fast[1]
    assert np.isnan(y[1]).all() and np.isnan(dx[1]).all() and np.isfinite(np.delete(y, 1, 0)).all()
    ok = np.arange(6) != 1
    np.testing.assert_allclose(y[ok], plain[0][ok], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx[ok], plain[1][ok], rtol=1e-4, atol=1e-5)


def test_layer_norm_float64_never_asks_for_a_kernel(monkeypatch):
    from deepgrad.ops import row_kernels

    monkeypatch.setattr(row_kernels, "kernel", lambda name: pytest.fail(f"{name} for float64"))
    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    ran_kernels, grads = _layer_norm_run(x, (4,), (True, True), dy, True, np.float64)
    assert not ran_kernels and all(g.dtype == np.float64 for g in grads)


@needs_numba
def test_the_layer_norm_decision_is_kept_for_later_processes(monkeypatch, tmp_path):
    import json

    from deepgrad.backend import blas
    from deepgrad.ops import row_kernels

    monkeypatch.setenv("DEEPGRAD_BLAS_CACHE", str(tmp_path / "choices.json"))
    monkeypatch.setattr(blas, "_persisted", None)
    monkeypatch.setattr(row_kernels, "_kernels_faster", {})
    x = np.random.default_rng(4).standard_normal((40, 16)).astype(np.float32)
    with K.use_numba(True):
        first = row_kernels.layer_norm_applies(x, None, None, 1, lambda a, b: a * b)
    kept = [
        c for s in json.loads((tmp_path / "choices.json").read_text()).values() for c in s.items()
    ]
    assert ("layer_norm float32 rows 32-63 features 16", "numba" if first else "numpy") in kept
    monkeypatch.setattr(blas, "_persisted", None)  # a new process, timings rigged the other way
    monkeypatch.setattr(row_kernels, "_kernels_faster", {})
    rigged = {"numpy": 1.0, "numba": 2.0} if first else {"numpy": 2.0, "numba": 1.0}
    monkeypatch.setattr(blas, "calibrate", lambda *args: dict(rigged))
    with K.use_numba(True):
        assert row_kernels.layer_norm_applies(x, None, None, 1, lambda a, b: a * b) == first


@pytest.fixture(params=[True, False], ids=["kernels", "numpy"])
def softmax_path(request, monkeypatch):
    """Both float32 paths of attention's softmax, whichever the measurement would pick here."""
    from deepgrad.ops import row_kernels

    monkeypatch.setattr(row_kernels, "_softmax_faster", {})
    monkeypatch.setattr(row_kernels, "_measure_softmax", lambda p, c, reference: request.param)
    return request.param


def _sdpa_run(arrays, dy, causal, enabled, mask=None):
    with K.use_numba(enabled):
        tensors = [dg.from_numpy(a.copy()).requires_grad_() for a in arrays]
        y = F.scaled_dot_product_attention(*tensors, attn_mask=mask, is_causal=causal)
        ran_kernels = y.grad_fn.row_kernels
        y.backward(dg.from_numpy(dy))
    return ran_kernels, [y.detach().numpy()] + [t.grad.numpy() for t in tensors]


@needs_numba
@pytest.mark.parametrize("lengths", [(1, 1), (5, 5), (7, 3), (3, 9), (64, 64), (17, 17)])
@pytest.mark.parametrize("causal", [False, True])
def test_softmax_kernels_equal_the_numpy_path(lengths, causal, softmax_path):
    rng = np.random.default_rng(sum(lengths))
    (l, s), e = lengths, 8
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in ((2, 3, l, e),)]
    arrays += [rng.standard_normal((2, 3, s, e)).astype(np.float32) for _ in range(2)]
    arrays[0] *= 4  # sharp rows: the max shift matters
    dy = rng.standard_normal((2, 3, l, e)).astype(np.float32)
    ran_kernels, fast = _sdpa_run(arrays, dy, causal, True)
    assert ran_kernels == softmax_path
    _, plain = _sdpa_run(arrays, dy, causal, False)
    for name, a, b in zip(("y", "dq", "dk", "dv"), fast, plain):
        assert a.dtype == np.float32 and np.isfinite(a).all()
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5 * np.abs(b).max(), err_msg=name)


@needs_numba
def test_softmax_kernels_propagate_nan_and_leave_masks_to_numpy(softmax_path):
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((1, 2, 6, 4)).astype(np.float32) for _ in range(3)]
    arrays[1][0, 1, 2, 0] = np.nan  # key 2 of head 1: every query that sees it gets NaN
    dy = rng.standard_normal((1, 2, 6, 4)).astype(np.float32)
    _, (y, dq, _, _) = _sdpa_run(arrays, dy, True, True)
    assert np.isnan(y[0, 1, 2:]).all() and np.isnan(dq[0, 1, 2:]).all()
    assert np.isfinite(y[0, 0]).all()
    # The queries before key 2 do not see it: PyTorch's causal mask (masked_fill) and the
    # kernels leave them finite; the NumPy path adds -inf to the NaN score and spreads it.
    assert np.isfinite(y[0, 1, :2]).all() == softmax_path
    mask = dg.from_numpy(np.tril(np.ones((6, 6), bool)))
    ran_kernels, _ = _sdpa_run(arrays, dy, False, True, mask)
    assert not ran_kernels  # an explicit mask keeps the NumPy path


def test_softmax_float64_never_asks_for_a_kernel(monkeypatch):
    from deepgrad.ops import row_kernels

    monkeypatch.setattr(row_kernels, "kernel", lambda name: pytest.fail(f"{name} for float64"))
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal((2, 3, 4)) for _ in range(3)]
    ran_kernels, grads = _sdpa_run(arrays, rng.standard_normal((2, 3, 4)), True, True)
    assert not ran_kernels and all(g.dtype == np.float64 for g in grads)


@needs_numba
def test_row_kernels_switched_off_between_forward_and_backward(layer_norm_path, softmax_path):
    rng = np.random.default_rng(9)
    x = dg.from_numpy(rng.standard_normal((2, 4, 8)).astype(np.float32)).requires_grad_()
    with K.use_numba(True):
        y = F.layer_norm(x, (8,)) + F.scaled_dot_product_attention(x, x, x, is_causal=True)
    want = dg.autograd.grad(y.sum(), x, retain_graph=True)[0].numpy()
    with K.use_numba(False):
        got = dg.autograd.grad(y.sum(), x)[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _gelu_data(n=20011):
    """float32 values with NaN, +-inf, -0, huge, tiny and subnormal ones, and an odd length."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal(n).astype(np.float32) * 3
    info = np.finfo(np.float32)
    special = [np.nan, np.inf, -np.inf, -0.0, 0.0, 5.5436, -5.5436, info.max, -info.max]
    special += [info.tiny, -info.tiny, 1e-42, -1e-42, 1e30, -1e30, 1e-30]
    x[: len(special)] = special
    x[len(special) : 2000] *= np.float32(10.0) ** rng.integers(-30, 30, 2000 - len(special))
    return x


@pytest.fixture(params=[True, False], ids=["kernels", "numpy"])
def gelu_path(request, monkeypatch):
    """Both float32 paths of Gelu's forward, whichever the measurement would pick here; the
    list it returns counts the kernel's calls."""
    from deepgrad.ops import row_kernels

    calls = []
    kernel_forward = row_kernels.gelu_forward
    monkeypatch.setattr(row_kernels, "_gelu_faster", {})
    monkeypatch.setattr(row_kernels, "_measure_gelu", lambda x, reference: request.param)
    monkeypatch.setattr(row_kernels, "gelu_forward", lambda x: calls.append(1) or kernel_forward(x))
    return request.param, calls


def _gelu_run(x, enabled):
    with K.use_numba(enabled), np.errstate(all="ignore"):
        xt = dg.from_numpy(x).requires_grad_()
        y = F.gelu(xt)
        (y * y).sum().backward()
    return y.detach().numpy(), xt.grad.numpy()


@needs_numba
def test_gelu_kernel_gives_the_numpy_values_bit_for_bit():
    from deepgrad.ops import row_kernels
    from deepgrad.ops.fused_layers import _gelu_arrays

    x = _gelu_data()
    views = [x, x[::3], x[:20006].reshape(-1, 7)[:, 1:6], x[:1].reshape(()), x[5:6]]
    with K.use_numba(True), np.errstate(all="ignore"):
        for a in views:
            for got, want in zip(row_kernels.gelu_forward(a), _gelu_arrays(np, a)):
                assert got.shape == want.shape == a.shape and got.dtype == np.float32
                np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


@needs_numba
@pytest.mark.parametrize("strided", [False, True])
def test_gelu_forward_paths_give_the_same_bits(strided, gelu_path):
    chosen, calls = gelu_path
    x = _gelu_data().reshape(-1, 1)[::2] if strided else _gelu_data()
    y, dx = _gelu_run(x, True)
    assert len(calls) == chosen  # the path forced ran
    y_plain, dx_plain = _gelu_run(x, False)  # use_numba(False): the NumPy path
    assert len(calls) == chosen
    np.testing.assert_array_equal(y.view(np.uint32), y_plain.view(np.uint32))
    np.testing.assert_array_equal(dx.view(np.uint32), dx_plain.view(np.uint32))


def test_gelu_float64_never_asks_for_a_kernel(monkeypatch):
    from deepgrad.ops import row_kernels

    monkeypatch.setattr(row_kernels, "kernel", lambda name: pytest.fail(f"{name} for float64"))
    y, dx = _gelu_run(np.random.default_rng(11).standard_normal((3, 5)), True)
    assert y.dtype == dx.dtype == np.float64


@needs_numba
def test_the_gelu_decision_is_kept_per_size_class(monkeypatch, tmp_path):
    import json

    from deepgrad.backend import blas
    from deepgrad.ops import row_kernels

    monkeypatch.setenv("DEEPGRAD_BLAS_CACHE", str(tmp_path / "choices.json"))
    monkeypatch.setattr(blas, "_persisted", None)
    monkeypatch.setattr(row_kernels, "_gelu_faster", {})
    x = np.random.default_rng(12).standard_normal(1500).astype(np.float32)
    with K.use_numba(True):
        first = row_kernels.gelu_applies(x, lambda a: a * a)
        monkeypatch.setattr(row_kernels, "_measure_gelu", lambda *args: pytest.fail("measured"))
        assert row_kernels.gelu_applies(x[:1100], lambda a: a * a) == first  # same class
    kept = [
        c for s in json.loads((tmp_path / "choices.json").read_text()).values() for c in s.items()
    ]
    assert ("gelu float32 elements 1024-2047", "numba" if first else "numpy") in kept
