"""Code generation for fused elementwise groups on CuPy: one ``cupy.ElementwiseKernel`` per group.

On the GPU a fused group becomes one CUDA kernel, written as C from the group's op list::

    in:  T x5, T x7                     (the values the group reads)
    out: T y8, T y9                     (every member's output)
    T v8 = x5 + x7;  y8 = v8;           // %8 = Add(%5, %7)
    T v9 = (v8 < (T)0 ? (T)0 : v8);  y9 = v9;   // %9 = Relu(%8)

Inside the kernel the intermediates are registers (``v8``); each is still written out (``y8``)
because the backward rules and later nodes read it. ``T`` is CuPy's type placeholder: every
input and output of a group has one dtype (float32 or float64). The kernel is compiled with
``--fmad=false``: nvcc would otherwise contract ``a * b + c`` into one fused multiply-add, whose
rounding differs from the op-by-op CuPy kernels; without it the group gives the primitives'
results bit for bit (CuPy's own ufuncs call the same CUDA math functions: exp, log, tanh...).

Used only when the traced arrays are CuPy arrays (the op's ``xp`` has ``ElementwiseKernel``);
the NumPy path is ``fusion.py``'s ufunc calls with ``out=``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.compile.graph import Node
from deepgrad.ops import elementwise as ew

__all__ = ["C_EXPRESSIONS", "DTYPES", "KERNEL_OPTIONS", "group_function", "kernel_parts", "usable"]

# primitive -> C expression of its inputs ({0}, {1}); T is the group's element type
C_EXPRESSIONS: dict[type, str] = {
    ew.Add: "{0} + {1}",
    ew.Sub: "{0} - {1}",
    ew.Mul: "{0} * {1}",
    ew.Div: "{0} / {1}",
    ew.Neg: "-{0}",
    ew.Exp: "exp({0})",
    ew.Log: "log({0})",
    ew.Log1p: "log1p({0})",
    ew.Sqrt: "sqrt({0})",
    ew.Tanh: "tanh({0})",
    ew.Relu: "({0} < (T)0 ? (T)0 : {0})",  # NaN stays NaN, as NumPy's maximum(x, 0)
}
DTYPES = (np.dtype("float32"), np.dtype("float64"))
KERNEL_OPTIONS = ("--fmad=false",)


def usable(node: Node) -> bool:
    """Whether ``node`` can be a member of a CuPy kernel: a CuPy op with one float dtype."""
    xp = node.xp
    if xp is None or xp is np or not hasattr(xp, "ElementwiseKernel"):
        return False
    if node.fn not in C_EXPRESSIONS or len(node.outputs) != 1:
        return False
    dtype = np.dtype(node.output.dtype)
    return dtype in DTYPES and all(np.dtype(v.dtype) == dtype for v in node.inputs)


def kernel_parts(index: int, members: list[Node]) -> tuple[str, str, str, str]:
    """``(in_params, out_params, operation, name)`` of the group's ElementwiseKernel."""
    produced = {m.output.index for m in members}
    reads: list[int] = []
    for member in members:
        reads += [
            v.index for v in member.inputs if v.index not in produced and v.index not in reads
        ]
    lines = []
    for member in members:
        names = [f"v{v.index}" if v.index in produced else f"x{v.index}" for v in member.inputs]
        out = member.output.index
        expression = C_EXPRESSIONS[member.fn].format(*names)
        lines.append(f"T v{out} = {expression};  y{out} = v{out};  // {member.describe()}")
    in_params = ", ".join(f"T x{i}" for i in reads)
    out_params = ", ".join(f"T y{m.output.index}" for m in members)
    return in_params, out_params, "\n".join(lines), f"deepgrad_fused_{index}"


def group_function(xp: Any, index: int, members: list[Node]) -> tuple[Callable, str]:
    """The group's step ``function(env, out)`` (one kernel launch) and the kernel's source."""
    in_params, out_params, operation, name = kernel_parts(index, members)
    kernel = xp.ElementwiseKernel(in_params, out_params, operation, name, options=KERNEL_OPTIONS)
    produced = {m.output.index for m in members}
    reads = list(
        dict.fromkeys(v.index for m in members for v in m.inputs if v.index not in produced)
    )
    outputs = [(m.output.index, m.output.shape, m.output.dtype) for m in members]

    def function(env: dict, out: dict) -> None:
        arrays = [out.get(i) for i, _, _ in outputs]
        arrays = [
            a if a is not None else xp.empty(shape, dtype=dtype)
            for a, (_, shape, dtype) in zip(arrays, outputs)
        ]
        kernel(*[env[i] for i in reads], *arrays)
        for (i, _, _), array in zip(outputs, arrays):
            env[i] = array

    source = f"ElementwiseKernel {name}\n  in:  {in_params}\n  out: {out_params}\n"
    source += "".join(f"  {line}\n" for line in operation.splitlines())
    return function, source
