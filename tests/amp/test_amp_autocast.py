"""Half precision on the CPU (float16; bfloat16 with ml_dtypes) and deepgrad.amp.autocast."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.amp import autocast, get_autocast_dtype, is_autocast_enabled
from deepgrad.backend import DTypeError


def _grads(fn, arrays, dtype):
    xs = [dg.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = fn(*xs)
    out.sum().backward()
    return out, [x.grad for x in xs]


HALF_OPS = {
    "add": (lambda a, b: a + b, 2),
    "mul": (lambda a, b: a * b, 2),
    "div": (lambda a, b: a / (b.abs() + 1), 2),
    "exp": (lambda a: a.exp(), 1),
    "tanh": (lambda a: a.tanh(), 1),
    "sigmoid": (lambda a: a.sigmoid(), 1),
    "relu": (lambda a: a.relu(), 1),
    "matmul": (lambda a, b: a @ b.mT, 2),
    "mean": (lambda a: a.mean(dim=1), 1),
    "softmax": (lambda a: F.softmax(a, dim=1) * dg.arange(4).to(a.dtype), 1),
    "linear": (lambda a, b: F.linear(a, b), 2),
}


@pytest.mark.parametrize("name", sorted(HALF_OPS))
def test_float16_ops_and_gradients_match_float64(name):
    fn, arity = HALF_OPS[name]
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(-1.5, 1.5, (3, 4)) for _ in range(arity)]
    out16, grads16 = _grads(fn, arrays, np.float16)
    out64, grads64 = _grads(fn, arrays, np.float64)
    assert out16.dtype == dg.float16 and all(g.dtype == dg.float16 for g in grads16)
    np.testing.assert_allclose(
        out16.detach().numpy().astype(np.float64), out64.detach().numpy(), rtol=1e-2, atol=1e-2
    )
    for g16, g64 in zip(grads16, grads64):
        np.testing.assert_allclose(
            g16.numpy().astype(np.float64), g64.numpy(), rtol=2e-2, atol=2e-2
        )


def test_python_scalars_keep_float16():
    x = dg.tensor([1.0, 2.0], dtype=dg.float16)
    assert (x * 0.5 + 1).dtype == dg.float16
    assert dg.half is dg.float16 and x.half().dtype == dg.float16
    model = nn.Linear(3, 2).half()
    assert model.weight.dtype == dg.float16 and model(dg.randn(4, 3).half()).dtype == dg.float16


def test_bfloat16_ops_and_gradients():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bf16 = np.dtype(ml_dtypes.bfloat16)
    assert dg.backend.to_dtype("bfloat16") == bf16 and dg.backend.is_floating(bf16)
    x = dg.tensor([0.5, -1.0, 2.0], dtype="bfloat16", requires_grad=True)
    y = (x * x).exp().sum()
    y.backward()
    assert y.dtype == bf16 and x.grad.dtype == bf16
    expected = 2 * np.array([0.5, -1.0, 2.0]) * np.exp(np.array([0.5, -1.0, 2.0]) ** 2)
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64), expected, rtol=2e-2)
    assert (
        dg.zeros(2, dtype="bfloat16").dtype == bf16 and dg.randn(2, dtype="bfloat16").dtype == bf16
    )


def test_bfloat16_without_ml_dtypes_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ml_dtypes", None)
    with pytest.raises(DTypeError, match=r"bfloat16.*pip install ml_dtypes"):
        dg.zeros(2, dtype="bfloat16")


def test_numpy_float16_matmul_accumulates_in_float32():
    """The accumulation autocast gets from NumPy (documented in deepgrad.amp): a float16 running sum
    stops at 2048 (2048 + 1 rounds back to 2048); a float32 one reaches 4096 (exact in float16)."""
    ones = dg.ones(1, 4096, dtype=dg.float16)
    assert float((ones @ ones.mT).item()) == 4096.0
    head = np.ones((1, 4096), np.float16)
    head[0, 0] = 2048  # 2048 then 4095 ones: float32 gives 6143, rounded to float16 6144
    h = dg.tensor(head)
    assert float((h @ dg.ones(4096, 1, dtype=dg.float16)).item()) == 6144.0


# -- autocast ---------------------------------------------------------------------------------------------
def test_autocast_runs_matmul_in_half_and_gradients_arrive_in_float32():
    dg.manual_seed(0)
    w = dg.randn(5, 3, requires_grad=True)
    b = dg.randn(5, requires_grad=True)
    x = dg.randn(4, 3)
    with autocast("cpu", dtype=dg.float16):
        assert is_autocast_enabled("cpu") and not is_autocast_enabled("cuda")
        y = F.linear(x, w, b)
        z = x @ w.mT
    assert y.dtype == dg.float16 and z.dtype == dg.float16
    assert (y.relu() * 2).dtype == dg.float16  # other ops keep their inputs' dtype
    y.float().sum().backward()
    assert w.grad.dtype == dg.float32 and b.grad.dtype == dg.float32
    np.testing.assert_allclose(
        w.grad.numpy(), np.tile(x.numpy().sum(0), (5, 1)), rtol=2e-3, atol=2e-3
    )
    np.testing.assert_allclose(b.grad.numpy(), np.full(5, 4.0))
    reference = x.numpy() @ w.detach().numpy().T + b.detach().numpy()
    np.testing.assert_allclose(
        y.detach().numpy().astype(np.float32), reference, rtol=5e-3, atol=5e-3
    )


def test_autocast_covers_layers_conv_and_keeps_losses_in_float32():
    dg.manual_seed(0)
    conv, lin = nn.Conv2d(1, 2, 3), nn.Linear(8, 3)
    x = dg.randn(2, 1, 4, 4)
    with autocast("cpu", dtype=dg.float16):
        h = conv(x)
        out = lin(h.reshape(2, -1))
        conv1 = F.conv1d(dg.randn(1, 2, 6), dg.randn(3, 2, 3))
        up = F.conv_transpose2d(h, dg.randn(2, 1, 2, 2))
        loss = F.cross_entropy(out, dg.tensor([0, 2]))
        nll = F.nll_loss(F.log_softmax(out, dim=1), dg.tensor([0, 2]))
        probs = F.softmax(out, dim=1)
    assert h.dtype == out.dtype == conv1.dtype == up.dtype == dg.float16
    assert loss.dtype == nll.dtype == probs.dtype == dg.float32
    np.testing.assert_allclose(loss.item(), nll.item(), rtol=1e-6)
    loss.backward()
    assert all(p.grad.dtype == dg.float32 for p in [*conv.parameters(), *lin.parameters()])


def test_autocast_leaves_float64_and_other_devices_alone():
    a, b = dg.randn(2, 3, dtype=dg.float64), dg.randn(3, 2, dtype=dg.float64)
    with autocast("cpu", dtype=dg.float16):
        assert (a @ b).dtype == dg.float64
    with autocast("cuda"):
        assert (dg.randn(2, 3) @ dg.randn(3, 2)).dtype == dg.float32  # CPU tensors, CUDA autocast


def test_autocast_nests_and_can_be_switched_off_inside():
    x = dg.randn(2, 2)
    with autocast("cpu", dtype=dg.float16):
        with autocast("cpu", enabled=False, dtype=dg.float16):
            assert not is_autocast_enabled("cpu")
            assert (x @ x).dtype == dg.float32
        assert (x @ x).dtype == dg.float16
    assert (x @ x).dtype == dg.float32 and not is_autocast_enabled("cpu")


def test_autocast_as_a_decorator_and_per_thread():
    x = dg.randn(2, 2)
    seen = {}

    @autocast("cpu", dtype=dg.float16)
    def product():
        thread = threading.Thread(target=lambda: seen.setdefault("other", (x @ x).dtype))
        thread.start()
        thread.join()
        return x @ x

    assert product().dtype == dg.float16
    assert seen["other"] == dg.float32  # another thread is not inside this autocast


def test_autocast_defaults_and_validation():
    assert get_autocast_dtype("cuda") == dg.float16
    assert autocast("cuda").dtype == dg.float16
    with pytest.raises(
        ValueError,
        match=r"^autocast: device_type must be 'cpu' or 'cuda' \(got 'gpu'\); pass the type of the device",
    ):
        autocast("gpu")
    with pytest.raises(ValueError, match="dtype must be float16 or bfloat16.*float32"):
        autocast("cpu", dtype=dg.float32)
    with pytest.raises(TypeError, match=r"^autocast: enabled must be True or False \(got 1\)\.$"):
        autocast("cpu", dtype=dg.float16, enabled=1)


def test_autocast_default_cpu_dtype_is_bfloat16():
    pytest.importorskip("ml_dtypes")
    with autocast("cpu"):
        y = dg.randn(2, 3) @ dg.randn(3, 2)
    assert y.dtype.name == "bfloat16" and get_autocast_dtype("cpu").name == "bfloat16"
