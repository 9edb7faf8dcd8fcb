"""deepgrad.backend.blas: the GEMM library chosen by measurement, checked with fake backends,
and (where the ``mkl`` wheel is installed) MKL's products against NumPy's."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd.gradcheck import gradcheck
from deepgrad.backend import blas

needs_mkl = pytest.mark.skipif(not blas.mkl_available(), reason="the mkl wheel is not installed")


@pytest.fixture
def fakes(monkeypatch):
    """Installs candidate backends by hand; yields a function that does it and counts calls."""
    calls: dict[str, int] = {}

    def install(*specs):
        backends = []
        for name, delay, declines in specs:

            def product(a, b, name=name, delay=delay, declines=declines):
                calls[name] = calls.get(name, 0) + 1
                if declines:
                    return None
                if delay:
                    time.sleep(delay)
                return np.matmul(a, b)

            backends.append(blas.GemmBackend(name, product, product))
        monkeypatch.setattr(blas, "_mode", "auto")
        monkeypatch.setattr(blas, "_candidates", backends)
        monkeypatch.setattr(blas, "_choice", {})
        monkeypatch.setattr(blas, "_timings", {})
        monkeypatch.setattr(blas, "_persisted", {})
        return calls

    return install


def _operands(m=64, k=64, n=64, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)


def test_numpy_mode_is_numpy_matmul_exactly():
    a, b = _operands(70, 50, 90)
    with blas.use_blas("numpy"):
        assert blas.active_mode() == "numpy"
        np.testing.assert_array_equal(blas.matmul(a, b), a @ b)
        np.testing.assert_array_equal(blas.matmul(a.T.copy().T, b), a @ b)


def test_the_faster_backend_is_chosen_once_per_shape_class(fakes):
    calls = fakes(("slow", 0.002, False), ("fast", 0.0, False))
    a, b = _operands()
    np.testing.assert_allclose(blas.matmul(a, b), a @ b, rtol=1e-6)
    assert blas.decisions() == {"float32 m 64-127 n 64-127 k 64-127": "fast"}
    timings = blas.measurements()["float32 m 64-127 n 64-127 k 64-127"]
    assert timings["slow"] > timings["fast"]
    slow_calls, fast_calls = calls["slow"], calls["fast"]
    c, d = _operands(100, 90, 80, seed=1)  # same class (64-127 each): no new measurement
    blas.matmul(c, d)
    assert calls == {"slow": slow_calls, "fast": fast_calls + 1}
    e, f = _operands(200, 64, 64)  # m in another class: measured again
    blas.matmul(e, f)
    assert calls["slow"] > slow_calls and len(blas.decisions()) == 2


def test_decisions_persist_across_processes_on_one_machine(fakes, monkeypatch, tmp_path):
    """A new process (emptied memory) reuses the file's choice without measuring again; another
    thread count is another machine key, measured afresh; a damaged file is measured over."""
    path = tmp_path / "cache" / "gemm-choices.json"
    monkeypatch.setenv("DEEPGRAD_BLAS_CACHE", str(path))
    calls = fakes(("numpy", 0.002, False), ("fast", 0.0, False))
    a, b = _operands()
    blas.matmul(a, b)
    assert blas.decisions() == {"float32 m 64-127 n 64-127 k 64-127": "fast"}
    stored = json.loads(path.read_text())
    assert list(stored.values()) == [{"float32 m 64-127 n 64-127 k 64-127": "fast"}]
    measured = calls["numpy"]
    for cleared in ("_choice", "_timings"):
        monkeypatch.setattr(blas, cleared, {})
    monkeypatch.setattr(blas, "_persisted", None)  # a new process reads the file
    blas.matmul(a, b)
    assert calls["numpy"] == measured and blas.measurements() == {}  # recalled, not measured
    monkeypatch.setattr(blas, "_choice", {})
    monkeypatch.setattr(blas, "blas_threads", lambda: 99)  # another configuration
    blas.matmul(a, b)
    assert calls["numpy"] > measured and len(json.loads(path.read_text())) == 2
    path.write_text("{not json")
    monkeypatch.setattr(blas, "_persisted", None)
    monkeypatch.setattr(blas, "_choice", {})
    blas.matmul(a, b)
    assert blas.decisions() == {"float32 m 64-127 n 64-127 k 64-127": "fast"}
    assert len(json.loads(path.read_text())) == 1  # rewritten whole


def test_the_cache_path(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPGRAD_BLAS_CACHE", "")
    assert blas.cache_path() is None
    monkeypatch.delenv("DEEPGRAD_BLAS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert blas.cache_path() == tmp_path / "deepgrad" / "gemm-choices.json"


def test_a_slower_other_library_leaves_numpy_in_place(fakes):
    fakes(("reference", 0.0, False), ("slow", 0.002, False))
    blas.matmul(*_operands())
    assert set(blas.decisions().values()) == {"reference"}


def test_a_near_tie_keeps_the_reference(fakes, monkeypatch):
    fakes(("reference", 0.0, False), ("other", 0.0, False))
    near = 1.0 - blas.MARGIN / 2
    monkeypatch.setattr(blas, "calibrate", lambda *args: {"reference": 1.0, "other": near})
    blas.matmul(*_operands())
    assert set(blas.decisions().values()) == {"reference"}
    monkeypatch.setattr(blas, "_choice", {})
    monkeypatch.setattr(blas, "_persisted", {})  # forget the decision: measure again
    monkeypatch.setattr(blas, "calibrate", lambda *args: {"reference": 1.0, "other": 0.5})
    blas.matmul(*_operands())
    assert set(blas.decisions().values()) == {"other"}


def test_a_backend_that_declines_is_never_chosen(fakes):
    calls = fakes(("reference", 0.001, False), ("declines", 0.0, True))
    a, b = _operands()
    np.testing.assert_array_equal(blas.matmul(a, b), a @ b)
    assert set(blas.decisions().values()) == {"reference"}
    assert blas.measurements()["float32 m 64-127 n 64-127 k 64-127"]["declines"] == np.inf
    assert calls["declines"] == 1  # asked once, then left out of the timed rounds


def test_a_chosen_backend_that_declines_falls_back_to_numpy(fakes):
    fakes(("declines", 0.0, True))  # the only candidate (as with DEEPGRAD_BLAS=mkl)
    a, b = _operands()
    np.testing.assert_array_equal(blas.matmul(a, b), a @ b)


def test_batched_products_are_their_own_classes(fakes):
    calls = fakes(("slow", 0.002, False), ("fast", 0.0, False))
    rng = np.random.default_rng(0)
    q = rng.standard_normal((8, 4, 64, 32)).astype(np.float32)
    k = rng.standard_normal((8, 4, 32, 64)).astype(np.float32)
    np.testing.assert_allclose(blas.matmul(q, k), q @ k, rtol=1e-6)
    assert blas.decisions() == {"batch 32-63 float32 m 64-127 n 64-127 k 32-63": "fast"}
    assert calls["fast"] > 1


@pytest.mark.parametrize(
    "a, b",
    [
        (np.ones((8, 8), np.float32), np.ones((8, 8), np.float32)),  # tiny: below SMALL
        (np.ones((64, 64), np.int64), np.ones((64, 64), np.int64)),  # not float32/float64
        (np.ones((64, 64), np.float32), np.ones((64, 64), np.float64)),  # mixed dtypes
        (np.ones(64, np.float32), np.ones((64, 64), np.float32)),  # a vector
        (np.ones((64, 64), np.float16), np.ones((64, 64), np.float16)),
    ],
)
def test_products_left_to_numpy(fakes, a, b):
    calls = fakes(("one", 0.0, False), ("two", 0.0, False))
    np.testing.assert_array_equal(blas.matmul(a, b), a @ b)
    assert calls == {} and blas.decisions() == {}


def test_non_numpy_arrays_bypass(fakes):
    calls = fakes(("one", 0.0, False), ("two", 0.0, False))

    class Device:  # stands for a CuPy array: only its own @ may touch it
        ndim, dtype, shape = 2, np.dtype(np.float32), (256, 256)

        def __matmul__(self, other):
            return "own matmul"

    assert blas.matmul(Device(), Device()) == "own matmul"
    assert calls == {}


def test_modes_and_their_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown BLAS 'openblas'; use one of auto, numpy, mkl"):
        blas.use_blas("openblas")
    before = blas.active_mode()
    with blas.use_blas("numpy"):
        assert blas.active_mode() == "numpy" and blas.decisions() == {}
    assert blas.active_mode() == before
    monkeypatch.setattr(blas, "mkl_backend", lambda: None)
    with blas.use_blas("mkl"), pytest.warns(RuntimeWarning, match="MKL is not installed"):
        a, b = _operands()
        np.testing.assert_array_equal(blas.matmul(a, b), a @ b)


def test_environment_variable_chooses_the_mode():
    code = "from deepgrad.backend import blas; print(blas.active_mode())"
    env_run = [sys.executable, "-c", code]
    import os

    for value, expected in (("numpy", "numpy"), ("MKL", "mkl"), ("", "auto")):
        env = {**os.environ, "DEEPGRAD_BLAS": value}
        out = subprocess.run(env_run, capture_output=True, text=True, env=env, check=True)
        assert out.stdout.strip() == expected
    env = {**os.environ, "DEEPGRAD_BLAS": "fast"}
    out = subprocess.run(env_run, capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "unknown BLAS 'fast'" in out.stderr


def test_info_reports_the_gemm_library():
    report = dg.backend.info()
    assert "GEMM:" in str(report)
    with blas.use_blas("numpy"):
        assert dg.backend.info().gemm.startswith("NumPy's BLAS (DEEPGRAD_BLAS=numpy")


def test_set_num_threads():
    pytest.importorskip("threadpoolctl")
    with pytest.raises(ValueError, match="threads must be a positive int"):
        blas.set_num_threads(0)
    before = blas.blas_threads()
    try:
        blas.set_num_threads(1)
        assert blas.blas_threads() == 1
    finally:
        blas.set_num_threads(before)
    assert blas.blas_threads() == before


# -- MKL itself (skipped without the wheel) ------------------------------------------------------
def _layouts(rng, dtype):
    """(a, b) pairs in the layouts the ops pass: plain, transposed views, column slices."""
    a = rng.standard_normal((70, 130)).astype(dtype)
    w = rng.standard_normal((90, 130)).astype(dtype)
    wide = rng.standard_normal((130, 3 * 90)).astype(dtype)
    return [
        (a, w.T),
        (w, a.T),
        (a.T.copy().T, wide[:, 90:180]),
        (a[:, :65], w[:, :65].T),
        (a[:1], w.T),
        (a.T[:, :1].T.copy(), w[:1].T),
    ]


@needs_mkl
@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_mkl_gemm_equals_numpy(dtype, rtol):
    mkl = blas.mkl_backend()
    for a, b in _layouts(np.random.default_rng(0), dtype):
        out = mkl.gemm(a, b)
        assert out.dtype == dtype and out.flags.c_contiguous
        np.testing.assert_allclose(out, a @ b, rtol=rtol, atol=rtol * np.abs(a @ b).max())


@needs_mkl
@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_mkl_batched_equals_numpy(dtype, rtol):
    mkl = blas.mkl_backend()
    rng = np.random.default_rng(1)
    qkv = rng.standard_normal((3, 20, 3 * 24)).astype(dtype)
    heads = [qkv[..., i * 24 : (i + 1) * 24].reshape(3, 20, 4, 6).swapaxes(1, 2) for i in range(3)]
    q, k, v = heads  # (3, 4, 20, 6) views with uneven batch strides, as attention makes them
    cases = [
        (q, k.swapaxes(-1, -2)),
        (q @ k.swapaxes(-1, -2), v),
        (q, rng.standard_normal((6, 5)).astype(dtype)),  # a shared matrix: broadcast
        (
            rng.standard_normal((2, 1, 4, 5)).astype(dtype),
            rng.standard_normal((3, 5, 7)).astype(dtype),
        ),
    ]
    for a, b in cases:
        out = mkl.batched(a, b)
        ref = a @ b
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=rtol, atol=rtol * np.abs(ref).max())


@needs_mkl
def test_mkl_declines_what_it_cannot_take():
    mkl = blas.mkl_backend()
    a = np.ones((64, 64, 2), np.float32)[:, :, 0]  # neither axis has unit stride
    assert mkl.gemm(a, np.ones((64, 64), np.float32)) is None
    with blas.use_blas("mkl"):
        np.testing.assert_array_equal(blas.matmul(a, a), a @ a)  # so NumPy takes it


@needs_mkl
def test_ops_through_mkl_match_numpy_and_gradcheck():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 40, 64)).astype(np.float32)
    w = rng.standard_normal((48, 64)).astype(np.float32)

    def run():
        xt, wt = dg.from_numpy(x).requires_grad_(), dg.from_numpy(w).requires_grad_()
        y = dg.nn.functional.linear(xt, wt)
        att = dg.nn.functional.scaled_dot_product_attention(y, y, y, is_causal=True)
        (att.sum() + (y @ wt).sum()).backward()
        return att.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()

    with blas.use_blas("numpy"):
        reference = run()
    with blas.use_blas("mkl"):
        for got, want in zip(run(), reference):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
        x64 = dg.from_numpy(rng.standard_normal((2, 6, 40))).requires_grad_()
        w64 = dg.from_numpy(rng.standard_normal((40, 40))).requires_grad_()
        assert gradcheck(lambda a, b: dg.nn.functional.linear(a, b), (x64, w64))


@needs_mkl
def test_mkl_with_two_threads_beside_pytorch_is_right():
    """MKL's Intel OpenMP layer beside PyTorch's libgomp doubled every product; the GNU layer does not."""
    pytest.importorskip("torch")
    code = (
        "import torch, numpy as np\n"
        "torch.ones(3) @ torch.ones(3)\n"
        "from deepgrad.backend import _mkl\n"
        "lib = _mkl.load(2)\n"
        "rng = np.random.default_rng(0)\n"
        "a, b = rng.random((300, 200), np.float32), rng.random((200, 400), np.float32)\n"
        "print(float(np.abs(lib.gemm(a, b) - a @ b).max() / np.abs(a @ b).max()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 1e-5


def test_decisions_are_kept_apart_for_other_openblas_kernels(monkeypatch):
    """A choice measured with OpenBLAS's Haswell kernels must not be recalled under others."""
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    plain = blas._machine([blas.NUMPY])
    monkeypatch.setenv("OPENBLAS_CORETYPE", "NotThisProcessorsKernels")
    other = blas._machine([blas.NUMPY])
    assert plain != other and "OPENBLAS_CORETYPE=NotThisProcessorsKernels" in other
