"""deepgrad.compile's CuPy kernels run on the fake CuPy's NumPy kernels: compiled == eager.

The fake's ElementwiseKernel and ReductionKernel (fake_cupy_kernels.py) read the generated C
and run it with NumPy, so these tests check the generated kernels' meaning (which values are
computed, written, summed over which axes) without a GPU; GPU numerics are not checked here.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg

TOLERANCE = {dg.float32: 1e-6, dg.float64: 1e-12}


def _cuda(array, dtype):
    return dg.tensor(np.asarray(array), dtype=dtype).to("cuda")


def _compiled(fn, *args):
    """``fn`` compiled, its third call's result (the program ran) and the program's fused nodes."""
    compiled = dg.compile(fn)
    for _ in range(3):
        result = compiled(*args)
    (program,) = compiled.programs
    return result, [n for n in program.graph.nodes if n.kind == "fused"]


def _assert_close(got, expected, dtype):
    assert got.device.type == "cuda" and got.dtype == expected.dtype and got.shape == expected.shape
    tolerance = TOLERANCE[dtype]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=tolerance, atol=tolerance)


# -- the emulator itself --------------------------------------------------------------------------
def test_fake_reduction_kernel_follows_cupys_semantics(fake_cuda_kernels):
    cp = fake_cuda_kernels
    l2norm = cp.ReductionKernel("T x", "T y", "x * x", "a + b", "y = sqrt(a)", "0", "l2norm")
    x = cp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    got = l2norm(x, axis=1)
    assert isinstance(got, cp.ndarray) and got.dtype == np.float32 and got.shape == (3,)
    np.testing.assert_allclose(got.get(), np.sqrt((x.get() ** 2).sum(axis=1)), rtol=1e-6)
    out = cp.empty((1, 4), dtype=np.float32)
    assert l2norm(x, out=out, axis=0, keepdims=True) is out
    np.testing.assert_allclose(out.get(), np.sqrt((x.get() ** 2).sum(0, keepdims=True)), rtol=1e-6)
    assert l2norm(x).shape == ()  # axis=None: every axis
    with pytest.raises(TypeError, match="host"):
        l2norm(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="mismatched"):
        l2norm(x, out=cp.empty((3,), dtype=np.float64), axis=1)


def test_fake_elementwise_kernel_keeps_c_types_and_reads_only_known_c(fake_cuda_kernels):
    cp = fake_cuda_kernels
    kernel = cp.ElementwiseKernel(
        "T x, T b", "T y, T z", "T v = x + b;  y = (v < (T)0 ? (T)0 : v);  z = v * 1.0", "k"
    )
    x = cp.asarray(np.array([[-1.0, np.nan, 2.0]], dtype=np.float32))
    y, z = kernel(x, cp.asarray(np.float32(0.5)))
    np.testing.assert_array_equal(y.get(), [[0.0, np.nan, 2.5]])  # NaN kept, as maximum(x, 0)
    assert y.dtype == z.dtype == np.float32  # z = v * 1.0 is computed in double, stored as T
    with pytest.raises(NotImplementedError, match="not C this emulator reads"):
        cp.ElementwiseKernel("T x", "T y", "y = x % 2", "k")(x)
    with pytest.raises(NotImplementedError, match="preamble"):
        cp.ElementwiseKernel("T x", "T y", "y = x", "k", preamble="template <typename T> f;")


# -- deepgrad.compile's kernels ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [dg.float32, dg.float64])
@pytest.mark.parametrize("keepdim", [False, True])
def test_a_fused_sum_is_one_reduction_kernel_equal_to_eager(fake_cuda_kernels, dtype, keepdim):
    rng = np.random.default_rng(0)
    x, y, z = (_cuda(rng.standard_normal((3, 4, 5)), dtype) for _ in range(3))
    x_host = x.numpy()
    x_host[1, 2, 3] = np.nan  # one NaN: its row's sum is NaN, the others are not
    x = _cuda(x_host, dtype)

    def f(x, y, z):  # no backward: nothing saved, so the whole chain is the reduction's map
        return (x + y - z).relu().sum(dim=(1, 2), keepdim=keepdim)

    with dg.no_grad():
        expected = f(x, y, z)
        got, fused = _compiled(f, x, y, z)
    _assert_close(got, expected, dtype)
    assert np.isnan(got.numpy()).ravel().tolist() == [False, True, False]
    (node,) = fused
    assert node.extra["reduction"].name == "Sum" and node.outputs == [
        node.extra["reduction"].output
    ]
    assert "ElementwiseKernel" not in node.extra["source"]  # one kernel: no head
    assert "ReductionKernel deepgrad_fused_0_sum" in node.extra["source"]


@pytest.mark.parametrize("dtype", [dg.float32, dg.float64])
def test_values_the_backward_saves_come_from_an_elementwise_kernel(fake_cuda_kernels, dtype):
    rng = np.random.default_rng(1)
    w = _cuda(rng.standard_normal((4, 6)), dtype).requires_grad_()
    t = _cuda(rng.standard_normal((4, 6)), dtype)

    def step(w, t):
        d = (w - t).exp()
        loss = (d * d).sum(dim=-1).sum()  # Mul saves d, Exp its output: both written
        loss.backward()
        return loss

    expected = step(w, t)
    expected_grad = w.grad.numpy()
    w.grad = None
    compiled = dg.compile(step)
    for _ in range(3):
        w.grad = None
        got = compiled(w, t)
    _assert_close(got, expected.detach(), dtype)
    tolerance = TOLERANCE[dtype]
    np.testing.assert_allclose(w.grad.numpy(), expected_grad, rtol=tolerance, atol=tolerance)
    (program,) = compiled.programs
    (node,) = [n for n in program.graph.nodes if n.kind == "fused"]
    members = node.extra["members"]
    assert [m.name for m in members] == ["Sub", "Exp", "Mul"]
    # head: Sub and Exp written (Exp's output is saved, and Mul reads it); tail: the square, summed
    assert node.outputs == [members[0].output, members[1].output, node.extra["reduction"].output]
    source = node.extra["source"]
    assert source.index("ElementwiseKernel deepgrad_fused_0") < source.index("ReductionKernel")


def test_a_sum_of_values_read_elsewhere_is_not_fused(fake_cuda_kernels):
    x, y = _cuda(np.ones((2, 3)), dg.float64), _cuda(np.full((2, 3), 2.0), dg.float64)

    def f(x, y):
        z = x * y + x
        return z, z.sum(dim=0)  # z is returned: a ReductionKernel could not write it

    with dg.no_grad():
        (z, total), fused = _compiled(f, x, y)
    np.testing.assert_array_equal(total.numpy(), [6.0, 6.0, 6.0])
    np.testing.assert_array_equal(z.numpy(), np.full((2, 3), 3.0))
    (node,) = fused
    assert node.extra["reduction"] is None and "ReductionKernel" not in node.extra["source"]


def test_explain_shows_the_reduction_kernel(fake_cuda_kernels):
    x, y = _cuda(np.ones((2, 3)), dg.float32), _cuda(np.zeros((2, 3)), dg.float32)
    with dg.no_grad():
        text = dg.compile.explain(lambda x, y: (x - y).exp().sum(dim=1), x, y, show=False)
    assert "fused_0: Sub; Exp; Sum (reduction fused)  [cupy: CuPy arrays]" in text
    for line in (
        "ReductionKernel deepgrad_fused_0_sum  (axis=(1,), keepdims=False)",
        "map: deepgrad_map_0(x0, x1);  reduce: a + b;  post: y4 = a;  identity: 0",
        "__device__ float deepgrad_map_0(const float x0, const float x1) {",
        "T v3 = exp(v2);  // %3 = Exp(%2)",
    ):
        assert line in text, text
