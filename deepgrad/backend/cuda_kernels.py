"""Fused elementwise kernels for CUDA, each behind one function with a NumPy body for the CPU.

On a GPU an elementwise chain such as ``0.5 * tanh(0.5 * x) + 0.5`` is one kernel launch and
one pass over memory per operation, plus a temporary array each; the work per element is
tiny, so launches and memory traffic are the whole cost. A CuPy ``ElementwiseKernel`` does the
chain in one launch and one pass. Each function below has three bodies:

- NumPy (``xp is numpy``): the CPU code deepgrad had before, unchanged;
- CuPy kernel: when ``xp`` has ``ElementwiseKernel`` (real CuPy) and the dtype is one the
  kernel is written for (float16 and float32 compute in float32; sigmoid and the ReLU
  gradient also take float64);
- generic: the NumPy body's operations through ``xp``, for any other array module or dtype.

The Adam kernel is the exception: its NumPy body stays in ``deepgrad.optim.Adam._update``, with
the optimizer's other math (STYLE: one optimizer step in one method), and ``adam_update_``
reports whether the kernel took the step. The kernel's C body is generated from one table of the
update's expressions (``adam_lines``), which a CPU test evaluates with NumPy against
``Adam._update``.

Kernels are compiled by CuPy on first use (cached on disk under ~/.cupy/kernel_cache).
``tests/cuda/test_cuda_kernels.py`` compares each kernel with its NumPy body on a GPU.

Convolution on CUDA runs the CPU's code: im2col through CuPy and one cuBLAS matrix product
(``deepgrad/ops/conv.py``). There is no cuDNN path: CuPy 14 removed its cuDNN bindings
(CuPy's upgrade guide points to NVIDIA's cuDNN Frontend instead), and CuPy 13's
``cupyx.cudnn`` would tie deepgrad to a CuPy that the cuda13 extra does not install.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

_FLOAT16, _FLOAT32, _FLOAT64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")

# Helpers for the kernels: float16 and float32 compute in float32, float64 in float64.
_PREAMBLE = r"""
template <typename T> __device__ float dg_float(T x) { return (float)x; }
template <typename T> __device__ T dg_sigmoid(T x) { return (T)(1.0f / (1.0f + expf(-dg_float(x)))); }
template <> __device__ double dg_sigmoid<double>(double x) { return 1.0 / (1.0 + exp(-x)); }
template <typename T> __device__ bool dg_positive(T x) { return dg_float(x) > 0.0f; }
template <> __device__ bool dg_positive<double>(double x) { return x > 0.0; }
"""


# -- Adam: one table of the update, from which the kernel's C body is generated -------------------
# One Adam step for one element, as ``target = expression`` lines over float values (the names
# are the kernel's parameters; the scalars are precomputed on the host by ``adam_scalars``):
#
#     m <- m + (1 - beta1) (g - m)
#     v <- beta2 v + (1 - beta2) g^2;   vmax <- max(vmax, v), used for v   (amsgrad)
#     p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#
# The expressions are C that is also Python, so tests/cuda/test_cuda_kernels.py evaluates the
# generated kernel body with NumPy and checks it against ``deepgrad.optim.Adam._update`` (the
# NumPy body): the GPU and CPU formulas cannot drift apart without a failing test.
def adam_lines(amsgrad: bool) -> tuple[tuple[str, str], ...]:
    """The Adam update as ``(target, C expression)`` pairs, in order."""
    second_moment = "vmax" if amsgrad else "v"
    lines = [
        ("m", "m + one_minus_beta1 * (g - m)"),
        ("v", "beta2 * v + one_minus_beta2 * g * g"),
    ]
    if amsgrad:
        lines.append(("vmax", "fmaxf(vmax, v)"))
    lines.append(("p", f"p - step_size * m / (sqrtf({second_moment}) / bias2_sqrt + eps)"))
    return tuple(lines)


def adam_scalars(
    *, beta1: float, beta2: float, lr: float, step: int, eps: float
) -> dict[str, float]:
    """The kernel's scalar arguments for step ``step`` (bias corrections folded in on the host)."""
    return {
        "one_minus_beta1": 1.0 - beta1,
        "beta2": beta2,
        "one_minus_beta2": 1.0 - beta2,
        "step_size": lr / (1.0 - beta1**step),
        "bias2_sqrt": math.sqrt(1.0 - beta2**step),
        "eps": eps,
    }


def float_body(
    arrays: tuple[str, ...], outputs: tuple[str, ...], lines: tuple[tuple[str, str], ...]
) -> str:
    """A kernel body: load ``arrays`` as float, run ``lines`` on them, store ``outputs`` back as T.

    float16 and float32 arrays both compute in float32 (``dg_float``); each array ``x`` becomes
    the local ``x_f``, so the lines can read a value they have already updated.
    """
    local = {name: f"{name}_f" for name in arrays}

    def rename(expression: str) -> str:
        return re.sub(r"\b[A-Za-z_]\w*\b", lambda w: local.get(w.group(0), w.group(0)), expression)

    body = [f"float {local[name]} = dg_float({name});" for name in arrays]
    body += [f"{local[target]} = {rename(expression)};" for target, expression in lines]
    body += [f"{name} = (T){local[name]};" for name in outputs]
    return "\n".join(body)


# -- LSTM: one time step's elementwise work, one thread per (batch row, hidden unit) ---------------
# The same tables drive the kernels' C and the CPU test that evaluates them with NumPy
# (tests/cuda/test_cuda_kernels.py), like Adam's. A step reads the gate blocks of a (B, 4H) row
# (block k: columns k H .. (k + 1) H), computes in T, and writes blocks and (B, H) arrays back.
# Loads and stores are (local, array, block): block None is the element's own index in a (B, H)
# array. The expressions are C that is also Python (tanh is numpy.tanh there).
LSTM_FORWARD: dict[str, Any] = {
    "loads": (
        ("a_i", "a", 0),
        ("a_f", "a", 1),
        ("a_g", "a", 2),
        ("a_o", "a", 3),
        ("r_i", "rec", 0),
        ("r_f", "rec", 1),
        ("r_g", "rec", 2),
        ("r_o", "rec", 3),
        ("cp", "c_prev", None),
    ),
    "lines": (
        ("gi", "0.5 * tanh(0.5 * (a_i + r_i)) + 0.5"),  # sigmoid(x) = 0.5 tanh(x / 2) + 1/2
        ("gf", "0.5 * tanh(0.5 * (a_f + r_f)) + 0.5"),
        ("gg", "tanh(a_g + r_g)"),
        ("go", "0.5 * tanh(0.5 * (a_o + r_o)) + 0.5"),
        ("c", "gf * cp + gi * gg"),  # c_t = f c_{t-1} + i g
        ("tc", "tanh(c)"),
        ("h", "go * tc"),  # h_t = o tanh(c_t)
    ),
    "stores": (
        ("gi", "a", 0),
        ("gf", "a", 1),
        ("gg", "a", 2),
        ("go", "a", 3),
        ("c", "c_out", None),
        ("tc", "tanh_c_out", None),
        ("h", "h_out", None),
    ),
    "params": (
        "raw T rec, raw T c_prev, int32 hidden",
        "raw T a, raw T c_out, raw T tanh_c_out, raw T h_out",
    ),
}
LSTM_BACKWARD: dict[str, Any] = {
    "loads": (
        ("gi", "a", 0),
        ("gf", "a", 1),
        ("gg", "a", 2),
        ("go", "a", 3),
        ("tc", "tanh_c", None),
        ("cp", "c_prev", None),
        ("dy_", "dy", None),
        ("dh_in", "dh", None),
        ("dc_in", "dc", None),
    ),
    "lines": (
        ("dh_", "dh_in + dy_"),
        ("dc_", "dc_in + dh_ * go * (1.0 - tc * tc)"),  # dc_t += dh o (1 - tanh(c_t)^2)
        ("d_i", "dc_ * gg * gi * (1.0 - gi)"),  # each gate's slope: s (1 - s), or 1 - g^2
        ("d_f", "dc_ * cp * gf * (1.0 - gf)"),
        ("d_g", "dc_ * gi * (1.0 - gg * gg)"),
        ("d_o", "dh_ * tc * go * (1.0 - go)"),
        ("dc_out", "dc_ * gf"),  # the cell gradient handed to step t - 1
    ),
    "stores": (
        ("d_i", "d", 0),
        ("d_f", "d", 1),
        ("d_g", "d", 2),
        ("d_o", "d", 3),
        ("dc_out", "dc", None),
    ),
    "params": (
        "raw T a, raw T tanh_c, raw T c_prev, raw T dy, raw T dh, int32 hidden",
        "raw T dc, raw T d",
    ),
}


def row_step_body(table: dict) -> str:
    """The C body of a per-(row, unit) step kernel from its table (loop index ``i`` over B H)."""

    def at(array: str, block: int | None) -> str:
        return f"{array}[i]" if block is None else f"{array}[row + {block} * hidden]"

    body = ["const ptrdiff_t b = i / hidden, row = b * 4 * hidden + (i - b * hidden);"]
    body += [f"T {local} = {at(array, block)};" for local, array, block in table["loads"]]
    body += [f"T {local} = (T)({expression});" for local, expression in table["lines"]]
    body += [f"{at(array, block)} = {local};" for local, array, block in table["stores"]]
    return "\n".join(body)


# The kernel's inputs: the gradient, then the scalars in adam_scalars' order (the values here are
# PyTorch's defaults, used for the names only).
_ADAM_SCALAR_NAMES = tuple(adam_scalars(beta1=0.9, beta2=0.999, lr=1e-3, step=1, eps=1e-8))
_ADAM_INPUTS = "T g, " + ", ".join(f"float32 {name}" for name in _ADAM_SCALAR_NAMES)
_SOURCES = {
    # y = 1 / (1 + exp(-x)); exp(-x) overflowing to inf gives exactly 0, so no tanh trick is needed.
    "sigmoid": ("T x", "T y", "y = dg_sigmoid(x);", "deepgrad_sigmoid"),
    # dx = dy where y > 0 else 0
    "relu_backward": (
        "T dy, T y",
        "T dx",
        "dx = dg_positive(y) ? dy : (T)0;",
        "deepgrad_relu_backward",
    ),
    # One Adam step for one element; p, m, v (and vmax) are read and written in place.
    "adam": (
        _ADAM_INPUTS,
        "T p, T m, T v",
        float_body(("g", "p", "m", "v"), ("p", "m", "v"), adam_lines(amsgrad=False)),
        "deepgrad_adam",
    ),
    "adam_amsgrad": (
        _ADAM_INPUTS,
        "T p, T m, T v, T vmax",
        float_body(("g", "p", "m", "v", "vmax"), ("p", "m", "v", "vmax"), adam_lines(amsgrad=True)),
        "deepgrad_adam_amsgrad",
    ),
    "lstm_forward_step": (
        *LSTM_FORWARD["params"],
        row_step_body(LSTM_FORWARD),
        "deepgrad_lstm_forward_step",
    ),
    "lstm_backward_step": (
        *LSTM_BACKWARD["params"],
        row_step_body(LSTM_BACKWARD),
        "deepgrad_lstm_backward_step",
    ),
}
_DTYPES = {
    "sigmoid": (_FLOAT16, _FLOAT32, _FLOAT64),
    "relu_backward": (_FLOAT16, _FLOAT32, _FLOAT64),
    "adam": (_FLOAT16, _FLOAT32),  # float32 arithmetic would cost float64 parameters precision
    "adam_amsgrad": (_FLOAT16, _FLOAT32),
    "lstm_forward_step": (_FLOAT32, _FLOAT64),  # computed in T: float16 keeps the array code
    "lstm_backward_step": (_FLOAT32, _FLOAT64),
}
_compiled: dict = {}


def kernel(xp, name: str, dtype):
    """The CuPy kernel ``name`` for arrays of ``dtype``, or None where the generic body runs."""
    if xp is np or dtype not in _DTYPES[name] or not hasattr(xp, "ElementwiseKernel"):
        return None
    compiled = _compiled.get(name)
    if compiled is None:
        in_params, out_params, operation, kernel_name = _SOURCES[name]
        compiled = _compiled[name] = xp.ElementwiseKernel(
            in_params, out_params, operation, kernel_name, preamble=_PREAMBLE
        )
    return compiled


def sigmoid(xp, x):
    """y = 1 / (1 + exp(-x)), a new array.

    NumPy body: 0.5 * tanh(0.5 x) + 0.5, equal to the logistic function, never overflowing, and ~3x
    faster in NumPy than 1 / (1 + exp(-x)) (docs/performance.md, note 6). CUDA: one kernel.
    """
    fused = kernel(xp, "sigmoid", x.dtype)
    if fused is not None:
        return fused(x)
    y = xp.tanh(x * 0.5)
    y *= 0.5
    y += 0.5
    return y


def relu_backward(xp, dy, y):
    """dx = dy * [y > 0], a new array (y is ReLU's output; the subgradient at 0 is 0)."""
    fused = (
        kernel(xp, "relu_backward", dy.dtype)
        if dy.dtype == y.dtype and dy.shape == y.shape
        else None
    )
    if fused is not None:
        return fused(dy, y)
    return xp.asarray(dy * (y > 0))  # NumPy turns 0-d results into scalars


def adam_update_(
    xp,
    param,
    g,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    *,
    beta1: float,
    beta2: float,
    lr: float,
    step: int,
    eps: float,
) -> bool:
    """One whole Adam step in one CUDA kernel, in place; False (nothing done) where no kernel applies.

    The update of ``deepgrad.optim.Adam._update`` (whose NumPy body stays there, next to the
    optimizer's other math, and runs whenever this returns False), as the lines of
    :func:`adam_lines` (amsgrad when ``max_exp_avg_sq`` is given).

    On the GPU that is one pass over p, g, m and v instead of ~12 kernels over them.
    """
    fused = kernel(xp, "adam" if max_exp_avg_sq is None else "adam_amsgrad", param.dtype)
    if fused is None or g.dtype != param.dtype:
        return False
    scalars = adam_scalars(beta1=beta1, beta2=beta2, lr=lr, step=step, eps=eps)
    args = (g, *scalars.values(), param, exp_avg, exp_avg_sq)
    if max_exp_avg_sq is not None:
        args += (max_exp_avg_sq,)
    fused(*args)
    return True


# The arguments of each step, in the numba kernels' order (deepgrad/backend/_numba_kernels.py).
LSTM_STEP_ARGUMENTS = {
    "lstm_forward_step": ("a", "rec", "c_prev", "c_out", "tanh_c_out", "h_out"),
    "lstm_backward_step": ("a", "tanh_c", "c_prev", "dy", "dh", "dc", "d"),
}
_LSTM_TABLES = {"lstm_forward_step": LSTM_FORWARD, "lstm_backward_step": LSTM_BACKWARD}
_failed: dict[str, str] = {}  # kernels whose compilation or launch failed once: not tried again


def lstm_step(xp: Any, name: str, arrays: tuple) -> Callable[..., None] | None:
    """One LSTM time step's elementwise work as one CUDA kernel, or None where no kernel applies.

    ``name`` is ``"lstm_forward_step"`` or ``"lstm_backward_step"``; the callable returned takes
    the arguments of the numba kernels of the same names (``LSTM_STEP_ARGUMENTS``), so
    ``deepgrad.ops.rnn`` runs one loop for both: per step one GEMM and one kernel launch
    instead of ~10 (forward) and ~20 (backward) elementwise launches. The tables
    ``LSTM_FORWARD`` and ``LSTM_BACKWARD`` hold the formulas.

    Should CuPy fail to compile or launch a kernel (an NVRTC or driver this code was not tried
    with), that call computes the step from the same tables with array operations
    (``table_step``), a RuntimeWarning says why once, and later calls use the array code.
    """
    if name not in LSTM_STEP_ARGUMENTS or name in _failed:
        return None  # another recurrence (the GRU has no CUDA kernel), or a failed kernel
    dtype = arrays[0].dtype
    usable = all(a.dtype == dtype for a in arrays)
    fused = kernel(xp, name, dtype) if usable else None
    if fused is None:
        return None
    names, table = LSTM_STEP_ARGUMENTS[name], _LSTM_TABLES[name]
    # the kernel's parameters in its own order (inputs, then outputs), as positions in the
    # step's arguments; None is the scalar ``hidden``
    order = [p.split()[-1] for p in ", ".join(table["params"]).split(",")]
    positions = [names.index(p) if p in names else None for p in order]

    def step(*args: Any) -> None:
        if name not in _failed:
            batch, hidden = args[2].shape  # c_prev, the third argument of both steps
            ordered = [np.int32(hidden) if k is None else args[k] for k in positions]
            try:
                fused(*ordered, size=batch * hidden)
                return
            except Exception as exc:  # any compile or launch failure falls back
                _failed[name] = f"{type(exc).__name__}: {exc}"
                warnings.warn(
                    f"deepgrad: the CUDA kernel {name} failed ({_failed[name]}); LSTM steps use "
                    "CuPy array operations instead (same results, slower).",
                    RuntimeWarning,
                    stacklevel=2,
                )
        table_step(xp, table, dict(zip(names, args, strict=True)))

    return step


def table_step(xp: Any, table: dict, arrays: dict[str, Any]) -> None:
    """Run a step table (``LSTM_FORWARD``, ``LSTM_BACKWARD``) with array operations of ``xp``.

    The kernel's semantics on whole (B, H) blocks: every load first, then the lines, then the
    stores, so a block read and written (the gates) is read before it changes.
    """
    hidden = arrays["a"].shape[1] // 4

    def block(name: str, k: int | None) -> Any:
        x = arrays[name]
        return x if k is None else x[:, k * hidden : (k + 1) * hidden]

    space: dict[str, Any] = {"tanh": xp.tanh}
    for local, name, k in table["loads"]:
        space[local] = block(name, k).copy()
    for local, expression in table["lines"]:
        space[local] = eval(_compiled_line(expression), space)  # the module's own formulas
    for local, name, k in table["stores"]:
        block(name, k)[...] = space[local]


_lines: dict[str, Any] = {}


def _compiled_line(expression: str) -> Any:
    code = _lines.get(expression)
    if code is None:
        code = _lines[expression] = compile(expression, "<deepgrad LSTM table>", "eval")
    return code
