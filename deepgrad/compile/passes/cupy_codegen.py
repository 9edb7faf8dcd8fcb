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

A group followed by a ``Sum`` (reduction fusion) also gets one ``cupy.ReductionKernel``. A
ReductionKernel writes only its reduced outputs, so the values a backward rule saves (or a later
node reads) cannot come out of it. The group is therefore split where nothing after is read:
the *head*, up to the last member whose output is needed, stays the ElementwiseKernel above
(every member written); the *tail* becomes the ReductionKernel's map, a ``__device__``
function of the head's outputs and the group's inputs, summed without being written::

    ElementwiseKernel deepgrad_fused_0:   T v2 = x0 - x1;  y2 = v2;  (Mul saves its inputs)
    ReductionKernel deepgrad_fused_0_sum: map deepgrad_map_0(x2) = x2 * x2, reduce a + b,
                                          post y4 = a, identity 0, over the Sum's dims

With no backward (inference) the head is often empty: one kernel, nothing but the sums
written. When the last member is needed itself the tail is empty and the Sum is not fused.
The sum accumulates in the group's dtype, as CuPy's own ``sum`` (the op it replaces) does, in
the kernel's order: equal to eager mode within reassociation tolerance.

Used only when the traced arrays are CuPy arrays (the op's ``xp`` has ``ElementwiseKernel``,
and ``ReductionKernel`` for a fused sum); the NumPy path is ``fusion.py``'s ufunc calls with
``out=``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.compile.graph import Node
from deepgrad.ops import elementwise as ew

__all__ = [
    "C_EXPRESSIONS",
    "DTYPES",
    "KERNEL_OPTIONS",
    "group_function",
    "kernel_parts",
    "reduction_parts",
    "usable",
]

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
C_TYPES = {np.dtype("float32"): "float", np.dtype("float64"): "double"}
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


def _reads(members: list[Node]) -> list[int]:
    """The indices of the values the members read from outside, in order of first use."""
    produced = {m.output.index for m in members}
    found = [v.index for m in members for v in m.inputs if v.index not in produced]
    return list(dict.fromkeys(found))


def _line(member: Node, produced: set[int]) -> str:
    """``T v<out> = <C expression>`` of one member (``v`` names inside, ``x`` names read)."""
    names = [f"v{v.index}" if v.index in produced else f"x{v.index}" for v in member.inputs]
    expression = C_EXPRESSIONS[member.fn].format(*names)
    return f"T v{member.output.index} = {expression};"


def kernel_parts(index: int, members: list[Node]) -> tuple[str, str, str, str]:
    """``(in_params, out_params, operation, name)`` of the group's ElementwiseKernel."""
    produced = {m.output.index for m in members}
    lines = [
        f"{_line(m, produced)}  y{m.output.index} = v{m.output.index};  // {m.describe()}"
        for m in members
    ]
    in_params = ", ".join(f"T x{i}" for i in _reads(members))
    out_params = ", ".join(f"T y{m.output.index}" for m in members)
    return in_params, out_params, "\n".join(lines), f"deepgrad_fused_{index}"


def reduction_parts(index: int, tail: list[Node], reduction: Node) -> dict[str, str]:
    """The ``cupy.ReductionKernel`` arguments that sum ``tail``'s last value over the Sum's dims.

    The map is a ``__device__`` function (in the preamble) running the tail's chain in
    registers; ``T`` is typedef'd inside it to the group's C type.
    """
    produced, reads = {m.output.index for m in tail}, _reads(tail)
    ctype = C_TYPES[np.dtype(tail[-1].output.dtype)]
    function = f"deepgrad_map_{index}"
    body = [f"    typedef {ctype} T;"]
    body += [f"    {_line(m, produced)}  // {m.describe()}" for m in tail]
    body.append(f"    return v{tail[-1].output.index};")
    params = ", ".join(f"const {ctype} x{i}" for i in reads)
    out = reduction.output.index
    return {
        "in_params": ", ".join(f"T x{i}" for i in reads),
        "out_params": f"T y{out}",
        "map_expr": f"{function}({', '.join(f'x{i}' for i in reads)})",
        "reduce_expr": "a + b",
        "post_map_expr": f"y{out} = a",
        "identity": "0",
        "name": f"deepgrad_fused_{index}_sum",
        "preamble": f"__device__ {ctype} {function}({params}) {{\n" + "\n".join(body) + "\n}",
    }


Launch = Callable[[dict, dict], None]


def _elementwise(xp: Any, index: int, members: list[Node]) -> tuple[Launch, str]:
    """One ElementwiseKernel launch writing every member's output, and its source."""
    in_params, out_params, operation, name = kernel_parts(index, members)
    kernel = xp.ElementwiseKernel(in_params, out_params, operation, name, options=KERNEL_OPTIONS)
    reads = _reads(members)
    outputs = [(m.output.index, m.output.shape, m.output.dtype) for m in members]

    def launch(env: dict, out: dict) -> None:
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
    return launch, source


def _reduction(xp: Any, index: int, tail: list[Node], reduction: Node) -> tuple[Launch, str]:
    """One ReductionKernel launch writing only the Sum's output (into its buffer), and its source."""
    parts = reduction_parts(index, tail, reduction)
    kernel = xp.ReductionKernel(
        parts["in_params"],
        parts["out_params"],
        parts["map_expr"],
        parts["reduce_expr"],
        parts["post_map_expr"],
        parts["identity"],
        parts["name"],
        preamble=parts["preamble"],
        options=KERNEL_OPTIONS,
    )
    reads, y = _reads(tail), reduction.output.index
    axis = tuple(reduction.constants["dims"])
    keepdims = bool(reduction.constants.get("keepdim", False))

    def launch(env: dict, out: dict) -> None:
        array = out.get(y)
        arrays = [env[i] for i in reads]
        if array is None:  # the sum leaves the call: a fresh array
            env[y] = kernel(*arrays, axis=axis, keepdims=keepdims)
        else:
            kernel(*arrays, out=array, axis=axis, keepdims=keepdims)
            env[y] = array

    source = f"ReductionKernel {parts['name']}  (axis={axis}, keepdims={keepdims})\n"
    source += f"  in:  {parts['in_params']}\n  out: {parts['out_params']}\n"
    source += f"  map: {parts['map_expr']};  reduce: {parts['reduce_expr']};"
    source += f"  post: {parts['post_map_expr']};  identity: {parts['identity']}\n"
    source += "".join(f"  {line}\n" for line in parts["preamble"].splitlines())
    return launch, source


def group_function(
    xp: Any, index: int, members: list[Node], reduction: Node | None = None, split: int = -1
) -> tuple[Callable, str]:
    """The group's step ``function(env, out)`` (one or two kernel launches) and the source.

    Without ``reduction``: one ElementwiseKernel over every member. With it, ``members[:split]``
    (the head, possibly empty) is one ElementwiseKernel and ``members[split:]`` (the tail, not
    empty) the map of one ReductionKernel summing into ``reduction``'s output.
    """
    if reduction is None:
        return _elementwise(xp, index, members)
    head, tail = members[:split], members[split:]
    if not tail:
        raise ValueError(f"internal: a fused sum needs a tail of members (got split={split}).")
    launches, sources = [], []
    if head:
        launch, source = _elementwise(xp, index, head)
        launches.append(launch)
        sources.append(source)
    launch, source = _reduction(xp, index, tail, reduction)
    launches.append(launch)
    sources.append(source)

    def function(env: dict, out: dict) -> None:
        for run in launches:
            run(env, out)

    return function, "".join(sources)
