"""The fused CUDA kernels (deepgrad/backend/cuda_kernels.py) against their NumPy bodies.

The kernel comparisons need CuPy and a GPU (``real_cuda``, skipped elsewhere). Without one, the
tests check which body each call takes and that the NumPy bodies are the CPU code.
"""

from __future__ import annotations

import re
import types

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.backend import cuda_kernels


# -- dispatch (no GPU needed) --------------------------------------------------------------------------
def _recording_module():
    built = []

    def elementwise_kernel(in_params, out_params, operation, name, preamble=""):
        built.append((name, preamble))
        return lambda *args: ("kernel", name)

    return types.SimpleNamespace(ElementwiseKernel=elementwise_kernel, __name__="cupy"), built


def test_kernels_are_chosen_by_module_and_dtype(monkeypatch):
    monkeypatch.setattr(cuda_kernels, "_compiled", {})
    xp, built = _recording_module()
    f16, f32, f64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
    assert cuda_kernels.kernel(np, "sigmoid", f32) is None  # NumPy: never a kernel
    assert (
        cuda_kernels.kernel(types.SimpleNamespace(), "sigmoid", f32) is None
    )  # no ElementwiseKernel
    for dtype in (f16, f32, f64):
        assert cuda_kernels.kernel(xp, "sigmoid", dtype) is not None
        assert cuda_kernels.kernel(xp, "relu_backward", dtype) is not None
    assert (
        cuda_kernels.kernel(xp, "adam", f32) is not None
        and cuda_kernels.kernel(xp, "adam", f64) is None
    )
    assert cuda_kernels.kernel(xp, "sigmoid", np.dtype("int32")) is None
    assert [name for name, _ in built] == [
        "deepgrad_sigmoid",
        "deepgrad_relu_backward",
        "deepgrad_adam",
    ]
    assert all(
        "dg_float" in preamble for _, preamble in built
    )  # compiled once each, with the helpers


def test_numpy_bodies():
    x = np.array([-1000.0, -2.0, 0.0, 3.0, 1000.0], dtype=np.float32)
    expected = np.array([0.0, 1 / (1 + np.exp(2.0)), 0.5, 1 / (1 + np.exp(-3.0)), 1.0])
    np.testing.assert_allclose(cuda_kernels.sigmoid(np, x), expected, rtol=1e-6)
    dy = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    y = np.array([0.0, 0.5, 0.0, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(cuda_kernels.relu_backward(np, dy, y), [0.0, 2.0, 0.0, 4.0])
    scalar = cuda_kernels.relu_backward(np, np.asarray(2.0), np.asarray(1.0))
    assert isinstance(scalar, np.ndarray) and scalar.shape == ()
    p = np.ones(3, np.float32)
    assert not cuda_kernels.adam_update_(
        np, p, p, p, p, None, beta1=0.9, beta2=0.999, lr=0.1, step=1, eps=1e-8
    )


class _NumpyElementwiseKernel:
    """CuPy's ElementwiseKernel, run with NumPy: for the kernel bodies whose C also reads as Python.

    Each statement of the body is ``[float ]name = expression;``; declarations drop their
    ``float`` and casts ``(T)`` disappear, the output arrays are written in place at the end.
    ``dg_float`` casts to float32 and ``sqrtf``/``fmaxf`` are NumPy's, as on the GPU.
    """

    def __init__(self, in_params, out_params, operation, name, preamble=""):
        self.inputs = [param.split()[-1] for param in in_params.split(",")]
        self.outputs = [param.split()[-1] for param in out_params.split(",")]
        self.operation = operation

    def __call__(self, *args):
        names = self.inputs + self.outputs
        assert len(args) == len(names), f"kernel called with {len(args)} arguments for {names}"
        space = dict(zip(names, args))
        space.update(dg_float=lambda x: np.asarray(x, np.float32), sqrtf=np.sqrt, fmaxf=np.maximum)
        for statement in filter(None, (part.strip() for part in self.operation.split(";"))):
            match = re.fullmatch(r"(?:float )?(\w+) = (.+)", statement, flags=re.S)
            assert match, f"not a statement this evaluator knows: {statement!r}"
            target, expression = match.groups()
            space[target] = eval(expression.replace("(T)", ""), space)
        for name, array in zip(names, args):
            if name in self.outputs:
                array[...] = space[name]


@pytest.mark.parametrize("amsgrad", [False, True])
def test_generated_adam_kernel_body_is_the_cpu_optimizer_update(monkeypatch, amsgrad):
    """The CUDA source built from cuda_kernels.adam_lines, run with NumPy, equals Adam._update."""
    monkeypatch.setattr(cuda_kernels, "_compiled", {})
    xp = types.SimpleNamespace(ElementwiseKernel=_NumpyElementwiseKernel, __name__="cupy")
    rng = np.random.default_rng(0)
    start = rng.standard_normal((6, 5)).astype(np.float32)
    p = dg.tensor(start, requires_grad=True)
    opt = dg.optim.Adam([p], lr=0.01, betas=(0.8, 0.99), eps=1e-6, amsgrad=amsgrad)
    kernel_p, m, v, vmax = start.copy(), *(np.zeros_like(start) for _ in range(3))
    for step, scale in enumerate((1.0, 0.1, 3.0, 0.01, 1.0), start=1):
        g = (rng.standard_normal(start.shape) * scale).astype(np.float32)
        p.grad = dg.tensor(g)
        opt.step()
        options = dict(beta1=0.8, beta2=0.99, lr=0.01, step=step, eps=1e-6)
        assert cuda_kernels.adam_update_(
            xp, kernel_p, g, m, v, vmax if amsgrad else None, **options
        )
    state = opt.state[p]
    np.testing.assert_allclose(kernel_p, p.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(m, state["exp_avg"].numpy(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(v, state["exp_avg_sq"].numpy(), rtol=1e-6, atol=1e-8)
    if amsgrad:
        np.testing.assert_allclose(vmax, state["max_exp_avg_sq"].numpy(), rtol=1e-6, atol=1e-8)
    assert not np.allclose(kernel_p, start)  # the steps moved p: the comparison is not vacuous


def test_adam_kernel_source_is_built_from_the_table():
    for name, amsgrad in (("adam", False), ("adam_amsgrad", True)):
        in_params, _, body, _ = cuda_kernels._SOURCES[name]
        for target, _expression in cuda_kernels.adam_lines(amsgrad):
            assert f"{target}_f = " in body
        scalars = [f"float32 {n}" for n in cuda_kernels._ADAM_SCALAR_NAMES]
        assert in_params.split(", ") == ["T g", *scalars]
    assert "vmax" not in cuda_kernels._SOURCES["adam"][2]


class _NumpyRowKernel:
    """A raw-array ElementwiseKernel (the LSTM steps), run with NumPy over all ``i`` at once.

    It knows the statements ``row_step_body`` writes: the index line (C's integer division),
    ``T name = expression;`` (loads from flat arrays and the table's lines) and
    ``array[index] = name;`` (stores into the caller's contiguous arrays).
    """

    def __init__(self, in_params, out_params, operation, name, preamble=""):
        self.names = [param.split()[-1] for param in f"{in_params}, {out_params}".split(",")]
        self.operation = operation

    def __call__(self, *args, size):
        space = {
            name: arg.reshape(-1) if isinstance(arg, np.ndarray) else int(arg)
            for name, arg in zip(self.names, args, strict=True)
        }
        space.update(i=np.arange(size), tanh=np.tanh)
        for statement in filter(None, (part.strip() for part in self.operation.split(";"))):
            if statement.startswith("const ptrdiff_t "):
                for assignment in statement.removeprefix("const ptrdiff_t ").split(", "):
                    target, expression = assignment.split(" = ")
                    space[target] = eval(expression.replace(" / ", " // "), space)
            elif statement.startswith("T "):
                target, expression = statement.removeprefix("T ").split(" = ", 1)
                space[target] = eval(expression.replace("(T)", ""), space)
            else:
                match = re.fullmatch(r"(\w+)\[(.+)\] = (\w+)", statement)
                assert match, f"not a statement this evaluator knows: {statement!r}"
                array, index, value = match.groups()
                space[array][eval(index, space)] = space[value]


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_step_kernels_run_with_numpy_equal_the_array_code(monkeypatch, bidirectional):
    """The CUDA source built from LSTM_FORWARD/LSTM_BACKWARD, run with NumPy inside LSTMRecurrence,
    gives the outputs and gradients of the array code (float64, so to rounding)."""
    from deepgrad.ops import rnn_fused as rnn

    monkeypatch.setattr(cuda_kernels, "_compiled", {})
    xp = types.SimpleNamespace(ElementwiseKernel=_NumpyRowKernel, __name__="cupy")
    used = []

    def kernel_steps(_xp, name, *arrays):
        used.append(name)
        return cuda_kernels.lstm_step(xp, name, arrays)

    def run():
        dg.manual_seed(0)
        lstm = dg.nn.LSTM(4, 6, num_layers=2, bidirectional=bidirectional).double()
        x = dg.randn(5, 3, 4, dtype=dg.float64, requires_grad=True)
        out, (h, c) = lstm(x)
        (out.sum() + (h * c).sum()).backward()
        return [out, h, c, x.grad, *(p.grad for p in lstm.parameters())]

    want = run()
    monkeypatch.setattr(rnn, "_step_kernel", kernel_steps)
    got = run()
    directions = 2 if bidirectional else 1
    assert used.count("lstm_forward_step") == used.count("lstm_backward_step") == 2 * directions
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-12, atol=1e-12)


def _lstm_run(bidirectional=True):
    dg.manual_seed(0)
    lstm = dg.nn.LSTM(4, 6, num_layers=2, bidirectional=bidirectional).double()
    x = dg.randn(5, 3, 4, dtype=dg.float64, requires_grad=True)
    out, (h, c) = lstm(x)
    (out.sum() + (h * c).sum()).backward()
    return [t.detach().numpy() for t in (out, h, c, x.grad, *(p.grad for p in lstm.parameters()))]


def test_a_failing_kernel_falls_back_to_the_tables_with_one_warning(monkeypatch):
    """A kernel that cannot compile (an untried NVRTC, say) costs speed, not results."""
    from deepgrad.ops import rnn_fused as rnn

    def broken_kernel(in_params, out_params, operation, name, preamble=""):
        def launch(*args, size):
            raise RuntimeError("nvrtc: error: unsupported thing")

        return launch

    monkeypatch.setattr(cuda_kernels, "_compiled", {})
    monkeypatch.setattr(cuda_kernels, "_failed", {})
    xp = types.SimpleNamespace(ElementwiseKernel=broken_kernel, tanh=np.tanh, __name__="cupy")
    want = _lstm_run()
    monkeypatch.setattr(
        rnn, "_step_kernel", lambda _xp, name, *arrays: cuda_kernels.lstm_step(xp, name, arrays)
    )
    with pytest.warns(RuntimeWarning, match="lstm_(forward|backward)_step failed") as caught:
        got = _lstm_run()
    assert len([w for w in caught if "lstm_forward_step" in str(w.message)]) == 1
    assert set(cuda_kernels._failed) == {"lstm_forward_step", "lstm_backward_step"}
    assert cuda_kernels.lstm_step(xp, "lstm_forward_step", (np.zeros((2, 8)),)) is None
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_lstm_kernel_sources_are_built_from_the_tables():
    for name, table in (
        ("lstm_forward_step", cuda_kernels.LSTM_FORWARD),
        ("lstm_backward_step", cuda_kernels.LSTM_BACKWARD),
    ):
        in_params, out_params, body, _ = cuda_kernels._SOURCES[name]
        assert (in_params, out_params) == table["params"]
        for target, expression in table["lines"]:
            assert f"T {target} = (T)({expression});" in body
    assert cuda_kernels.lstm_step(np, "lstm_forward_step", (np.zeros(2),)) is None
    xp, _ = _recording_module()
    assert cuda_kernels.lstm_step(xp, "gru_forward_step", (np.zeros(2, np.float32),)) is None


def test_relu_backward_keeps_create_graph_differentiable():
    x = dg.tensor([-1.0, 0.5, 2.0], dtype=dg.float64, requires_grad=True)
    (g,) = dg.autograd.grad((x.relu() ** 2).sum(), [x], create_graph=True)
    (gg,) = dg.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), [0.0, 2.0, 2.0])


# -- kernels on a GPU ----------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_sigmoid_kernel_matches_numpy(real_cuda, dtype):
    cupy = real_cuda
    x = np.concatenate([np.linspace(-30, 30, 1001), [-1e4, 1e4, 0.0]]).astype(dtype)
    got = cuda_kernels.sigmoid(cupy, cupy.asarray(x))
    assert got.dtype == np.dtype(dtype)
    want = cuda_kernels.sigmoid(np, x)
    tol = {"float16": 2e-3, "float32": 2e-7, "float64": 1e-15}[dtype]
    np.testing.assert_allclose(
        cupy.asnumpy(got).astype(np.float64), want.astype(np.float64), rtol=tol, atol=tol
    )
    assert cupy.asnumpy(got)[-3:].tolist() == [0.0, 1.0, 0.5]


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_relu_backward_kernel_matches_numpy(real_cuda, dtype):
    cupy = real_cuda
    rng = np.random.default_rng(0)
    dy = rng.standard_normal((64, 33)).astype(dtype)
    y = np.maximum(rng.standard_normal((64, 33)), 0).astype(dtype)
    y[0, :5] = 0.0
    got = cuda_kernels.relu_backward(cupy, cupy.asarray(dy), cupy.asarray(y))
    np.testing.assert_array_equal(cupy.asnumpy(got), cuda_kernels.relu_backward(np, dy, y))


@pytest.mark.cuda
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_kernel_matches_the_cpu_optimizer(real_cuda, amsgrad):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((50, 20)).astype(np.float32)
    grads = [
        rng.standard_normal((50, 20)).astype(np.float32) * s for s in (1.0, 0.1, 3.0, 0.01, 1.0)
    ]
    results = {}
    for device in ("cpu", "cuda"):
        p = dg.tensor(start, device=device, requires_grad=True)
        opt = dg.optim.Adam([p], lr=0.01, amsgrad=amsgrad, weight_decay=0.01)
        for g in grads:
            p.grad = dg.tensor(g, device=device)
            opt.step()
        results[device] = (p.detach().cpu().numpy(), opt.state[p]["exp_avg"].cpu().numpy())
    np.testing.assert_allclose(results["cuda"][0], results["cpu"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results["cuda"][1], results["cpu"][1], rtol=1e-5, atol=1e-6)


@pytest.mark.cuda
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_kernels_match_the_cpu(real_cuda, monkeypatch, dtype):
    """nn.LSTM on the GPU runs one kernel per step and direction, and matches the CPU."""
    from deepgrad.ops import rnn_fused as rnn

    used = []
    original = rnn._step_kernel

    def spy(xp, name, *arrays):
        step = original(xp, name, *arrays)
        used.append((name, step is not None))
        return step

    monkeypatch.setattr(rnn, "_step_kernel", spy)
    results = {}
    for device in ("cpu", "cuda"):
        dg.manual_seed(0)
        lstm = dg.nn.LSTM(8, 16, bidirectional=True).to(dtype=getattr(dg, dtype), device=device)
        x = dg.randn(7, 5, 8, dtype=getattr(dg, dtype), device=device, requires_grad=True)
        out, (h, c) = lstm(x)
        (out.sum() + (h * c).sum()).backward()
        results[device] = [
            t.detach().cpu().numpy() for t in (out, h, c, x.grad, lstm.weight_hh_l0.grad)
        ]
    assert ("lstm_forward_step", True) in used[-4:] and ("lstm_backward_step", True) in used[-4:]
    tol = 1e-5 if dtype == "float32" else 1e-12
    for got, want in zip(results["cuda"], results["cpu"], strict=True):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_sigmoid_and_relu_layers_use_the_kernels_and_match_cpu(real_cuda):
    x = dg.randn(128, 64)
    for fn in (lambda t: t.sigmoid(), lambda t: F.relu(t)):
        grads = {}
        for device in ("cpu", "cuda"):
            leaf = dg.tensor(x.numpy(), device=device, requires_grad=True)
            y = fn(leaf)
            (y * y).sum().backward()
            grads[device] = (y.detach().cpu().numpy(), leaf.grad.cpu().numpy())
        for got, want in zip(grads["cuda"], grads["cpu"]):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
