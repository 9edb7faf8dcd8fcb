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
reports whether the kernel took the step.

Kernels are compiled by CuPy on first use (cached on disk under ~/.cupy/kernel_cache).
``tests/cuda/test_cuda_kernels.py`` compares each kernel with its NumPy body on a GPU.

Convolution on CUDA runs the CPU's code: im2col through CuPy and one cuBLAS matrix product
(``deepgrad/ops/conv.py``). There is no cuDNN path: CuPy 14 removed its cuDNN bindings
(CuPy's upgrade guide points to NVIDIA's cuDNN Frontend instead), and CuPy 13's
``cupyx.cudnn`` would tie deepgrad to a CuPy that the cuda13 extra does not install.
"""

from __future__ import annotations

import math

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

_ADAM_SCALARS = (
    "T g, float32 one_minus_beta1, float32 beta2, float32 one_minus_beta2, float32 step_size, "
    "float32 bias2_sqrt, float32 eps"
)
_SOURCES = {
    # y = 1 / (1 + exp(-x)); exp(-x) overflowing to inf gives exactly 0, so no tanh trick is needed.
    "sigmoid": ("T x", "T y", "y = dg_sigmoid(x);", "deepgrad_sigmoid"),
    # dx = dy where y > 0 else 0
    "relu_backward": ("T dy, T y", "T dx", "dx = dg_positive(y) ? dy : (T)0;", "deepgrad_relu_backward"),
    # One Adam step for one element; p, m, v are read and written in place.
    "adam": (
        _ADAM_SCALARS,
        "T p, T m, T v",
        """
        float gf = dg_float(g);
        float mf = dg_float(m);
        mf += one_minus_beta1 * (gf - mf);
        float vf = beta2 * dg_float(v) + one_minus_beta2 * gf * gf;
        m = (T)mf;
        v = (T)vf;
        p = (T)(dg_float(p) - step_size * mf / (sqrtf(vf) / bias2_sqrt + eps));
        """,
        "deepgrad_adam",
    ),
    "adam_amsgrad": (
        _ADAM_SCALARS,
        "T p, T m, T v, T vmax",
        """
        float gf = dg_float(g);
        float mf = dg_float(m);
        mf += one_minus_beta1 * (gf - mf);
        float vf = beta2 * dg_float(v) + one_minus_beta2 * gf * gf;
        float vmaxf = fmaxf(dg_float(vmax), vf);
        m = (T)mf;
        v = (T)vf;
        vmax = (T)vmaxf;
        p = (T)(dg_float(p) - step_size * mf / (sqrtf(vmaxf) / bias2_sqrt + eps));
        """,
        "deepgrad_adam_amsgrad",
    ),
}
_DTYPES = {
    "sigmoid": (_FLOAT16, _FLOAT32, _FLOAT64),
    "relu_backward": (_FLOAT16, _FLOAT32, _FLOAT64),
    "adam": (_FLOAT16, _FLOAT32),  # float32 arithmetic would cost float64 parameters precision
    "adam_amsgrad": (_FLOAT16, _FLOAT32),
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
    faster in NumPy than 1 / (1 + exp(-x)) (PERFORMANCE.md, lesson 6). CUDA: one kernel.
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
    fused = kernel(xp, "relu_backward", dy.dtype) if dy.dtype == y.dtype and dy.shape == y.shape else None
    if fused is not None:
        return fused(dy, y)
    return xp.asarray(dy * (y > 0))  # NumPy turns 0-d results into scalars


def adam_update_(
    xp, param, g, exp_avg, exp_avg_sq, max_exp_avg_sq, *, beta1: float, beta2: float, lr: float, step: int, eps: float
) -> bool:
    """One whole Adam step in one CUDA kernel, in place; False (nothing done) where no kernel applies.

    The update of ``deepgrad.optim.Adam._update`` (whose NumPy body stays there, next to the
    optimizer's other math, and runs whenever this returns False)::

        m <- m + (1 - beta1) (g - m)
        v <- beta2 v + (1 - beta2) g^2;   v_max <- max(v_max, v), used for v   (amsgrad: max_exp_avg_sq given)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    On the GPU that is one pass over p, g, m and v instead of ~12 kernels over them.
    """
    fused = kernel(xp, "adam" if max_exp_avg_sq is None else "adam_amsgrad", param.dtype)
    if fused is None or g.dtype != param.dtype:
        return False
    step_size = lr / (1.0 - beta1**step)
    bias2_sqrt = math.sqrt(1.0 - beta2**step)
    args = (g, 1.0 - beta1, beta2, 1.0 - beta2, step_size, bias2_sqrt, eps, param, exp_avg, exp_avg_sq)
    if max_exp_avg_sq is not None:
        args += (max_exp_avg_sq,)
    fused(*args)
    return True
