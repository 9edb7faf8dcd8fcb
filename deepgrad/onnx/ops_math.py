"""Converters of the arithmetic primitives: elementwise math, comparisons, reductions, matmul.

Each maps one primitive to the ONNX node (or the few nodes) computing the same function. Binary
operands are brought to one type first (ONNX, unlike NumPy, does not promote), and constant
operands (Python scalars become 0-d arrays at dispatch) are written in that type.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.onnx.graph import GraphBuilder, unsupported
from deepgrad.onnx.registry import register_converter
from deepgrad.ops import elementwise as ew
from deepgrad.ops import fused, fused_layers, linalg, reduce

_UNARY = {
    ew.Neg: "Neg",
    ew.Log: "Log",
    ew.Sqrt: "Sqrt",
    ew.Sin: "Sin",
    ew.Cos: "Cos",
    ew.Tanh: "Tanh",
    ew.Sigmoid: "Sigmoid",
    ew.Relu: "Relu",
    ew.Abs: "Abs",
    ew.Erf: "Erf",
    ew.Sign: "Sign",
    ew.LogicalNot: "Not",
    ew.IsNan: "IsNaN",
    ew.IsInf: "IsInf",
}
_BINARY = {
    ew.Add: "Add",
    ew.Sub: "Sub",
    ew.Mul: "Mul",
    ew.Div: "Div",
    ew.Pow: "Pow",
    ew.Maximum: "Max",
    ew.Minimum: "Min",
    linalg.MatMul: "MatMul",
}
_COMPARE = {
    "eq": "Equal",
    "lt": "Less",
    "le": "LessOrEqual",
    "gt": "Greater",
    "ge": "GreaterOrEqual",
    "and": "And",
    "or": "Or",
    "xor": "Xor",
}
_REDUCE = {
    reduce.Sum: "ReduceSum",
    reduce.Amax: "ReduceMax",
    reduce.Amin: "ReduceMin",
    reduce.Prod: "ReduceProd",
}


def _operands(g: GraphBuilder, inputs: tuple[Tensor, ...], dtype: Any) -> list[str]:
    return [g.value(x, dtype) for x in inputs]


def _unary(op: str):
    def convert(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, **constants: Any) -> str:
        return g.node(op, [g.value(inputs[0])])

    convert.__name__ = f"_{op.lower()}"
    return convert


def _binary(op: str):
    def convert(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, **constants: Any) -> str:
        return g.node(op, _operands(g, inputs, out.dtype))

    convert.__name__ = f"_{op.lower()}"
    return convert


for _cls, _op in _UNARY.items():
    register_converter(_cls)(_unary(_op))
for _cls, _op in _BINARY.items():
    register_converter(_cls)(_binary(_op))


def _exp(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, **constants: Any) -> str:
    return g.node("Exp", [g.value(inputs[0])])


register_converter(ew.Exp)(_exp)  # named, so the registry's doctest can point at it


@register_converter(ew.Log1p)
def _log1p(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor) -> str:
    x = g.value(inputs[0])
    return g.node("Log", [g.node("Add", [x, g.scalar(1.0, out.dtype)])])


@register_converter(ew.Expm1)
def _expm1(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor) -> str:
    return g.node("Sub", [g.node("Exp", [g.value(inputs[0])]), g.scalar(1.0, out.dtype)])


@register_converter(ew.IsFinite)
def _isfinite(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor) -> str:
    x = g.value(inputs[0])
    return g.node("Not", [g.node("Or", [g.node("IsNaN", [x]), g.node("IsInf", [x])])])


@register_converter(ew.Clamp)
def _clamp(
    g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, low: Any = None, high: Any = None
) -> str:
    bounds = ["" if b is None else g.scalar(b, out.dtype) for b in (low, high)]
    return g.node("Clip", [g.value(inputs[0]), *bounds])


@register_converter(ew.Cast)
def _cast(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, dtype: Any = None) -> str:
    return g.node("Cast", [g.value(inputs[0])], to=g.tensor_type(out.dtype))


@register_converter(ew.Where)
def _where(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor) -> str:
    cond, a, b = inputs
    if a._data is b._data or (g.known(a) and g.known(b) and g.value(a) == g.value(b)):
        # where(mask, y, y.detach()) (embedding's padding_idx, hardtanh) is y whatever the mask
        return g.value(a, out.dtype)
    return g.node("Where", [g.value(cond, np.bool_), *_operands(g, (a, b), out.dtype)])


@register_converter(ew.Compare)
def _compare(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, op: str) -> str:
    a, b = inputs
    dtype = np.result_type(a.dtype, b.dtype)
    operands = _operands(g, inputs, dtype)
    if op == "ne":
        return g.node("Not", [g.node("Equal", operands)])
    return g.node(_COMPARE[op], operands)


@register_converter(ew.FloorDivide)
def _floor_divide(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor) -> str:
    if out.dtype.kind != "f":
        raise unsupported("FloorDivide", f"integer operands ({out.dtype})", "divide float tensors")
    return g.node("Floor", [g.node("Div", _operands(g, inputs, out.dtype))])


@register_converter(ew.Remainder)
def _remainder(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor) -> str:
    a, b = _operands(g, inputs, out.dtype)
    if out.dtype.kind != "f":
        return g.node("Mod", [a, b], fmod=0)  # the sign of the divisor, as Python's %
    quotient = g.node("Floor", [g.node("Div", [a, b])])
    return g.node("Sub", [a, g.node("Mul", [quotient, b])])


# -- reductions ----------------------------------------------------------------------------------
def _reduction(op: str):
    def convert(
        g: GraphBuilder,
        inputs: tuple[Tensor, ...],
        out: Tensor,
        dims: tuple = (),
        keepdim: bool = False,
    ) -> str:
        x = g.value(inputs[0])
        return g.reduce(op, x, dims, keepdim) if dims else x  # NumPy's axis=() reduces nothing

    convert.__name__ = f"_{op.lower()}"
    return convert


for _cls, _op in _REDUCE.items():
    register_converter(_cls)(_reduction(_op))


@register_converter(reduce.Cumsum)
def _cumsum(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, dim: int = 0) -> str:
    return g.node("CumSum", [g.value(inputs[0]), g.constant(np.asarray(dim, dtype=np.int64))])


# -- linear algebra ------------------------------------------------------------------------------
@register_converter(linalg.Linear)
def _linear(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor) -> str:
    x, w, *bias = inputs
    names = [g.value(x), g.value(w)] + [g.value(b) for b in bias]
    if x.ndim == 2:
        return g.node("Gemm", names, transB=1)
    y = g.node("MatMul", [names[0], g.transpose(names[1], [1, 0])])
    return g.node("Add", [y, names[2]]) if bias else y


@register_converter(linalg.Einsum)
def _einsum(
    g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, terms: tuple = (), output: str = ""
) -> str:
    equation = ",".join(terms) + "->" + output
    return g.node("Einsum", [g.value(x) for x in inputs], equation=equation)


# -- fused layers --------------------------------------------------------------------------------
@register_converter(fused.Softmax)
def _softmax(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, dim: int = -1) -> str:
    return g.node("Softmax", [g.value(inputs[0])], axis=dim)


@register_converter(fused.LogSoftmax)
def _log_softmax(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, dim: int = -1) -> str:
    return g.node("LogSoftmax", [g.value(inputs[0])], axis=dim)


@register_converter(fused_layers.Gelu)
def _gelu(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor) -> str:
    x, dtype = g.value(inputs[0]), out.dtype
    erf = g.node("Erf", [g.node("Mul", [x, g.scalar(1.0 / math.sqrt(2.0), dtype)])])
    half_x = g.node("Mul", [x, g.scalar(0.5, dtype)])
    return g.node("Mul", [half_x, g.node("Add", [erf, g.scalar(1.0, dtype)])])


@register_converter(fused_layers.LayerNorm)
def _layer_norm(
    g: GraphBuilder,
    inputs: tuple[Tensor, ...],
    out: Tensor,
    ndim: int = 1,
    eps: float = 1e-5,
    weight: bool = True,
    bias: bool = True,
) -> str:
    x, *params = inputs
    shape = x.shape[x.ndim - ndim :]
    scale = g.value(params[0]) if weight else g.constant(np.ones(shape, dtype=out.dtype))
    shift = [g.value(params[-1])] if bias else []
    if g.opset >= 17:
        return g.node("LayerNormalization", [g.value(x), scale, *shift], axis=-ndim, epsilon=eps)
    axes = list(range(x.ndim - ndim, x.ndim))
    centered = g.node("Sub", [g.value(x), g.reduce("ReduceMean", g.value(x), axes, True)])
    var = g.reduce("ReduceMean", g.node("Mul", [centered, centered]), axes, True)
    std = g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, out.dtype)])])
    y = g.node("Mul", [g.node("Div", [centered, std]), scale])
    return g.node("Add", [y, shift[0]]) if bias else y


@register_converter(fused.BatchNorm)
def _batch_norm(
    g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, eps: float = 1e-5, **unused: Any
) -> str:
    # the batch's own statistics (evaluation without running statistics); nothing is updated
    x, *affine = inputs
    axes = [0, *range(2, x.ndim)]
    source = g.value(x)
    centered = g.node("Sub", [source, g.reduce("ReduceMean", source, axes, True)])
    var = g.reduce("ReduceMean", g.node("Mul", [centered, centered]), axes, True)
    y = g.node("Div", [centered, g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, out.dtype)])])])
    if not affine:
        return y
    view = g.ints([1, -1] + [1] * (x.ndim - 2))
    w, b = (g.node("Reshape", [g.value(p), view]) for p in affine)
    return g.node("Add", [g.node("Mul", [y, w]), b])


@register_converter(fused_layers.ScaledDotProductAttention)
def _attention(
    g: GraphBuilder,
    inputs: tuple[Tensor, ...],
    out: Tensor,
    scale: float = 1.0,
    causal: bool = False,
    bias: Any = None,
) -> str:
    q, k, v = inputs
    perm = list(range(k.ndim))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    scores = g.node("MatMul", [g.value(q), g.transpose(g.value(k), perm)])
    scores = g.node("Mul", [scores, g.scalar(scale, out.dtype)])
    if causal:
        rows, cols = q.shape[-2], k.shape[-2]
        allowed = np.arange(cols)[None, :] <= np.arange(rows)[:, None]
        mask = np.where(allowed, 0.0, -np.inf).astype(out.dtype)
        scores = g.node("Add", [scores, g.constant(mask, "causal_mask")])
    if bias is not None:
        scores = g.node("Add", [scores, g.value(bias, out.dtype)])
    return g.node("MatMul", [g.node("Softmax", [scores], axis=-1), g.value(v)])
