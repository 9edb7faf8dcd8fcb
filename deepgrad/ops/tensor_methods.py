"""Tensor methods and operators: one-line delegations to the functionals.

This is the only place that attaches math to ``Tensor`` (autograd holds no math
rules). A new functional that PyTorch also has as a method gets one line here.
"""

from __future__ import annotations

import numpy as np

from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DTypeError, ShapeError, is_writeable, parse_device, to_device, to_dtype
from deepgrad.ops import composite as cp
from deepgrad.ops import elementwise as ew
from deepgrad.ops import fused
from deepgrad.ops import index as ix
from deepgrad.ops import linalg as la
from deepgrad.ops import reduce as rd
from deepgrad.ops import shape as sh


def _to(self: Tensor, *args, dtype=None, device=None, copy: bool = False) -> Tensor:
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype, device = arg.dtype, arg.device
        elif isinstance(arg, str) and (arg.startswith("cuda") or arg == "cpu"):
            device = arg
        elif hasattr(arg, "type") and hasattr(arg, "index"):
            device = arg
        else:
            dtype = arg
    out = self
    if device is not None:
        device = parse_device(device)
        if device != self.device:
            out = _ToDevice.apply(out, device=device)
    if dtype is not None:
        out = ew.to_dtype(out, to_dtype(dtype))
    if copy and out is self:
        out = self.clone()
    return out


from deepgrad.autograd.function import Function  # noqa: E402


class _ToDevice(Function):
    """y = x copied to another device.   dx = dy copied back"""

    @staticmethod
    def forward(ctx, x, device=None):
        from deepgrad.backend import device_of

        ctx.source = device_of(x)
        return to_device(x, device)

    @staticmethod
    def backward(ctx, dy):
        return dy.to(ctx.source)


class Clone(Function):
    """y = a copy of x.   dx = dy"""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, dy):
        return dy


def _inplace(name: str, op, ufunc: str | None = None):
    """An in-place operator (``x += y``, ``x.add_(y, alpha=2)``).

    On a tensor outside the graph it writes into the array. When the result is in the graph
    (``x`` or an operand requires grad) it computes out of place and rebinds the tensor to the
    result; inputs saved for backward are protected by the version counter.
    ``ufunc`` names the array module's ufunc for the fast path outside the graph: the update
    ``p -= lr * g`` of every optimizer step then writes straight into ``p``'s array (no temporary,
    no copy).
    """

    def method(self: Tensor, *args, **kwargs):
        if ufunc is not None and len(args) == 1 and not kwargs and not (self._requires_grad and GradMode.enabled):
            other = args[0]
            array = self._data
            if type(other) is Tensor:
                if other._requires_grad and GradMode.enabled or type(other._data) is not type(array):
                    other = None
                else:
                    other = other._data
            elif type(other) is not float and type(other) is not int:
                other = None
            if other is not None and is_writeable(array):
                try:
                    getattr(np if type(array) is np.ndarray else self.xp, ufunc)(array, other, out=array)
                except (TypeError, ValueError):
                    pass  # casting or broadcasting problem: the general path below explains it
                else:
                    self._version += 1
                    return self
        if self.requires_grad and self.grad_fn is None and GradMode.enabled:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad is used in an in-place operation; "
                "wrap the update in `with deepgrad.no_grad():` or use .data."
            )
        source = self
        if GradMode.enabled:
            # Compute from an alias: what the op saves for backward must keep the old value
            # after ``self`` is rebound to the result (``y *= y`` saves y twice).
            source = Tensor._make(self._data, self.grad_fn)
            args = tuple(source if a is self else a for a in args)
        result = op(source, *args, **kwargs)
        if result.grad_fn is not None:
            self._data, self.grad_fn, self._requires_grad = result._data, result.grad_fn, True
        else:
            array = self._data
            if result._data.shape != array.shape:
                raise ShapeError(
                    f"{name}: result of shape {result.shape} cannot be written into a tensor of shape {self.shape}; "
                    "use the out-of-place operation."
                )
            if result._data.dtype.kind in "fV" and array.dtype.kind not in "fV":
                raise DTypeError(
                    f"{name}: result type {result.dtype} cannot be written into a {self.dtype} tensor; "
                    "use the out-of-place operation or convert first with .float()."
                )
            if is_writeable(array):
                array[...] = result._data
            else:
                self._data = result._data.copy()
        self._version += 1
        return self

    method.__name__ = name
    return method


def _zero_(self: Tensor) -> Tensor:
    return _fill_(self, 0)


def _fill_(self: Tensor, value) -> Tensor:
    _check_inplace_leaf(self, "fill_")
    if GradMode.enabled and (self.grad_fn is not None or isinstance(value, Tensor) and value.requires_grad):
        return _replace_in_graph(self, value)
    self._data[...] = value._data if isinstance(value, Tensor) else value
    self._version += 1
    return self


def _copy_(self: Tensor, src) -> Tensor:
    _check_inplace_leaf(self, "copy_")
    if GradMode.enabled and (self.grad_fn is not None or isinstance(src, Tensor) and src.requires_grad):
        return _replace_in_graph(self, src)
    source = src._data if isinstance(src, Tensor) else src
    if type(source) is not type(self._data):
        source = to_device(source, self.device)
    self._data[...] = source
    self._version += 1
    return self


def _replace_in_graph(self: Tensor, value) -> Tensor:
    """fill_/copy_ on a graph tensor: rebind it to ``value`` (broadcast, in self's dtype).

    The old value gets a zero gradient and ``value`` (when a tensor) the gradient, as in PyTorch.
    """
    keep_old = Tensor._make(self.xp.zeros(self.shape, dtype=bool), None)
    if isinstance(value, Tensor) and value.dtype != self.dtype:
        value = ew.to_dtype(value, self.dtype)
    result = ew.where(keep_old, Tensor._make(self._data, self.grad_fn), value)
    if result.shape != self.shape:
        result = sh.expand(result, self.shape)
    self._data, self.grad_fn, self._requires_grad = result._data, result.grad_fn, result.requires_grad
    self._version += 1
    return self


def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    from deepgrad.ops.creation import normal

    return _copy_(self, normal(mean, std, self.shape, generator=generator, dtype=self.dtype, device=self.device))


def _uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    from deepgrad.ops.creation import uniform

    return _copy_(self, uniform(a, b, self.shape, generator=generator, dtype=self.dtype, device=self.device))


def _check_inplace_leaf(t: Tensor, name: str) -> None:
    if t.requires_grad and t.grad_fn is None and GradMode.enabled:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad is used in an in-place operation; "
            "wrap it in `with deepgrad.no_grad():` or use .data."
        )


def _setitem(self: Tensor, index, value) -> None:
    if self.requires_grad and GradMode.enabled:
        raise RuntimeError(
            "__setitem__: cannot assign into a tensor that requires grad; use deepgrad.where, "
            "index_put or build a new tensor, or assign under `with deepgrad.no_grad():`."
        )
    index = sh._normalize_index(index, self.shape)
    source = value._data if isinstance(value, Tensor) else value
    self._data[index] = source
    self._version += 1


def _max(self: Tensor, dim=None, keepdim: bool = False):
    return max(self, dim, keepdim)


def max(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """Largest element; with ``dim``, a (values, indices) pair like torch.max(x, dim)."""
    if isinstance(dim, Tensor):
        return ew.maximum(x, dim)
    if dim is None:
        return rd.amax(x)
    indices = argmax(x, dim, keepdim=True)
    values = take_along_dim(x, indices, dim)
    if not keepdim:
        values, indices = cp.squeeze(values, dim), cp.squeeze(indices, dim)
    return MinMax(values, indices)


def min(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """Smallest element; with ``dim``, a (values, indices) pair like torch.min(x, dim)."""
    if isinstance(dim, Tensor):
        return ew.minimum(x, dim)
    if dim is None:
        return rd.amin(x)
    indices = argmin(x, dim, keepdim=True)
    values = take_along_dim(x, indices, dim)
    if not keepdim:
        values, indices = cp.squeeze(values, dim), cp.squeeze(indices, dim)
    return MinMax(values, indices)


class MinMax(tuple):
    """(values, indices), also readable as ``.values`` and ``.indices``."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (over the flattened tensor when dim is None)."""
    return _arg(x, dim, keepdim, "argmax")


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (over the flattened tensor when dim is None)."""
    return _arg(x, dim, keepdim, "argmin")


def _arg(x: Tensor, dim, keepdim, name) -> Tensor:
    xp = x.xp
    fn = getattr(xp, name)
    if dim is None:
        out = xp.asarray(fn(x._data))
        if keepdim:
            out = out.reshape((1,) * x._data.ndim)
    else:
        (d,) = rd.normalize_dims(name, dim, x._data.ndim)
        out = fn(x._data, axis=d)
        if keepdim:
            out = xp.expand_dims(out, d)
    return Tensor._make(xp.asarray(out, dtype="int64"), None)


take_along_dim = ix.take_along_dim


def _binary_method(fn, reflected=False):
    if reflected:
        return lambda self, other: fn(other, self)
    return fn  # the functional itself: ``a + b`` calls add(a, b) with no extra frame


def install() -> None:
    T = Tensor
    # The operators skip add()/sub()'s alpha argument: they run once per op in every model.
    T.__add__ = lambda self, other: ew.Add.apply(*ew.binary("add", self, other))
    T.__radd__ = lambda self, other: ew.Add.apply(*ew.binary("add", other, self))
    T.__sub__ = lambda self, other: ew.Sub.apply(*ew.binary("sub", self, other))
    T.__rsub__ = lambda self, other: ew.Sub.apply(*ew.binary("sub", other, self))
    T.__mul__ = _binary_method(ew.mul)
    T.__rmul__ = _binary_method(ew.mul, True)
    T.__truediv__ = _binary_method(ew.div)
    T.__rtruediv__ = _binary_method(ew.div, True)
    T.__floordiv__ = _binary_method(ew.floor_divide)
    T.__rfloordiv__ = _binary_method(ew.floor_divide, True)
    T.__mod__ = _binary_method(ew.remainder)
    T.__pow__ = _binary_method(ew.pow)
    T.__rpow__ = _binary_method(ew.pow, True)
    T.__matmul__ = _binary_method(la.matmul)
    T.__rmatmul__ = _binary_method(la.matmul, True)
    T.__neg__ = ew.neg
    T.__pos__ = lambda self: self
    T.__abs__ = ew.abs
    T.__eq__ = lambda self, other: ew.compare("eq", self, other)
    T.__ne__ = lambda self, other: ew.compare("ne", self, other)
    T.__lt__ = lambda self, other: ew.compare("lt", self, other)
    T.__le__ = lambda self, other: ew.compare("le", self, other)
    T.__gt__ = lambda self, other: ew.compare("gt", self, other)
    T.__ge__ = lambda self, other: ew.compare("ge", self, other)
    T.__and__ = lambda self, other: ew.compare("and", self, other)
    T.__or__ = lambda self, other: ew.compare("or", self, other)
    T.__xor__ = lambda self, other: ew.compare("xor", self, other)
    T.__invert__ = ew.logical_not
    T.__getitem__ = sh.getitem
    T.__setitem__ = _setitem
    T.__hash__ = lambda self: id(self)
    T.__iadd__ = _inplace("__iadd__", ew.add, "add")
    T.__isub__ = _inplace("__isub__", ew.sub, "subtract")
    T.__imul__ = _inplace("__imul__", ew.mul, "multiply")
    T.__itruediv__ = _inplace("__itruediv__", ew.div, "true_divide")

    T.add = ew.add
    T.sub = ew.sub
    T.mul = ew.mul
    T.div = ew.div
    T.pow = ew.pow
    T.neg = ew.neg
    T.exp = ew.exp
    T.log = ew.log
    T.log1p = ew.log1p
    T.expm1 = ew.expm1
    T.sqrt = ew.sqrt
    T.sin = ew.sin
    T.cos = ew.cos
    T.tanh = ew.tanh
    T.sigmoid = ew.sigmoid
    T.relu = ew.relu
    T.abs = ew.abs
    T.erf = ew.erf
    T.sign = ew.sign
    T.clamp = ew.clamp
    T.clip = ew.clamp
    T.maximum = ew.maximum
    T.minimum = ew.minimum
    T.isnan = ew.isnan
    T.isinf = ew.isinf
    T.isfinite = ew.isfinite
    T.logical_not = ew.logical_not
    T.logical_and = ew.logical_and
    T.logical_or = ew.logical_or
    T.logical_xor = ew.logical_xor
    T.eq = T.__eq__
    T.ne = T.__ne__
    T.lt = T.__lt__
    T.le = T.__le__
    T.gt = T.__gt__
    T.ge = T.__ge__

    T.sum = rd.sum
    T.amax = rd.amax
    T.amin = rd.amin
    T.max = _max
    T.min = min
    T.argmax = argmax
    T.argmin = argmin
    T.mean = cp.mean
    T.var = cp.var
    T.std = cp.std
    T.logsumexp = cp.logsumexp
    T.softmax = fused.softmax
    T.log_softmax = fused.log_softmax
    T.take_along_dim = take_along_dim

    T.reshape = sh.reshape
    T.view = sh.reshape
    T.permute = sh.permute
    T.transpose = sh.transpose
    T.expand = sh.expand
    T.squeeze = cp.squeeze
    T.unsqueeze = cp.unsqueeze
    T.flatten = cp.flatten
    T.T = property(lambda self: sh.permute(self, tuple(reversed(range(self._data.ndim)))))
    T.mT = property(lambda self: sh.transpose(self, -2, -1))
    T.t = lambda self: sh.transpose(self, 0, 1) if self._data.ndim == 2 else self
    T.matmul = la.matmul
    T.mm = la.matmul

    T.to = _to
    T.float = lambda self: ew.to_dtype(self, to_dtype("float32"))
    T.double = lambda self: ew.to_dtype(self, to_dtype("float64"))
    T.half = lambda self: ew.to_dtype(self, to_dtype("float16"))
    T.long = lambda self: ew.to_dtype(self, to_dtype("int64"))
    T.int = lambda self: ew.to_dtype(self, to_dtype("int32"))
    T.bool = lambda self: ew.to_dtype(self, to_dtype("bool"))
    T.cpu = lambda self: _to(self, device="cpu")
    T.cuda = lambda self, device="cuda": _to(self, device=device)
    T.clone = lambda self: Clone.apply(self)
    T.type = _type

    T.zero_ = _zero_
    T.fill_ = _fill_
    T.copy_ = _copy_
    T.normal_ = _normal_
    T.uniform_ = _uniform_
    T.add_ = _inplace("add_", ew.add, "add")
    T.sub_ = _inplace("sub_", ew.sub, "subtract")
    T.mul_ = _inplace("mul_", ew.mul, "multiply")
    T.div_ = _inplace("div_", ew.div, "true_divide")
    T.clamp_ = _inplace("clamp_", ew.clamp)
    T.clip_ = T.clamp_
    T.pow_ = _inplace("pow_", ew.pow)
    T.masked_fill_ = _inplace("masked_fill_", ix.masked_fill)
    T.__ipow__ = _inplace("__ipow__", ew.pow)

    T.reciprocal = cp.reciprocal
    T.square = cp.square
    T.rsqrt = cp.rsqrt
    T.log2 = cp.log2
    T.prod = rd.prod
    T.cumsum = rd.cumsum
    T.all = rd.all
    T.any = rd.any
    T.norm = cp.norm
    T.unflatten = cp.unflatten
    T.broadcast_to = cp.broadcast_to
    T.expand_as = lambda self, other: sh.expand(self, other.shape)
    T.view_as = lambda self, other: sh.reshape(self, other.shape)
    T.reshape_as = lambda self, other: sh.reshape(self, other.shape)
    T.movedim = cp.movedim
    T.repeat = cp.repeat
    T.tile = cp.tile
    T.split = cp.split
    T.chunk = cp.chunk
    T.unbind = cp.unbind
    T.flip = cp.flip
    T.roll = cp.roll
    T.tril = cp.tril
    T.triu = cp.triu
    T.gather = ix.gather
    T.scatter_add = ix.scatter_add
    T.index_select = ix.index_select
    T.masked_fill = ix.masked_fill
    T.where = lambda self, condition, other: ew.where(condition, self, other)
    T.bmm = la.bmm
    T.__rmod__ = _binary_method(ew.remainder, True)


_TYPE_NAMES = {
    "torch.FloatTensor": "float32",
    "torch.DoubleTensor": "float64",
    "torch.LongTensor": "int64",
    "torch.IntTensor": "int32",
    "torch.BoolTensor": "bool",
}


def _type(self: Tensor, dtype=None):
    """``t.type()`` names the dtype; ``t.type(dtype)`` converts (PyTorch's old spelling)."""
    if dtype is None:
        return f"deepgrad.{self.dtype}"
    if isinstance(dtype, str):
        dtype = _TYPE_NAMES.get(dtype, dtype.replace("deepgrad.", ""))
    return ew.to_dtype(self, to_dtype(dtype))
