"""What only a real GPU can show: cuRAND draws, device memory, half-precision GEMMs, autocast and
the loss scaler on CUDA tensors. Skipped without CuPy and a GPU."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.amp import GradScaler, autocast

pytestmark = pytest.mark.cuda


def test_arrays_are_cupy_arrays_on_the_current_device(real_cuda):
    x = dg.arange(6, device="cuda").reshape(2, 3)
    assert isinstance(x._data, real_cuda.ndarray) and x.xp is real_cuda
    assert x.device == dg.device(f"cuda:{dg.cuda.current_device()}")
    assert x.sum().item() == 15 and x.cpu().numpy().tolist() == [[0, 1, 2], [3, 4, 5]]
    assert isinstance(dg.cuda.get_device_name(), str) and dg.cuda.device_count() >= 1
    dg.cuda.synchronize()


def test_random_draws_on_the_gpu_are_repeatable(real_cuda):
    draws = []
    for _ in range(2):
        dg.manual_seed(1234)
        draws.append(
            [
                dg.randn(1001, device="cuda").numpy(),
                dg.rand(7, 3, device="cuda").numpy(),
                dg.randint(0, 5, (100,), device="cuda").numpy(),
                dg.randperm(50, device="cuda").numpy(),
                F.dropout(dg.ones(64, device="cuda"), 0.5, training=True).numpy(),
            ]
        )
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a, b)
    normal = draws[0][0]
    assert abs(normal.mean()) < 0.15 and 0.85 < normal.std() < 1.15
    uniform = draws[0][1]
    assert uniform.min() >= 0 and uniform.max() < 1
    assert sorted(draws[0][3].tolist()) == list(range(50))
    dg.cuda.manual_seed(9)
    a = dg.randn(5, device="cuda").numpy()
    dg.cuda.manual_seed(9)
    np.testing.assert_array_equal(dg.randn(5, device="cuda").numpy(), a)


def test_memory_allocated_counts_live_tensors(real_cuda):
    before = dg.cuda.memory_allocated()
    x = dg.empty(1024, 1024, device="cuda")
    assert dg.cuda.memory_allocated() >= before + x.nbytes
    assert dg.cuda.memory_reserved() >= dg.cuda.memory_allocated()
    del x
    dg.cuda.empty_cache()


def test_float16_gemm_accumulates_in_float32_on_the_gpu(real_cuda):
    """The claim in deepgrad.amp's docstring: a float16 accumulator would stop at 2048."""
    ones = dg.ones(1, 4096, dtype=dg.float16, device="cuda")
    assert float((ones @ ones.mT).item()) == 4096.0


def test_autocast_on_cuda(real_cuda):
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).to("cuda")
    x, y = dg.randn(8, 16, device="cuda"), dg.randint(0, 4, (8,), device="cuda")
    with autocast("cuda"):
        hidden = model[0](x)
        loss = F.cross_entropy(model(x), y)
        conv = F.conv2d(dg.randn(1, 2, 5, 5, device="cuda"), dg.randn(3, 2, 3, 3, device="cuda"))
    assert hidden.dtype == conv.dtype == dg.float16 and loss.dtype == dg.float32
    with autocast("cpu", dtype=dg.float16):
        assert model[0](x).dtype == dg.float32  # CPU autocast leaves CUDA tensors alone
    loss.backward()
    assert all(
        p.grad.dtype == dg.float32 and p.grad.device.type == "cuda" for p in model.parameters()
    )


def test_grad_scaler_on_cuda_skips_overflow_and_trains(real_cuda):
    dg.manual_seed(0)
    x = dg.randn(256, 2, device="cuda")
    y = ((x[:, 0] * x[:, 1]) > 0).long()
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2)).to("cuda")
    opt = dg.optim.Adam(model.parameters(), lr=0.02)
    scaler = GradScaler()
    for _ in range(150):
        opt.zero_grad()
        with autocast("cuda"):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    with dg.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    assert accuracy > 0.9
    before = [p.detach().cpu().numpy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = dg.full_like(p, float("inf"))
    scale = scaler.get_scale()
    scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == scale / 2
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.detach().cpu().numpy(), b)


def test_bfloat16_on_the_gpu(real_cuda):
    pytest.importorskip("ml_dtypes")
    try:
        x = dg.tensor([1.0, 2.0, 3.0], dtype="bfloat16", device="cuda", requires_grad=True)
    except (TypeError, ValueError) as exc:  # CuPy before 14 has no bfloat16
        pytest.skip(f"this CuPy has no bfloat16: {exc}")
    (x * x).sum().backward()
    assert x.grad.dtype.name == "bfloat16"
    np.testing.assert_allclose(x.grad.cpu().numpy().astype(np.float32), [2.0, 4.0, 6.0])
