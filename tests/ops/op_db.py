"""The op table: one ``OpSpec`` per primitive and composite, each with a NumPy reference.

``test_op_db.py`` generates, for every entry and every shape case: forward == ``ref`` in float32
(dtype kept) and float64, ``gradcheck`` in float64, ``gradgradcheck`` where
``twice_differentiable``, and the same on CUDA when CuPy is present. A meta-test fails when a
primitive in ``Function.registry`` is covered by no entry.

Other test modules add entries: every ``tests/ops/op_db_*.py`` that defines ``OPS = [...]`` is
collected by ``all_specs()`` (``op_db_nn.py`` for fused nn primitives, ``op_db_conv.py`` for
conv/pool/rnn). Such a module writes ``from op_db import OpSpec, case`` and lists its entries::

    OPS = [OpSpec("softplus", F.softplus, ref=lambda a: np.logaddexp(a, 0), cases=UNARY, covers=("Softplus",))]

An entry's ``op`` takes the input tensors (then the case's keyword arguments) and returns a
Tensor or a tuple of Tensors; ``ref`` takes float64 NumPy arrays the same way. Inputs are drawn
uniformly from ``domain``; ``kinks`` and ``distinct`` keep them away from points where the
function is not differentiable, so that central differences are meaningful.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import deepgrad as dg

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, eq=False)
class Case:
    """One call of an op: the input shapes and keyword arguments (passed to op and ref alike)."""

    shapes: tuple
    kwargs: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        shapes = "-".join("x".join(map(str, s)) or "scalar" for s in self.shapes)
        extra = ",".join(f"{k}={_short(v)}" for k, v in self.kwargs.items())
        return shapes + (f"[{extra}]" if extra else "")


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def case(*shapes, **kwargs) -> Case:
    """``case((3, 4), (4,), dim=1)``: two inputs of shapes (3, 4) and (4,), called with dim=1."""
    return Case(tuple(tuple(s) for s in shapes), kwargs)


@dataclass
class OpSpec:
    """A table entry (see the module docstring).

    Attributes:
        name: unique name, used in test ids.
        op: the deepgrad callable, ``op(*tensors, **case.kwargs)``.
        ref: the NumPy reference, ``ref(*float64_arrays, **case.kwargs)``.
        cases: the shape cases (0-d, size-1 axes, broadcasting pairs, empty where it makes sense).
        domain: (low, high) for every input, or one (low, high) per input.
        covers: names of the ``Function`` subclasses the op runs (checked by a test).
        differentiable: run gradient checks.
        twice_differentiable: also run ``gradgradcheck``.
        kind: the input dtype kind, 'float', 'int' (integers in domain) or 'bool'.
        kinks: input values to stay at least 0.05 away from (abs and relu at 0, clamp bounds).
        distinct: draw all input values distinct and well separated (max/min ties).
        prepare: ``prepare(arrays, case) -> arrays`` adjusts the float64 inputs (e.g. put in zeros).
        grad_inputs: the inputs that require grad (default: every float input).
        rtol32, atol32: forward tolerance in float32 (float64 uses 1e-10 relative).
        gradcheck_kwargs: passed to gradcheck/gradgradcheck (eps, atol, rtol).
        devices: where the op can run ('cuda' runs only when CuPy and a GPU are present).
    """

    name: str
    op: Callable
    ref: Callable
    cases: Sequence[Case]
    domain: tuple = (-2.0, 2.0)
    covers: tuple = ()
    differentiable: bool = True
    twice_differentiable: bool = True
    kind: str = "float"
    kinks: tuple = ()
    distinct: bool = False
    prepare: Callable | None = None
    grad_inputs: tuple | None = None
    rtol32: float = 1e-5
    atol32: float = 1e-5
    gradcheck_kwargs: dict = field(default_factory=dict)
    devices: tuple = ("cpu", "cuda")

    def __post_init__(self):
        if self.kind not in ("float", "int", "bool"):
            raise ValueError(
                f"OpSpec {self.name}: kind must be 'float', 'int' or 'bool' (got {self.kind!r})"
            )
        if not self.differentiable:
            self.twice_differentiable = False

    def domain_of(self, i: int) -> tuple:
        return self.domain[i] if isinstance(self.domain[0], (tuple, list)) else self.domain

    def make_inputs(self, case: Case, seed: int = 0) -> list:
        """Float64 (or int64 / bool) NumPy inputs for one case, reproducible from the name and seed."""
        rng = np.random.default_rng([_stable_hash(self.name), seed])
        arrays = []
        for i, shape in enumerate(case.shapes):
            low, high = self.domain_of(i)
            if self.kind == "int":
                arrays.append(rng.integers(int(low), int(high), size=shape).astype(np.int64))
            elif self.kind == "bool":
                arrays.append(rng.random(shape) < 0.5)
            else:
                arrays.append(rng.uniform(low, high, size=shape))
        if self.kind == "float" and self.distinct:
            sizes = [a.size for a in arrays]
            low, high = self.domain_of(0)
            values = rng.permutation(np.linspace(low, high, max(sum(sizes), 1)))
            start = 0
            for i, a in enumerate(arrays):
                arrays[i] = values[start : start + a.size].reshape(a.shape)
                start += a.size
        if self.kind == "float":
            for k in self.kinks:
                for a in arrays:
                    near = np.abs(a - k) < 0.05
                    a[near] = k + np.where(a[near] >= k, 0.075, -0.075)
        if self.prepare is not None:
            arrays = list(self.prepare(arrays, case))
        return arrays


def _stable_hash(text: str) -> int:
    return int.from_bytes(text.encode()[:16].ljust(16, b"\0"), "little") % (2**63)


# -- NumPy references ------------------------------------------------------------------------
def _axes(dim):
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


def np_reduce(fn):
    """A NumPy reduction with PyTorch's argument names (dim, keepdim)."""

    def ref(a, dim=None, keepdim=False, **kwargs):
        return fn(a, axis=_axes(dim), keepdims=keepdim, **kwargs)

    return ref


def _np_logsumexp(a, dim=None, keepdim=False):
    """Shifted by a finite max: +inf for a +inf input, -inf when all are -inf or the dim is empty."""
    m = np.max(a, axis=_axes(dim), keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(a - m), axis=_axes(dim), keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=_axes(dim) if dim is not None else None)


def _np_norm(a, p="fro", dim=None, keepdim=False):
    p = 2 if p == "fro" else p
    axes = _axes(dim)
    if p == math.inf:
        return np.max(np.abs(a), axis=axes, keepdims=keepdim)
    if p == -math.inf:
        return np.min(np.abs(a), axis=axes, keepdims=keepdim)
    if p == 0:
        return np.sum(a != 0, axis=axes, keepdims=keepdim).astype(a.dtype)
    return np.sum(np.abs(a) ** p, axis=axes, keepdims=keepdim) ** (1.0 / p)


def _np_pad(a, pad, mode="constant", value=None):
    widths = [(0, 0)] * a.ndim
    for i in range(len(pad) // 2):
        widths[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    crop = tuple(slice(max(-lo, 0), a.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
    a = a[crop]
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        return np.pad(a, widths, mode="constant", constant_values=0 if value is None else value)
    return np.pad(
        a, widths, mode={"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    )


def _np_split(a, sections, dim=0):
    n = a.shape[dim]
    if isinstance(sections, int):
        bounds = list(range(sections, n, sections))
    else:
        bounds = list(np.cumsum(sections)[:-1])
    return tuple(np.split(a, bounds, axis=dim))


def _np_chunk(a, chunks, dim=0):
    return _np_split(a, -(-a.shape[dim] // chunks), dim)


def _np_scatter_add(a, src, dim, index):
    out = a.copy()
    grids = np.ix_(*[np.arange(n) for n in index.shape])
    np.add.at(
        out,
        tuple(index if i == dim else grids[i] for i in range(index.ndim)),
        src[tuple(slice(0, n) for n in index.shape)],
    )
    return out


def _np_squeeze(a, dim=None):
    if dim is None:
        return np.squeeze(a)
    return np.squeeze(a, axis=dim) if a.shape[dim] == 1 else a


def _np_flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return a.reshape(1)
    start, end = start_dim % a.ndim, end_dim % a.ndim
    return a.reshape(a.shape[:start] + (-1,) + a.shape[end + 1 :])


def _np_unflatten(a, dim, sizes):
    n = a.shape[dim]
    sizes = tuple(n // -int(np.prod(sizes)) if s == -1 else s for s in sizes)
    dim %= a.ndim
    return a.reshape(a.shape[:dim] + sizes + a.shape[dim + 1 :])


def _np_var(a, dim=None, correction=1, keepdim=False):
    return np.var(a, axis=_axes(dim), ddof=correction, keepdims=keepdim)


def _erf(a):
    import scipy.special

    return scipy.special.erf(a)


# -- deterministic index arguments (with repeats, so that backward must accumulate) ---------------
def along_index(shape, dim, size=None):
    """An int64 index for gather along ``dim`` (size ``size`` there, default the same), with repeats."""
    dim %= len(shape)
    out_shape = list(shape)
    if size is not None:
        out_shape[dim] = size
    total = int(np.prod(out_shape))
    return (np.arange(total) * 7 % shape[dim]).reshape(out_shape).astype(np.int64)


def _mask(shape, period=3):
    return (np.arange(int(np.prod(shape))).reshape(shape) % period) == 0


def _with_zeros(arrays, case):
    """Put exact zeros in: one in row 0, two in row 1 (prod's gradient needs both paths)."""
    (a,) = arrays
    flat = a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)
    if flat.shape[0] >= 1:
        flat[0, 0] = 0.0
    if flat.shape[0] >= 2 and flat.shape[1] >= 2:
        flat[1, 0] = flat[1, -1] = 0.0
    return [a]


def _nan_inf(arrays, case):
    """Make some elements nan and some inf (for isnan/isinf/isfinite)."""
    (a,) = arrays
    flat = a.reshape(-1)
    flat[::3] = np.nan
    flat[1::4] = np.inf
    flat[2::5] = -np.inf
    return [a]


# -- shape case sets -------------------------------------------------------------------------
UNARY = [case((3, 4)), case(()), case((2, 1, 3)), case((0, 3)), case((16, 12))]
BINARY = [
    case((3, 4), (3, 4)),
    case((2, 3, 1), (1, 4)),
    case((), (3,)),
    case((4, 1), ()),
    case((), ()),
    case((0, 3), (1, 3)),
]
REDUCE = [
    case((3, 4)),
    case((3, 4), dim=1),
    case((3, 4), dim=0, keepdim=True),
    case((2, 3, 4), dim=(0, 2)),
    case((2, 3, 4), dim=(-1, 1), keepdim=True),
    case((1, 5), dim=0),
    case(()),
    case((12, 16), dim=1),
]


def unary(name, op, ref, covers, cases=UNARY, **kw) -> OpSpec:
    return OpSpec(name, op, ref, cases, covers=tuple(covers), **kw)


INF = math.inf

OPS: list[OpSpec] = [
    # -- arithmetic (Python scalars, reflected forms, broadcasting) ----------------------------
    OpSpec("add", lambda a, b: a + b, np.add, BINARY, covers=("Add",)),
    OpSpec(
        "add_alpha",
        lambda a, b: dg.add(a, b, alpha=2.5),
        lambda a, b: a + 2.5 * b,
        BINARY,
        covers=("Add", "Mul"),
    ),
    OpSpec("sub", lambda a, b: a - b, np.subtract, BINARY, covers=("Sub",)),
    OpSpec(
        "sub_alpha",
        lambda a, b: dg.sub(a, b, alpha=-2),
        lambda a, b: a + 2 * b,
        BINARY[:3],
        covers=("Sub", "Mul"),
    ),
    OpSpec("mul", lambda a, b: a * b, np.multiply, BINARY, covers=("Mul",)),
    OpSpec(
        "div", lambda a, b: a / b, np.divide, BINARY, domain=((-2, 2), (0.5, 2)), covers=("Div",)
    ),
    OpSpec("neg", lambda a: -a, np.negative, UNARY, covers=("Neg",)),
    unary("scalar_radd", lambda a: 1.5 + a, lambda a: 1.5 + a, ("Add",)),
    unary("scalar_rsub", lambda a: 1.5 - a, lambda a: 1.5 - a, ("Sub",)),
    unary("scalar_rmul", lambda a: 3 * a, lambda a: 3 * a, ("Mul",)),
    unary("scalar_rdiv", lambda a: 2.0 / a, lambda a: 2.0 / a, ("Div",), domain=(0.5, 2)),
    unary("scalar_div", lambda a: a / 4, lambda a: a / 4, ("Div",)),
    unary("scalar_pow", lambda a: a**3, lambda a: a**3, ("Pow",)),
    unary("scalar_pow_half", lambda a: a**0.5, np.sqrt, ("Pow",), domain=(0.3, 2)),
    unary("scalar_rpow", lambda a: 2.0**a, lambda a: 2.0**a, ("Pow",)),
    unary(
        "scalar_rfloordiv",
        lambda a: 3.0 // a,
        lambda a: 3.0 // a,
        ("FloorDivide",),
        domain=(0.3, 2),
        differentiable=False,
    ),
    unary(
        "scalar_rmod",
        lambda a: 3.0 % a,
        lambda a: 3.0 % a,
        ("Remainder",),
        domain=(0.3, 2),
        differentiable=False,
    ),
    OpSpec("pow", lambda a, b: a**b, np.power, BINARY, domain=((0.3, 2), (-2, 2)), covers=("Pow",)),
    OpSpec(
        "floor_divide",
        lambda a, b: a // b,
        np.floor_divide,
        BINARY[:4],
        domain=((-3, 3), (0.5, 2)),
        covers=("FloorDivide",),
        differentiable=False,
    ),
    OpSpec(
        "remainder",
        lambda a, b: a % b,
        np.remainder,
        BINARY[:4],
        domain=((-3, 3), (0.5, 2)),
        covers=("Remainder",),
        differentiable=False,
    ),
    OpSpec(
        "floor_divide_int",
        lambda a, b: a // b,
        np.floor_divide,
        BINARY[:3],
        domain=((-9, 9), (1, 4)),
        kind="int",
        covers=("FloorDivide",),
        differentiable=False,
    ),
    # -- elementwise math ------------------------------------------------------------------------
    unary("exp", dg.exp, np.exp, ("Exp",)),
    unary("log", dg.log, np.log, ("Log",), domain=(0.2, 2)),
    unary("log1p", dg.log1p, np.log1p, ("Log1p",), domain=(-0.5, 2)),
    unary("expm1", dg.expm1, np.expm1, ("Expm1",)),
    unary("log2", dg.log2, np.log2, ("Log", "Mul"), domain=(0.2, 2)),
    unary("sqrt", dg.sqrt, np.sqrt, ("Sqrt",), domain=(0.2, 2)),
    unary("rsqrt", dg.rsqrt, lambda a: 1 / np.sqrt(a), ("Sqrt", "Div"), domain=(0.2, 2)),
    unary("sin", dg.sin, np.sin, ("Sin",)),
    unary("cos", dg.cos, np.cos, ("Cos",)),
    unary("tanh", dg.tanh, np.tanh, ("Tanh",)),
    unary("sigmoid", dg.sigmoid, lambda a: 1 / (1 + np.exp(-a)), ("Sigmoid",), domain=(-6, 6)),
    unary("relu", dg.relu, lambda a: np.maximum(a, 0), ("Relu",), kinks=(0.0,)),
    unary("abs", dg.abs, np.abs, ("Abs",), kinks=(0.0,)),
    unary("sign", dg.sign, np.sign, ("Sign",), differentiable=False),
    unary("reciprocal", dg.reciprocal, np.reciprocal, ("Div",), domain=(0.3, 2)),
    unary("square", dg.square, np.square, ("Mul",)),
    unary("erf", dg.erf, _erf, ("Erf",)),
    unary(
        "clamp",
        lambda a: dg.clamp(a, -0.5, 0.7),
        lambda a: np.clip(a, -0.5, 0.7),
        ("Clamp",),
        kinks=(-0.5, 0.7),
    ),
    unary(
        "clamp_min",
        lambda a: a.clamp(min=0.1),
        lambda a: np.maximum(a, 0.1),
        ("Clamp",),
        kinks=(0.1,),
    ),
    unary(
        "clip_max",
        lambda a: a.clip(max=0.1),
        lambda a: np.minimum(a, 0.1),
        ("Clamp",),
        kinks=(0.1,),
    ),
    OpSpec(
        "clamp_tensor_bounds",
        lambda a, lo, hi: dg.clamp(a, lo, hi),
        lambda a, lo, hi: np.minimum(np.maximum(a, lo), hi),
        [case((3, 4), (4,), (3, 1)), case((), (), ()), case((2, 3), (2, 3), (2, 3))],
        covers=("Compare", "Where"),
        distinct=True,
        domain=(-3, 3),
    ),
    OpSpec("maximum", dg.maximum, np.maximum, BINARY, covers=("Maximum",), distinct=True),
    OpSpec("minimum", dg.minimum, np.minimum, BINARY, covers=("Minimum",), distinct=True),
    OpSpec(
        "where",
        lambda c, a, b: dg.where(c > 0, a, b),
        lambda c, a, b: np.where(c > 0, a, b),
        [case((3, 4), (3, 4), (3, 4)), case((3, 1), (1, 4), ()), case((), (2,), (2,))],
        covers=("Where", "Compare"),
        grad_inputs=(1, 2),
        kinks=(0.0,),
    ),
    unary(
        "cast",
        lambda a: a.float().to(a.dtype),
        lambda a: a.astype(np.float32).astype(a.dtype),
        ("Cast",),
        rtol32=1e-6,
        gradcheck_kwargs={"eps": 1e-3, "atol": 1e-3, "rtol": 1e-3},
    ),
    unary("clone", lambda a: a.clone(), np.copy, ("Clone",)),
    unary(
        "to_device",
        lambda a: a.to("cuda").to("cpu") * 2,
        lambda a: a * 2,
        ("_ToDevice", "Mul"),
        devices=("cuda",),
    ),
    # -- comparisons and logical ops (bool results, no gradient) -------------------------------
    OpSpec(
        "eq",
        lambda a, b: a == b,
        np.equal,
        BINARY[:4],
        kind="int",
        domain=(0, 3),
        covers=("Compare",),
        differentiable=False,
    ),
    OpSpec(
        "ne",
        lambda a, b: a != b,
        np.not_equal,
        BINARY[:4],
        kind="int",
        domain=(0, 3),
        covers=("Compare",),
        differentiable=False,
    ),
    OpSpec("lt", lambda a, b: a < b, np.less, BINARY, covers=("Compare",), differentiable=False),
    OpSpec(
        "le", lambda a, b: a <= b, np.less_equal, BINARY, covers=("Compare",), differentiable=False
    ),
    OpSpec("gt", lambda a, b: a > b, np.greater, BINARY, covers=("Compare",), differentiable=False),
    OpSpec(
        "ge",
        lambda a, b: a >= b,
        np.greater_equal,
        BINARY,
        covers=("Compare",),
        differentiable=False,
    ),
    OpSpec(
        "ge_functional",
        dg.ge,
        np.greater_equal,
        BINARY[:4],
        kind="int",
        domain=(0, 3),
        covers=("Compare",),
        differentiable=False,
    ),
    OpSpec(
        "logical_and_numbers",
        dg.logical_and,
        np.logical_and,
        BINARY[:4],
        kind="int",
        domain=(0, 2),
        covers=("Compare",),
        differentiable=False,
    ),
    OpSpec(
        "gt_scalar",
        lambda a: a > 0.5,
        lambda a: a > 0.5,
        UNARY,
        covers=("Compare",),
        differentiable=False,
    ),
    OpSpec(
        "logical_and",
        lambda a, b: a & b,
        np.logical_and,
        BINARY,
        kind="bool",
        covers=("Compare",),
        differentiable=False,
    ),
    OpSpec(
        "logical_or",
        lambda a, b: a | b,
        np.logical_or,
        BINARY,
        kind="bool",
        covers=("Compare",),
        differentiable=False,
    ),
    OpSpec(
        "logical_xor",
        lambda a, b: a ^ b,
        np.logical_xor,
        BINARY,
        kind="bool",
        covers=("Compare",),
        differentiable=False,
    ),
    OpSpec(
        "logical_not",
        lambda a: ~a,
        np.logical_not,
        UNARY,
        kind="bool",
        covers=("LogicalNot",),
        differentiable=False,
    ),
    unary("isnan", dg.isnan, np.isnan, ("IsNan",), differentiable=False, prepare=_nan_inf),
    unary("isinf", dg.isinf, np.isinf, ("IsInf",), differentiable=False, prepare=_nan_inf),
    unary(
        "isfinite", dg.isfinite, np.isfinite, ("IsFinite",), differentiable=False, prepare=_nan_inf
    ),
    # -- reductions ------------------------------------------------------------------------------
    OpSpec("sum", dg.sum, np_reduce(np.sum), REDUCE + [case((0, 3), dim=0)], covers=("Sum",)),
    OpSpec("mean", dg.mean, np_reduce(np.mean), REDUCE, covers=("Sum", "Mul")),
    OpSpec("prod", dg.prod, np_reduce(np.prod), REDUCE, covers=("Prod",), domain=(0.5, 1.5)),
    OpSpec(
        "prod_with_zeros",
        dg.prod,
        np_reduce(np.prod),
        [
            case((3, 4), dim=1),
            case((3, 4), dim=1, keepdim=True),
            case((3, 4)),
            case((2, 3), dim=-1),
        ],
        covers=("Prod", "Compare", "Where", "Sum", "Mul", "Div"),
        prepare=_with_zeros,
        # The exact-with-zeros gradient is piecewise: its own derivative is not continuous at 0.
        twice_differentiable=False,
    ),
    OpSpec("amax", dg.amax, np_reduce(np.max), REDUCE, covers=("Amax",), distinct=True),
    OpSpec("amin", dg.amin, np_reduce(np.min), REDUCE, covers=("Amin",), distinct=True),
    OpSpec("max_global", lambda a: a.max(), np.max, UNARY[:3], covers=("Amax",), distinct=True),
    OpSpec("min_global", lambda a: dg.min(a), np.min, UNARY[:3], covers=("Amin",), distinct=True),
    OpSpec(
        "max_dim",
        lambda a, dim, keepdim=False: tuple(dg.max(a, dim, keepdim)),
        lambda a, dim, keepdim=False: (
            np.max(a, dim, keepdims=keepdim),
            np.argmax(a, dim, keepdims=keepdim),
        ),
        [
            case((3, 4), dim=1),
            case((3, 4), dim=0, keepdim=True),
            case((2, 3, 4), dim=-2),
            case((5,), dim=0),
        ],
        covers=("Index",),
        distinct=True,
    ),
    OpSpec(
        "min_dim",
        lambda a, dim, keepdim=False: tuple(a.min(dim, keepdim=keepdim)),
        lambda a, dim, keepdim=False: (
            np.min(a, dim, keepdims=keepdim),
            np.argmin(a, dim, keepdims=keepdim),
        ),
        [case((3, 4), dim=1), case((2, 3, 4), dim=0, keepdim=True)],
        covers=("Index",),
        distinct=True,
    ),
    OpSpec(
        "argmax",
        dg.argmax,
        lambda a, dim=None, keepdim=False: np.argmax(a, dim, keepdims=keepdim),
        [case((3, 4)), case((3, 4), dim=1), case((2, 3, 4), dim=0, keepdim=True)],
        differentiable=False,
        distinct=True,
    ),
    OpSpec(
        "argmin",
        lambda a, **kw: a.argmin(**kw),
        lambda a, dim=None, keepdim=False: np.argmin(a, dim, keepdims=keepdim),
        [case((3, 4)), case((3, 4), dim=-1, keepdim=True)],
        differentiable=False,
        distinct=True,
    ),
    OpSpec(
        "var",
        dg.var,
        _np_var,
        [
            case((3, 4)),
            case((3, 4), dim=1),
            case((2, 3, 4), dim=(0, 2), keepdim=True),
            case((5,), correction=0),
            case((3, 4), dim=0, correction=2),
        ],
        covers=("Sum", "Sub", "Mul"),
    ),
    OpSpec(
        "std",
        lambda a, **kw: a.std(**kw),
        lambda a, dim=None, correction=1, keepdim=False: np.sqrt(
            _np_var(a, dim, correction, keepdim)
        ),
        [case((3, 4)), case((3, 4), dim=1, keepdim=True), case((5,), correction=0)],
        covers=("Sum", "Sub", "Mul", "Sqrt"),
    ),
    OpSpec(
        "logsumexp",
        dg.logsumexp,
        _np_logsumexp,
        [c for c in REDUCE if c.kwargs or c.shapes != ((),)],
        covers=("Amax", "Exp", "Sum", "Log", "Add", "Sub", "Where", "IsFinite"),
    ),
    OpSpec(
        "norm_2",
        lambda a, **kw: a.norm(**kw),
        _np_norm,
        [
            case((3, 4)),
            case((3, 4), dim=1),
            case((2, 3, 4), dim=(1, 2), keepdim=True),
            case((5,), p="fro"),
            case(()),
        ],
        covers=("Mul", "Sum", "Compare", "Where", "Sqrt"),
    ),
    OpSpec(
        "norm_p",
        dg.norm,
        _np_norm,
        [
            case((3, 4), p=1),
            case((3, 4), p=1, dim=0),
            case((3, 4), p=3, dim=1),
            case((2, 3), p=0.5),
        ],
        covers=("Abs", "Sum", "Pow"),
        kinks=(0.0,),
    ),
    OpSpec(
        "norm_inf",
        dg.norm,
        _np_norm,
        [
            case((3, 4), p=INF),
            case((3, 4), p=INF, dim=1),
            case((3, 4), p=-INF, dim=0, keepdim=True),
        ],
        covers=("Abs", "Amax", "Amin"),
        distinct=True,
        kinks=(0.0,),
        domain=(-1.3, 2.1),
    ),
    OpSpec(
        "norm_0",
        dg.norm,
        _np_norm,
        [case((3, 4), p=0), case((3, 4), p=0, dim=1)],
        covers=("Compare", "Cast", "Sum"),
        prepare=lambda arrays, c: [np.where(arrays[0] > 0.5, 0.0, arrays[0])],
    ),
    OpSpec(
        "cumsum",
        dg.cumsum,
        lambda a, dim: np.cumsum(a, axis=dim).reshape(a.shape),
        [
            case((3, 4), dim=1),
            case((3, 4), dim=0),
            case((2, 3, 4), dim=-2),
            case((5,), dim=0),
            case((), dim=0),
        ],
        covers=("Cumsum", "Index", "Reshape"),
    ),
    OpSpec(
        "all",
        dg.all,
        np_reduce(np.all),
        REDUCE[:5],
        kind="bool",
        covers=("All",),
        differentiable=False,
    ),
    OpSpec(
        "any",
        lambda a, **kw: a.any(**kw),
        np_reduce(np.any),
        REDUCE[:5],
        kind="bool",
        covers=("Any",),
        differentiable=False,
    ),
    # -- shape -----------------------------------------------------------------------------------
    OpSpec(
        "reshape",
        lambda a, shape: a.reshape(shape),
        lambda a, shape: a.reshape(shape),
        [
            case((3, 4), shape=(2, 6)),
            case((3, 4), shape=(-1,)),
            case((), shape=(1, 1)),
            case((2, 3, 4), shape=(4, -1, 2)),
        ],
        covers=("Reshape",),
    ),
    OpSpec(
        "view",
        lambda a: a.view(4, 3),
        lambda a: a.reshape(4, 3),
        [case((3, 4))],
        covers=("Reshape",),
    ),
    OpSpec(
        "flatten",
        dg.flatten,
        _np_flatten,
        [
            case((2, 3, 4)),
            case((2, 3, 4), start_dim=1),
            case((2, 3, 4, 1), start_dim=1, end_dim=2),
            case(()),
        ],
        covers=("Reshape",),
    ),
    OpSpec(
        "unflatten",
        lambda a, dim, sizes: a.unflatten(dim, sizes),
        _np_unflatten,
        [case((3, 4), dim=1, sizes=(2, -1)), case((6, 2), dim=0, sizes=(2, 3))],
        covers=("Reshape",),
    ),
    OpSpec(
        "transpose",
        dg.transpose,
        lambda a, dim0, dim1: np.swapaxes(a, dim0, dim1),
        [case((3, 4), dim0=0, dim1=1), case((2, 3, 4), dim0=-1, dim1=0)],
        covers=("Permute",),
    ),
    OpSpec(
        "permute",
        lambda a, dims: a.permute(*dims),
        lambda a, dims: np.transpose(a, dims),
        [
            case((2, 3, 4), dims=(2, 0, 1)),
            case((2, 3), dims=(1, 0)),
            case((2, 1, 3), dims=(1, 2, 0)),
        ],
        covers=("Permute",),
    ),
    OpSpec("T", lambda a: a.T, lambda a: a.T, [case((3, 4)), case((2, 3, 4))], covers=("Permute",)),
    OpSpec(
        "mT",
        lambda a: a.mT,
        lambda a: np.swapaxes(a, -1, -2),
        [case((3, 4)), case((2, 3, 4))],
        covers=("Permute",),
    ),
    OpSpec("t", lambda a: a.t(), lambda a: a.T, [case((3, 4)), case((5,))], covers=("Permute",)),
    OpSpec(
        "squeeze",
        dg.squeeze,
        _np_squeeze,
        [case((2, 1, 3, 1)), case((2, 1, 3), dim=1), case((2, 1, 3), dim=0), case((1,))],
        covers=("Reshape",),
    ),
    OpSpec(
        "unsqueeze",
        dg.unsqueeze,
        lambda a, dim: np.expand_dims(a, dim),
        [case((2, 3), dim=0), case((2, 3), dim=-1), case((), dim=0)],
        covers=("Reshape",),
    ),
    OpSpec(
        "expand",
        lambda a, size: a.expand(*size),
        lambda a, size: np.broadcast_to(
            a, tuple(a.shape[i - len(size) + a.ndim] if s == -1 else s for i, s in enumerate(size))
        ),
        [case((3, 1), size=(3, 4)), case((1, 4), size=(2, 3, -1)), case((), size=(2, 2))],
        covers=("Expand",),
    ),
    OpSpec(
        "broadcast_to",
        dg.broadcast_to,
        lambda a, size: np.broadcast_to(a, size),
        [case((3, 1), size=(2, 3, 4))],
        covers=("Expand",),
    ),
    OpSpec(
        "expand_as",
        lambda a, b: a.expand_as(b),
        lambda a, b: np.broadcast_to(a, b.shape),
        [case((3, 1), (3, 4))],
        covers=("Expand",),
        grad_inputs=(0,),
    ),
    OpSpec(
        "repeat",
        lambda a, sizes: a.repeat(*sizes),
        lambda a, sizes: np.tile(a, sizes),
        [
            case((2, 3), sizes=(2, 1)),
            case((2, 3), sizes=(2, 1, 3)),
            case((), sizes=(3,)),
            case((2,), sizes=(0,)),
        ],
        covers=("Reshape", "Expand"),
    ),
    OpSpec(
        "tile",
        dg.tile,
        lambda a, dims: np.tile(a, dims),
        [case((2, 3), dims=(2,)), case((2, 3), dims=(2, 1, 2))],
        covers=("Reshape", "Expand"),
    ),
    OpSpec(
        "cat",
        lambda *ts, dim=0: dg.cat(ts, dim),
        lambda *arrays, dim=0: np.concatenate(arrays, axis=dim),
        [case((2, 3), (1, 3)), case((2, 3), (2, 1), (2, 2), dim=1), case((2, 0), (2, 3), dim=-1)],
        covers=("Cat",),
    ),
    OpSpec(
        "stack",
        lambda *ts, dim=0: dg.stack(ts, dim),
        lambda *arrays, dim=0: np.stack(arrays, axis=dim),
        [case((2, 3), (2, 3)), case((2, 3), (2, 3), (2, 3), dim=2), case((), (), dim=0)],
        covers=("Cat", "Reshape"),
    ),
    OpSpec(
        "split",
        lambda a, sections, dim=0: dg.split(a, sections, dim),
        _np_split,
        [case((5, 3), sections=2), case((5, 3), sections=[1, 2], dim=1), case((4, 3), sections=4)],
        covers=("Index",),
    ),
    OpSpec(
        "chunk",
        lambda a, chunks, dim=0: a.chunk(chunks, dim),
        _np_chunk,
        [case((5, 3), chunks=3), case((2, 8), chunks=4, dim=1), case((2, 2), chunks=3, dim=1)],
        covers=("Index",),
    ),
    OpSpec(
        "unbind",
        lambda a, dim=0: dg.unbind(a, dim),
        lambda a, dim=0: tuple(np.moveaxis(a, dim, 0)),
        [case((3, 2)), case((2, 3, 2), dim=1), case((2, 1), dim=-1)],
        covers=("Index",),
    ),
    OpSpec(
        "pad_constant",
        dg.pad,
        _np_pad,
        [
            case((3, 4), pad=(1, 2)),
            case((2, 3, 4), pad=(1, 0, 2, 1)),
            case((3, 4), pad=(1, 1), value=2.5),
            case((3, 4), pad=(-1, 2, 0, -1)),
            case((4,), pad=(0, 0)),
        ],
        covers=("IndexPutAdd", "Add", "Index"),
    ),
    OpSpec(
        "pad_reflect",
        lambda a, **kw: dg.pad(a, mode="reflect", **kw),
        lambda a, **kw: _np_pad(a, mode="reflect", **kw),
        [case((3, 4), pad=(2, 3)), case((2, 3, 4), pad=(1, 2, 2, 1)), case((2, 5), pad=(4, 4))],
        covers=("Index",),
    ),
    OpSpec(
        "pad_replicate",
        lambda a, **kw: dg.pad(a, mode="replicate", **kw),
        lambda a, **kw: _np_pad(a, mode="replicate", **kw),
        [
            case((3, 4), pad=(2, 5)),
            case((2, 3, 4), pad=(1, 0, 3, 1)),
            case((1, 1), pad=(2, 2, 2, 2)),
        ],
        covers=("Index",),
    ),
    OpSpec(
        "pad_circular",
        lambda a, **kw: dg.pad(a, mode="circular", **kw),
        lambda a, **kw: _np_pad(a, mode="circular", **kw),
        [case((3, 4), pad=(2, 4, 1, 0))],
        covers=("Index",),
    ),
    OpSpec(
        "flip",
        dg.flip,
        lambda a, dims: np.flip(a, dims),
        [case((3, 4), dims=(0,)), case((2, 3, 4), dims=(0, 2)), case((3, 4), dims=-1)],
        covers=("Index",),
    ),
    OpSpec(
        "roll",
        dg.roll,
        lambda a, shifts, dims=None: np.roll(a, shifts, dims),
        [
            case((3, 4), shifts=1, dims=1),
            case((3, 4), shifts=(2, -5), dims=(0, 1)),
            case((3, 4), shifts=5),
            case((3, 4), shifts=0, dims=0),
        ],
        covers=("Cat", "Index", "Reshape"),
    ),
    OpSpec(
        "movedim",
        dg.movedim,
        lambda a, source, destination: np.moveaxis(a, source, destination),
        [
            case((2, 3, 4), source=0, destination=-1),
            case((2, 3, 4, 5), source=(0, 1), destination=(3, 0)),
        ],
        covers=("Permute",),
    ),
    OpSpec(
        "tril",
        dg.tril,
        lambda a, diagonal=0: np.tril(a, diagonal),
        [case((3, 4)), case((2, 4, 3), diagonal=-1)],
        covers=("Where",),
    ),
    OpSpec(
        "triu",
        lambda a, **kw: a.triu(**kw),
        lambda a, diagonal=0: np.triu(a, diagonal),
        [case((3, 4), diagonal=1), case((4, 4))],
        covers=("Where",),
    ),
    # -- indexing --------------------------------------------------------------------------------
    OpSpec(
        "getitem_basic",
        lambda a, index: a[index],
        lambda a, index: a[index],
        [
            case((4, 5), index=(1, slice(None, None, 2))),
            case((4, 5), index=(slice(3, 0, -2), None, Ellipsis)),
            case((2, 3, 4), index=(Ellipsis, 1)),
            case((4, 5), index=(-1,)),
            case((4,), index=(slice(None),)),
        ],
        covers=("Index", "IndexPutAdd"),
    ),
    OpSpec(
        "getitem_mask",
        lambda a, index: a[dg.tensor(index, device=a.device)],
        lambda a, index: a[index],
        [case((3, 4), index=_mask((3, 4))), case((3, 4), index=_mask((3,), 2))],
        covers=("Index", "IndexPutAdd"),
    ),
    OpSpec(
        "getitem_int_array",
        lambda a, index: a[index],
        lambda a, index: a[index],
        [
            case((4, 3), index=np.array([0, 2, 0, 3, 0])),
            case((4, 3), index=(np.array([1, 1]), slice(None), None)),
            case((4, 3), index=(np.array([[0, 3], [3, 3]]), np.array([2, 2]))),
            case((4, 3), index=[1, 1, 2]),
        ],
        covers=("Index", "IndexPutAdd"),
    ),
    OpSpec(
        "gather",
        lambda a, dim, index: dg.gather(a, dim, dg.tensor(index, device=a.device)),
        lambda a, dim, index: np.take_along_axis(a, index, dim),
        [
            case((3, 4), dim=1, index=along_index((3, 4), 1, 6)),
            case((3, 4), dim=0, index=along_index((3, 4), 0, 2)),
            case((2, 3, 4), dim=-1, index=along_index((2, 3, 4), -1)),
        ],
        covers=("Index", "IndexPutAdd"),
    ),
    OpSpec(
        "take_along_dim",
        lambda a, index, dim=None: dg.take_along_dim(a, dg.tensor(index, device=a.device), dim),
        lambda a, index, dim=None: np.take_along_axis(
            a.reshape(-1) if dim is None else a,
            index.reshape(-1) if dim is None else index,
            0 if dim is None else dim,
        ),
        [
            case((3, 4), index=along_index((3, 4), 1, 2), dim=1),
            case((3, 4), index=np.array([[0], [3], [3]]), dim=1),
            case((3, 4), index=np.array([5, 0, 5])),
        ],
        covers=("Index", "IndexPutAdd"),
    ),
    OpSpec(
        "scatter_add",
        lambda a, src, dim, index: a.scatter_add(dim, dg.tensor(index, device=a.device), src),
        lambda a, src, dim, index: _np_scatter_add(a, src, dim, index),
        [
            case((3, 4), (3, 6), dim=1, index=along_index((3, 4), 1, 6)),
            case((3, 4), (2, 4), dim=0, index=along_index((3, 4), 0, 2)),
            case((3, 4), (3, 4), dim=1, index=along_index((3, 4), 1, 2)),
        ],
        covers=("IndexPutAdd", "Index", "Add"),
    ),
    OpSpec(
        "index_select",
        lambda a, dim, index: dg.index_select(a, dim, dg.tensor(index, device=a.device)),
        lambda a, dim, index: np.take(a, index, axis=dim),
        [
            case((4, 3), dim=0, index=np.array([3, 0, 3])),
            case((2, 3, 4), dim=-1, index=np.array([1, 1, 1, 0, 2])),
        ],
        covers=("Index", "IndexPutAdd"),
    ),
    OpSpec(
        "tensor_where",
        lambda a, b: a.where(a > 0, b),
        lambda a, b: np.where(a > 0, a, b),
        [case((3, 4), (3, 4)), case((3, 4), ())],
        covers=("Where", "Compare"),
        kinks=(0.0,),
    ),
    OpSpec(
        "masked_fill",
        lambda a, mask, value: a.masked_fill(dg.tensor(mask, device=a.device), value),
        lambda a, mask, value: np.where(mask, value, a),
        [
            case((3, 4), mask=_mask((3, 4)), value=0.5),
            case((3, 4), mask=_mask((4,), 2), value=-1.0),
            case((), mask=np.array(True), value=2.0),
        ],
        covers=("Where",),
    ),
    OpSpec(
        "one_hot",
        lambda a, **kw: dg.one_hot(a, **kw),
        lambda a, num_classes=-1: np.eye(
            num_classes if num_classes > 0 else a.max() + 1, dtype=np.int64
        )[a],
        [case((5,), num_classes=6), case((2, 3)), case((), num_classes=4)],
        kind="int",
        domain=(0, 4),
        covers=("Compare",),
        differentiable=False,
    ),
    # -- linear algebra --------------------------------------------------------------------------
    OpSpec(
        "matmul",
        lambda a, b: a @ b,
        np.matmul,
        [
            case((3, 4), (4, 2)),
            case((4,), (4,)),
            case((4,), (4, 3)),
            case((3, 4), (4,)),
            case((2, 3, 4), (4, 5)),
            case((3, 4), (2, 4, 5)),
            case((1, 3, 4), (2, 4, 2)),
            case((4,), (2, 4, 3)),
            case((2, 1, 3, 4), (4,)),
            case((16, 24), (24, 8)),
        ],
        covers=("MatMul", "Mul", "Sum", "Reshape"),
    ),
    OpSpec("mm", lambda a, b: a.mm(b), np.matmul, [case((3, 4), (4, 2))], covers=("MatMul",)),
    OpSpec("bmm", dg.bmm, np.matmul, [case((2, 3, 4), (2, 4, 5))], covers=("MatMul",)),
    OpSpec(
        "einsum",
        lambda *ts, eq: dg.einsum(eq, *ts),
        lambda *arrays, eq: np.einsum(eq, *arrays),
        [
            case((3, 4), (4, 5), eq="ij,jk->ik"),
            case((2, 3, 4), (2, 4, 5), eq="bij,bjk->bik"),
            case((2, 3, 4), (2, 5, 4), eq="...id,...jd->...ij"),
            case((3, 3), eq="ii->i"),
            case((3, 3), eq="ii"),
            case((3, 4), eq="ij->"),
            case((3, 4), eq="ij->ji"),
            case((3,), (4,), eq="i,j->ij"),
            case((3,), (3,), eq="i,i"),
            case((2, 3), (3, 4), (4,), eq="ij,jk,k->i"),
            case((1, 3, 4), (2, 4, 2), eq="bij,bjk->bik"),
            case((2, 3, 2), eq="iji->j"),
            case((2, 3), (3,), eq="ij,j"),
        ],
        covers=("Einsum",),
    ),
]


def _verify_local_names() -> None:
    names = [s.name for s in OPS]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"op_db: duplicate entry names {sorted(duplicates)}")


_verify_local_names()


def extension_modules() -> list[str]:
    """The names of the ``op_db_*.py`` modules next to this file (contributed entries)."""
    return sorted(p.stem for p in HERE.glob("op_db_*.py"))


def all_specs() -> list[OpSpec]:
    """This file's entries plus those of every ``op_db_*.py`` module in this directory."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    specs = list(OPS)
    for name in extension_modules():
        module = importlib.import_module(name)
        extra = getattr(module, "OPS", None)
        if extra is None:
            raise AttributeError(f"op_db: {name}.py defines no OPS list")
        specs.extend(extra)
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"op_db: duplicate entry names across op_db modules: {duplicates}")
    return specs
