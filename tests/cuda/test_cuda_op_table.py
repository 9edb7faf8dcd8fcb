"""The op table (tests/ops/op_db*.py) run on a CUDA device against the CPU: forward values and input
gradients, float32 and float64.

Two CUDA backends: ``fake`` (tests/cuda/fake_cupy.py, always) checks that every op keeps its
arrays on the device and never mixes host arrays into device work; ``cuda`` (real CuPy and a
GPU, skipped elsewhere) checks the GPU's numerics within float32 tolerance.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))

from op_db import all_specs

import deepgrad as dg
from deepgrad.autograd import Tensor, grad

# to_device goes to the GPU and back to the CPU by design; tests/cuda/test_cuda_devices.py covers it.
SPECS = [s for s in all_specs() if "cuda" in s.devices and s.name != "to_device"]


def _outputs(result) -> list:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _host(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _run(spec, case, dtype: str, device: str):
    """Outputs and input gradients (for a fixed random upstream gradient) of one case, as host arrays."""
    arrays = spec.make_inputs(case)
    wanted = spec.grad_inputs if spec.grad_inputs is not None else range(len(arrays))
    inputs = []
    for i, a in enumerate(arrays):
        t = dg.tensor(a.astype(dtype) if spec.kind == "float" else a, device=device)
        if spec.differentiable and spec.kind == "float" and i in wanted:
            t.requires_grad_(True)
        inputs.append(t)
    with np.errstate(all="ignore"):
        outs = _outputs(spec.op(*inputs, **case.kwargs))
    for out in outs:
        assert out.device.type == device.split(":")[0], (
            f"{spec.name}: an output is on {out.device}, not {device}"
        )
    grads = []
    pairs = [
        (o, i)
        for i, o in enumerate(outs)
        if o.requires_grad and o.dtype.kind in "fV" and o._data.size
    ]
    leaves = [t for t in inputs if t.requires_grad]
    if pairs and leaves:
        rng = np.random.default_rng(1)
        seeds = [
            dg.tensor(rng.standard_normal(o.shape).astype(o.dtype), device=device) for o, _ in pairs
        ]
        grads = grad([o for o, _ in pairs], leaves, seeds, allow_unused=True)
        for g in grads:
            assert g is None or g.device.type == device.split(":")[0], (
                f"{spec.name}: a gradient left {device}"
            )
    return [_host(o) for o in outs], [None if g is None else _host(g) for g in grads]


# Real-GPU cases are generated only where CuPy and a GPU are present (no wall of skips elsewhere).
BACKENDS = ["fake"] + (
    [pytest.param("cuda", marks=pytest.mark.cuda)] if dg.cuda.is_available() else []
)
PARAMS = [
    pytest.param(s, dtype, id=f"{s.name}-{dtype}")
    for s in SPECS
    for dtype in ("float32", "float64")
    if s.kind == "float" or dtype == "float64"  # integer and bool ops run once
]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    dg.manual_seed(0)
    if request.param == "fake":
        from fake_cupy import install

        install(monkeypatch)
    yield request.param
    dg.manual_seed(0)


@pytest.mark.parametrize("spec,dtype", PARAMS)
def test_op_on_cuda_matches_cpu(spec, dtype, backend):
    for case in spec.cases:
        cpu_out, cpu_grads = _run(spec, case, dtype, "cpu")
        gpu_out, gpu_grads = _run(spec, case, dtype, "cuda")
        rtol, atol = (
            (max(spec.rtol32, 1e-5), max(spec.atol32, 1e-5))
            if dtype == "float32"
            else (1e-9, 1e-11)
        )
        for k, (got, want) in enumerate(zip(gpu_out, cpu_out)):
            assert got.dtype == want.dtype and got.shape == want.shape, (
                f"{spec.name} {case!r}: output {k}"
            )
            np.testing.assert_allclose(
                got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{spec.name} {case!r}"
            )
        assert len(gpu_grads) == len(cpu_grads)
        for k, (got, want) in enumerate(zip(gpu_grads, cpu_grads)):
            assert (got is None) == (want is None), f"{spec.name} {case!r}: gradient {k}"
            if got is not None:
                # Gradients sum over more terms than outputs; float32 sums on a GPU run in another order.
                np.testing.assert_allclose(
                    got,
                    want,
                    rtol=rtol * 10,
                    atol=atol * 10,
                    equal_nan=True,
                    err_msg=f"{spec.name} {case!r} grad {k}",
                )
