"""Elementwise primitives: arithmetic and the unary math functions.

Binary primitives see inputs that NumPy broadcasting can combine; the backward
engine sums each gradient back to its input's shape, so no primitive
un-broadcasts by hand. Python scalars become 0-d tensors of the other
operand's dtype at dispatch (``binary``), so ``x * 0.5`` keeps float32.
"""

from __future__ import annotations

import math

import numpy as np

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, ShapeError, cuda_kernels
from deepgrad.backend import erf as _erf
from deepgrad.ops.creation import scalar_like, tensor

_ndarray = np.ndarray


def binary(name: str, a, b) -> tuple[Tensor, Tensor]:
    """Turn the operands of a binary op into two compatible tensors, or raise a clear error."""
    if type(a) is Tensor and type(b) is Tensor:
        da, db = a._data, b._data
        if da.shape == db.shape and type(da) is type(db) and da.dtype == db.dtype:
            return a, b  # the common case, checked first: every op pays for this function
    if type(a) is not Tensor and not isinstance(a, Tensor):
        if isinstance(b, Tensor) and isinstance(a, (int, float, bool)):
            a = scalar_like(a, b)
        else:
            a = tensor(a, device=b.device if isinstance(b, Tensor) else None)
    if type(b) is not Tensor and not isinstance(b, Tensor):
        if isinstance(b, (int, float, bool)):
            b = scalar_like(b, a)
        else:
            b = tensor(b, device=a.device)
    if a._data.dtype is not b._data.dtype and a._data.dtype != b._data.dtype:
        a, b = promote(a, b)
    if type(a._data) is not type(b._data):
        raise DeviceError(
            f"{name}: tensors are on different devices ({a.device} and {b.device}); move one with .to(device) first."
        )
    if a._data.shape != b._data.shape and a._data.ndim and b._data.ndim:
        try:
            np.broadcast_shapes(a._data.shape, b._data.shape)
        except ValueError:
            raise ShapeError(
                f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together; "
                "sizes must match or be 1 in every trailing dimension."
            ) from None
    return a, b


def promote(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Cast two tensors of different dtypes to a common one, as PyTorch does.

    A floating-point operand wins over integers and bools (int64 + float32 -> float32, where NumPy
    would give float64); otherwise the wider type wins. Casts are differentiable (``Cast``).
    """
    float_a, float_b = a._data.dtype.kind in "fV", b._data.dtype.kind in "fV"
    if float_a and not float_b:
        return a, to_dtype(b, a._data.dtype)
    if float_b and not float_a:
        return to_dtype(a, b._data.dtype), b
    common = np.result_type(a._data.dtype, b._data.dtype)
    return to_dtype(a, common), to_dtype(b, common)


def _grad(xp, array) -> Tensor:
    """A gradient computed on arrays, as a Tensor outside the graph.

    The common primitives compute their ordinary backward (graph recording off) on the arrays,
    with the same operations in the same order as their Tensor formula, which they keep for
    ``create_graph=True``: a backward step then costs one NumPy call per operation instead of a
    primitive each (docs/performance.md, note 11). NumPy turns 0-d results into scalars.
    """
    if type(array) is not _ndarray and xp is np:
        array = np.asarray(array)
    t = _new(Tensor)  # Tensor._make, inlined
    t._data = array
    t.grad_fn = None
    t._requires_grad = False
    return t


def _one(xp, dtype):
    """1 as a read-only 0-d NumPy array of ``dtype`` where one is kept, else the Python float:
    NumPy combines a Python float with an array ~1.7x slower than a 0-d array of the same dtype
    (the result is the same)."""
    return _ONES.get(dtype, 1.0) if xp is np else 1.0


_ONES = {np.dtype(name): np.ones((), name) for name in ("float16", "float32", "float64")}
for _array in _ONES.values():
    _array.flags.writeable = False


_new = object.__new__


# -- arithmetic ------------------------------------------------------------------------------
class Add(Function):
    """y = a + b.   da = dy, db = dy"""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, dy):
        return dy, dy


class Sub(Function):
    """y = a - b.   da = dy, db = -dy"""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, dy):
        if not ctx.needs_input_grad[1]:
            return dy, None
        return dy, (-dy if GradMode.enabled else _grad(ctx.xp, -dy._data))


class Mul(Function):
    """y = a * b.   da = dy * b, db = dy * a"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1)
        return a * b

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved_inputs
        need_a, need_b = ctx.needs_input_grad
        if GradMode.enabled:  # recording the backward (create_graph=True): differentiable ops
            return (dy * b if need_a else None), (dy * a if need_b else None)
        g, xp = dy._data, ctx.xp
        return (_grad(xp, g * b._data) if need_a else None), (
            _grad(xp, g * a._data) if need_b else None
        )


class Div(Function):
    """y = a / b.   da = dy / b, db = -dy * a / b^2"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1)
        return a / b

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved_inputs
        need_a, need_b = ctx.needs_input_grad
        if GradMode.enabled:
            return (dy / b if need_a else None), (-dy * a / (b * b) if need_b else None)
        g, xp, ad, bd = dy._data, ctx.xp, a._data, b._data
        return (_grad(xp, g / bd) if need_a else None), (
            _grad(xp, -g * ad / (bd * bd)) if need_b else None
        )


class Neg(Function):
    """y = -x.   dx = -dy"""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, dy):
        return -dy if GradMode.enabled else _grad(ctx.xp, -dy._data)


class Pow(Function):
    """y = a ** b.   da = dy * b * a^(b-1), db = dy * y * log(a)"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1)
        ctx.save_outputs()
        return a**b

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved_inputs
        need_a, need_b = ctx.needs_input_grad
        da = dy * b * a ** (b - 1) if need_a else None
        if need_b:
            (y,) = ctx.saved_outputs
            # log(a) is -inf/nan at a <= 0; where a == 0 and b > 0, y == 0 and PyTorch gives 0.
            db = dy * y * where(a > 0, a, 1.0).log()
        else:
            db = None
        return da, db


class Maximum(Function):
    """y = max(a, b).   da = dy * [a > b] + dy/2 * [a == b], db likewise (ties split evenly)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1)
        return ctx.xp.maximum(a, b)

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved_inputs
        weight_a = (a > b).to(dy.dtype) + (a == b).to(dy.dtype) * 0.5
        return dy * weight_a, dy * (1.0 - weight_a)


class Minimum(Function):
    """y = min(a, b).   da = dy * [a < b] + dy/2 * [a == b], db likewise (ties split evenly)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved_inputs
        weight_a = (a < b).to(dy.dtype) + (a == b).to(dy.dtype) * 0.5
        return dy * weight_a, dy * (1.0 - weight_a)


class Where(Function):
    """y = a where cond else b.   da = dy * cond, db = dy * (1 - cond); cond gets none."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_inputs(0)
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, dy):
        (cond,) = ctx.saved_inputs
        _, need_a, need_b = ctx.needs_input_grad
        zero = scalar_like(0, dy)
        return (
            None,
            where(cond, dy, zero) if need_a else None,
            where(cond, zero, dy) if need_b else None,
        )


# -- unary math ------------------------------------------------------------------------------
class Exp(Function):
    """y = exp(x).   dx = dy * y"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs()
        return ctx.xp.exp(x)

    @staticmethod
    def backward(ctx, dy):
        if GradMode.enabled:
            return dy * ctx.saved_outputs[0]
        return _grad(ctx.xp, dy._data * ctx.saved_output_array)


class Log(Function):
    """y = log(x).   dx = dy / x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return ctx.xp.log(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        return dy / x if GradMode.enabled else _grad(ctx.xp, dy._data / x._data)


class Log1p(Function):
    """y = log(1 + x).   dx = dy / (1 + x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return ctx.xp.log1p(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        return dy / (x + 1.0)


class Expm1(Function):
    """y = exp(x) - 1.   dx = dy * (y + 1)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs()
        return ctx.xp.expm1(x)

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_outputs
        return dy * (y + 1.0)


class Sqrt(Function):
    """y = sqrt(x).   dx = dy / (2 y)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs()
        return ctx.xp.sqrt(x)

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_outputs
        return dy / (y * 2.0)


class Sin(Function):
    """y = sin(x).   dx = dy * cos(x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return ctx.xp.sin(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        return dy * x.cos()


class Cos(Function):
    """y = cos(x).   dx = -dy * sin(x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return ctx.xp.cos(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        return -dy * x.sin()


class Tanh(Function):
    """y = tanh(x).   dx = dy * (1 - y^2)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs()
        return ctx.xp.tanh(x)

    @staticmethod
    def backward(ctx, dy):
        if GradMode.enabled:
            (y,) = ctx.saved_outputs
            return dy * (1.0 - y * y)
        yd, xp = ctx.saved_output_array, ctx.xp
        return _grad(xp, dy._data * (_one(xp, yd.dtype) - yd * yd))


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)).   dx = dy * y * (1 - y)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs()
        # NumPy: 0.5 * tanh(0.5 x) + 0.5, which never overflows and is ~3x faster than 1 / (1 + exp(-x))
        # (docs/performance.md, note 6); CUDA: one fused kernel (deepgrad/backend/cuda_kernels.py).
        return cuda_kernels.sigmoid(ctx.xp, x)

    @staticmethod
    def backward(ctx, dy):
        if GradMode.enabled:
            (y,) = ctx.saved_outputs
            return dy * (y * (1.0 - y))
        yd, xp = ctx.saved_output_array, ctx.xp
        return _grad(xp, dy._data * (yd * (_one(xp, yd.dtype) - yd)))


class Relu(Function):
    """y = max(x, 0).   dx = dy * [y > 0]  (the subgradient at 0 is taken as 0, like PyTorch)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs()
        return ctx.xp.maximum(x, 0)

    @staticmethod
    def backward(ctx, dy):
        if GradMode.enabled:  # recording the backward (create_graph=True): differentiable ops
            (y,) = ctx.saved_outputs
            return dy * (y > 0)
        array = cuda_kernels.relu_backward(ctx.xp, dy._data, ctx.saved_output_array)
        return Tensor._make(array, None)


class Abs(Function):
    """y = |x|.   dx = dy * sign(x)  (0 at x = 0)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return ctx.xp.abs(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        return dy * x.sign()


class Erf(Function):
    """y = erf(x).   dx = dy * 2/sqrt(pi) * exp(-x^2)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return _erf(ctx.xp)(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        return dy * (-(x * x)).exp() * (2.0 / math.sqrt(math.pi))


class Clamp(Function):
    """y = min(max(x, low), high).   dx = dy * [low <= x <= high]"""

    @staticmethod
    def forward(ctx, x, low=None, high=None):
        ctx.save_inputs(0)
        ctx.low, ctx.high = low, high
        return ctx.xp.clip(x, low, high)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        inside = None
        if ctx.low is not None:
            inside = x >= ctx.low
        if ctx.high is not None:
            inside = (x <= ctx.high) if inside is None else inside & (x <= ctx.high)
        return dy if inside is None else dy * inside


class Cast(Function):
    """y = x converted to another dtype.   dx = dy converted back (no gradient to integer inputs)."""

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, dy):
        return dy.to(ctx.in_dtype)


# -- non-differentiable elementwise ops (no graph, bool or integer results) -----------------
class _NoGrad(Function):
    differentiable = False

    @staticmethod
    def backward(ctx, dy):  # pragma: no cover - never called
        raise RuntimeError(f"internal: {ctx.fn.__name__} has no gradient")


class Compare(_NoGrad):
    """y = a <op> b for op in ==, !=, <, <=, >, >=, and, or, xor.   (no gradient)"""

    @staticmethod
    def forward(ctx, a, b, op):
        return _COMPARE[op](a, b)


class Sign(_NoGrad):
    """y = sign(x).   (zero gradient almost everywhere; recorded as no gradient)"""

    @staticmethod
    def forward(ctx, x):
        return ctx.xp.sign(x)


class FloorDivide(_NoGrad):
    """y = floor(a / b).   (no gradient, like PyTorch)"""

    @staticmethod
    def forward(ctx, a, b):
        return a // b


class Remainder(_NoGrad):
    """y = a mod b (sign of b, like Python and PyTorch).   (no gradient recorded)"""

    @staticmethod
    def forward(ctx, a, b):
        return a % b


class LogicalNot(_NoGrad):
    """y = not x."""

    @staticmethod
    def forward(ctx, x):
        return ctx.xp.logical_not(x)


class IsNan(_NoGrad):
    """y = isnan(x)."""

    @staticmethod
    def forward(ctx, x):
        return ctx.xp.isnan(x)


class IsInf(_NoGrad):
    """y = isinf(x)."""

    @staticmethod
    def forward(ctx, x):
        return ctx.xp.isinf(x)


class IsFinite(_NoGrad):
    """y = isfinite(x)."""

    @staticmethod
    def forward(ctx, x):
        return ctx.xp.isfinite(x)


_COMPARE = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
}


# -- functionals -----------------------------------------------------------------------------
def add(input, other, alpha=1) -> Tensor:
    """input + alpha * other."""
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(*binary("add", input, other))


def sub(input, other, alpha=1) -> Tensor:
    """input - alpha * other."""
    if alpha != 1:
        other = mul(other, alpha)
    return Sub.apply(*binary("sub", input, other))


def mul(a, b) -> Tensor:
    """y = a * b, elementwise with broadcasting (a Python number counts as a 0-d tensor).   da = dy * b, db = dy * a"""
    return Mul.apply(*binary("mul", a, b))


def div(a, b) -> Tensor:
    """True division; integer operands give a float32 result, like PyTorch."""
    a, b = binary("div", a, b)
    if a._data.dtype.kind not in "fV":
        a, b = to_dtype(a, np.dtype("float32")), to_dtype(b, np.dtype("float32"))
    return Div.apply(a, b)


def pow(a, b) -> Tensor:
    """y = a ** b, elementwise with broadcasting.   da = dy * b * a^(b-1), db = dy * y * ln(a)"""
    return Pow.apply(*binary("pow", a, b))


def maximum(a, b) -> Tensor:
    """y = max(a, b), elementwise with broadcasting; a nan in either input gives nan."""
    return Maximum.apply(*binary("maximum", a, b))


def minimum(a, b) -> Tensor:
    """y = min(a, b), elementwise with broadcasting; a nan in either input gives nan."""
    return Minimum.apply(*binary("minimum", a, b))


def floor_divide(a, b) -> Tensor:
    """y = floor(a / b), elementwise with broadcasting (PyTorch's floor rounding; no gradient)."""
    return FloorDivide.apply(*binary("floor_divide", a, b))


def remainder(a, b) -> Tensor:
    """y = a - floor(a / b) * b, elementwise with broadcasting: the sign follows b, as in Python."""
    return Remainder.apply(*binary("remainder", a, b))


def where(cond, a, b) -> Tensor:
    """Elements of ``a`` where ``cond`` is true, else of ``b`` (all three broadcast)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = tensor(a, device=cond.device if isinstance(cond, Tensor) else None)
    a, b = binary("where", a, b)
    if not isinstance(cond, Tensor):
        cond = tensor(cond, dtype=bool, device=a.device)
    elif type(cond._data) is not type(a._data):
        raise DeviceError(
            f"where: cond is on {cond.device} but the values are on {a.device}; "
            f"move cond with cond.to('{a.device}') first."
        )
    if cond._data.dtype != np.bool_:
        cond = cond.to(bool)
    if cond.shape != a.shape or cond.shape != b.shape:
        try:
            np.broadcast_shapes(cond.shape, a.shape, b.shape)
        except ValueError:
            raise ShapeError(
                f"where: shapes cond={cond.shape}, a={a.shape}, b={b.shape} cannot be broadcast together"
            ) from None
    return Where.apply(cond, a, b)


def compare(op: str, a, b) -> Tensor:
    return Compare.apply(*binary(op, a, b), op=op)


def eq(input, other) -> Tensor:
    """input == other, elementwise (bool)."""
    return Compare.apply(*binary("eq", input, other), op="eq")


def ne(input, other) -> Tensor:
    """input != other, elementwise (bool)."""
    return Compare.apply(*binary("ne", input, other), op="ne")


def lt(input, other) -> Tensor:
    """input < other, elementwise (bool)."""
    return Compare.apply(*binary("lt", input, other), op="lt")


def le(input, other) -> Tensor:
    """input <= other, elementwise (bool)."""
    return Compare.apply(*binary("le", input, other), op="le")


def gt(input, other) -> Tensor:
    """input > other, elementwise (bool)."""
    return Compare.apply(*binary("gt", input, other), op="gt")


def ge(input, other) -> Tensor:
    """input >= other, elementwise (bool)."""
    return Compare.apply(*binary("ge", input, other), op="ge")


def logical_and(input, other) -> Tensor:
    """input and other, elementwise (bool; nonzero counts as true)."""
    return Compare.apply(*(t.bool() for t in binary("logical_and", input, other)), op="and")


def logical_or(input, other) -> Tensor:
    """input or other, elementwise (bool; nonzero counts as true)."""
    return Compare.apply(*(t.bool() for t in binary("logical_or", input, other)), op="or")


def logical_xor(input, other) -> Tensor:
    """input xor other, elementwise (bool; nonzero counts as true)."""
    return Compare.apply(*(t.bool() for t in binary("logical_xor", input, other)), op="xor")


def neg(x: Tensor) -> Tensor:
    """y = -x, elementwise."""
    return Neg.apply(x)


def exp(x: Tensor) -> Tensor:
    """y = e^x, elementwise.   dx = dy * y"""
    return Exp.apply(x)


def log(x: Tensor) -> Tensor:
    """y = ln(x), elementwise (natural logarithm; -inf at 0, nan below).   dx = dy / x"""
    return Log.apply(x)


def log1p(x: Tensor) -> Tensor:
    """y = ln(1 + x), elementwise, accurate for small x.   dx = dy / (1 + x)"""
    return Log1p.apply(x)


def expm1(x: Tensor) -> Tensor:
    """y = e^x - 1, elementwise, accurate for small x.   dx = dy * (y + 1)"""
    return Expm1.apply(x)


def sqrt(x: Tensor) -> Tensor:
    """y = sqrt(x), elementwise.   dx = dy / (2 y)"""
    return Sqrt.apply(x)


def sin(x: Tensor) -> Tensor:
    """y = sin(x), elementwise.   dx = dy * cos(x)"""
    return Sin.apply(x)


def cos(x: Tensor) -> Tensor:
    """y = cos(x), elementwise.   dx = -dy * sin(x)"""
    return Cos.apply(x)


def tanh(x: Tensor) -> Tensor:
    """y = tanh(x), elementwise.   dx = dy * (1 - y^2)"""
    return Tanh.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    """y = 1 / (1 + e^-x), elementwise.   dx = dy * y * (1 - y)"""
    return Sigmoid.apply(x)


def relu(x: Tensor) -> Tensor:
    """y = max(x, 0), elementwise.   dx = dy where x > 0, else 0"""
    return Relu.apply(x)


def abs(x: Tensor) -> Tensor:
    """y = |x|, elementwise.   dx = dy * sign(x)"""
    return Abs.apply(x)


def erf(x: Tensor) -> Tensor:
    """y = erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt, elementwise.   dx = dy * 2/sqrt(pi) * e^(-x^2)"""
    return Erf.apply(x)


def sign(x: Tensor) -> Tensor:
    """y = sign(x) in {-1, 0, 1}, elementwise (not differentiable: the result never requires grad)."""
    return Sign.apply(x)


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """Limit values to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensor_bounds(x, min, max)
    return Clamp.apply(x, low=min, high=max)


def _clamp_tensor_bounds(x: Tensor, low, high) -> Tensor:
    """y = min(max(x, low), high), NaN where x or a bound is NaN (issue 12), with PyTorch's gradient.

    The gradient goes to x where low <= x <= high, to low where x < low < high, to high where
    x > high or high < low, and nowhere else (x < low == high, or y is NaN: there PyTorch may
    still give high a gradient). The selections are disjoint, so three where()s route it;
    elsewhere the detached clamped value is used.
    """
    inside = compare("ge", x, low) if low is not None else None
    if high is not None:
        below = compare("le", x, high)
        inside = below if inside is None else logical_and(inside, below)
    value = x.detach()
    if low is not None:
        value = maximum(value, low.detach() if isinstance(low, Tensor) else low)
    if high is not None:
        value = minimum(value, high.detach() if isinstance(high, Tensor) else high)
    y = value
    if high is not None:
        to_high = compare("gt", x, high)
        if low is not None:
            # Not where y is NaN (a NaN in x or low), which must stay NaN.
            to_high = logical_or(to_high, compare("lt", high, low))
            to_high = logical_and(to_high, compare("eq", value, value))
        y = where(to_high, high, y)
    if low is not None:
        to_low = compare("lt", x, low)
        if high is not None:
            to_low = logical_and(to_low, compare("lt", low, high))
        y = where(to_low, low, y)
    return where(inside, x, y)


clip = clamp


def logical_not(x: Tensor) -> Tensor:
    """y = not x, elementwise (bool; nonzero counts as true)."""
    return LogicalNot.apply(x)


def isnan(x: Tensor) -> Tensor:
    """y = (x is nan), elementwise (bool)."""
    return IsNan.apply(x)


def isinf(x: Tensor) -> Tensor:
    """y = (x is +inf or -inf), elementwise (bool)."""
    return IsInf.apply(x)


def isfinite(x: Tensor) -> Tensor:
    """y = (x is neither nan nor +-inf), elementwise (bool)."""
    return IsFinite.apply(x)


def to_dtype(x: Tensor, dtype) -> Tensor:
    if x._data.dtype == dtype:
        return x
    if dtype.kind not in "fV":
        return Tensor._make(x._data.astype(dtype), None)
    return Cast.apply(x, dtype=dtype)
