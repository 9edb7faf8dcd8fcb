"""In-place operations: ``x += y``, ``x.add_(y)``, ``zero_``, ``fill_``, ``copy_``, ``x[i] = v``.

On a tensor outside the graph (no gradient wanted) they write into its array. When the
result is in the graph (``x`` or an operand requires grad) they compute out of place and
rebind the tensor to the result; inputs saved for backward are protected by the version
counter (``Tensor._version``). On a leaf that requires grad they raise, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DTypeError, ShapeError, is_writeable, to_device
from deepgrad.ops import composite as cp
from deepgrad.ops import elementwise as ew
from deepgrad.ops import index as ix
from deepgrad.ops import shape as sh

InplaceOp = Callable[..., Tensor]


def inplace_op(name: str, op: Callable[..., Tensor], ufunc: str | None = None) -> InplaceOp:
    """The in-place form of ``op``: ``inplace_op("add_", add, "add")(x, y)`` is ``x.add_(y)``.

    Args:
        name: the name errors use (``"add_"``, ``"__iadd__"``, ``"relu"``).
        op: the out-of-place operation, ``op(x, *args, **kwargs) -> Tensor``.
        ufunc: the array module's ufunc for the fast path outside the graph: the update
            ``p -= lr * g`` of every optimizer step then writes straight into ``p``'s array
            (no temporary, no copy). None: always compute ``op`` and write its result back.

    Returns:
        ``method(x, *args, **kwargs) -> x``, which changes ``x`` and returns it.
    """

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if (
            ufunc is not None
            and len(args) == 1
            and not kwargs
            and not (self._requires_grad and GradMode.enabled)
        ):
            # Fast path outside the graph: ufunc(self, other, out=self) on the raw arrays.
            other = args[0]
            array = self._data
            if type(other) is Tensor:
                if (other._requires_grad and GradMode.enabled) or type(other._data) is not type(
                    array
                ):
                    other = None
                else:
                    other = other._data
            elif type(other) is not float and type(other) is not int:
                other = None
            if other is not None and is_writeable(array):
                try:
                    getattr(np if type(array) is np.ndarray else self.xp, ufunc)(
                        array, other, out=array
                    )
                except (TypeError, ValueError):
                    pass  # casting or broadcasting problem: the general path below explains it
                else:
                    self._version += 1
                    return self
        _check_inplace_leaf(self, name)
        source = self
        if GradMode.enabled:
            # Compute from an alias: what the op saves for backward must keep the old value
            # after ``self`` is rebound to the result (``y *= y`` saves y twice).
            source = Tensor._make(self._data, self.grad_fn)
            args = tuple(source if a is self else a for a in args)
        result = op(source, *args, **kwargs)
        if result.grad_fn is not None:
            _check_shape(name, self, result)
            if result.dtype != self.dtype:  # self keeps its dtype, as PyTorch's in-place ops do
                result = result.to(self.dtype)
            self._data, self.grad_fn, self._requires_grad = result._data, result.grad_fn, True
        else:
            _write_back(name, self, result)
        self._version += 1
        return self

    method.__name__ = name
    return method


def _write_back(name: str, self: Tensor, result: Tensor) -> None:
    """Write an out-of-graph result into ``self``'s array (same shape; no float into an int)."""
    array = self._data
    _check_shape(name, self, result)
    if result._data.dtype.kind in "fV" and array.dtype.kind not in "fV":
        raise DTypeError(
            f"{name}: result type {result.dtype} cannot be written into a {self.dtype} tensor; "
            "use the out-of-place operation or convert first with .float()."
        )
    if is_writeable(array):
        array[...] = result._data
    else:
        self._data = result._data.copy()


def _check_shape(name: str, self: Tensor, result: Tensor) -> None:
    """An in-place result must keep self's shape: ``other`` broadcasts to self, never self to it."""
    if result._data.shape != self._data.shape:
        raise ShapeError(
            f"{name}: result of shape {result.shape} cannot be written into a tensor of shape "
            f"{self.shape}; use the out-of-place operation."
        )


def _check_inplace_leaf(t: Tensor, name: str) -> None:
    if t._requires_grad and t.grad_fn is None and GradMode.enabled:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad is used in an in-place operation; "
            "wrap the update in `with deepgrad.no_grad():` or use .data."
        )


iadd = inplace_op("__iadd__", ew.add, "add")
isub = inplace_op("__isub__", ew.sub, "subtract")
imul = inplace_op("__imul__", ew.mul, "multiply")
itruediv = inplace_op("__itruediv__", ew.div, "true_divide")
ipow = inplace_op("__ipow__", ew.pow)
add_ = inplace_op("add_", ew.add, "add")
sub_ = inplace_op("sub_", ew.sub, "subtract")
mul_ = inplace_op("mul_", ew.mul, "multiply")
div_ = inplace_op("div_", ew.div, "true_divide")
pow_ = inplace_op("pow_", ew.pow)
clamp_ = inplace_op("clamp_", ew.clamp)
masked_fill_ = inplace_op("masked_fill_", ix.masked_fill)
index_add_ = inplace_op("index_add_", ix.index_add)
scatter_ = inplace_op("scatter_", ix.scatter)
masked_scatter_ = inplace_op("masked_scatter_", ix.masked_scatter)


def view_inplace(name: str, op: Callable[..., Tensor]) -> InplaceOp:
    """The in-place form of a shape op (``x.unsqueeze_(0)``): ``x`` becomes ``op(x)``'s view.

    No element changes, so the array is not written; the tensor is rebound to the new view (and,
    in the graph, to its node), as PyTorch changes the tensor's metadata.
    """

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        _check_inplace_leaf(self, name)
        source = Tensor._make(self._data, self.grad_fn) if GradMode.enabled else self
        result = op(source, *args, **kwargs)
        self._data = result._data
        if result.grad_fn is not None:
            self.grad_fn, self._requires_grad = result.grad_fn, True
        self._version += 1
        return self

    method.__name__ = name
    return method


unsqueeze_ = view_inplace("unsqueeze_", cp.unsqueeze)
squeeze_ = view_inplace("squeeze_", cp.squeeze)
transpose_ = view_inplace("transpose_", sh.transpose)


def zero_(x: Tensor) -> Tensor:
    """Set every element to 0, in place."""
    return fill_(x, 0)


def fill_(x: Tensor, value: Any) -> Tensor:
    """Set every element to ``value`` (a number or a one-element tensor), in place."""
    _check_inplace_leaf(x, "fill_")
    if GradMode.enabled and (
        x.grad_fn is not None or (isinstance(value, Tensor) and value.requires_grad)
    ):
        return _replace_in_graph(x, value)
    x._data[...] = value._data if isinstance(value, Tensor) else value
    x._version += 1
    return x


def copy_(x: Tensor, src: Any) -> Tensor:
    """Copy ``src`` (broadcast, converted to x's dtype and device) into ``x``, in place."""
    _check_inplace_leaf(x, "copy_")
    if GradMode.enabled and (
        x.grad_fn is not None or (isinstance(src, Tensor) and src.requires_grad)
    ):
        return _replace_in_graph(x, src)
    source = src._data if isinstance(src, Tensor) else src
    if type(source) is not type(x._data):
        source = to_device(source, x.device)
    x._data[...] = source
    x._version += 1
    return x


def _replace_in_graph(x: Tensor, value: Any) -> Tensor:
    """fill_/copy_ on a graph tensor: rebind it to ``value`` (broadcast, in x's dtype).

    The old value gets a zero gradient and ``value`` (when a tensor) the gradient, as in PyTorch.
    """
    keep_old = Tensor._make(x.xp.zeros(x.shape, dtype=bool), None)
    if isinstance(value, Tensor) and value.dtype != x.dtype:
        value = ew.to_dtype(value, x.dtype)
    result = ew.where(keep_old, Tensor._make(x._data, x.grad_fn), value)
    if result.shape != x.shape:
        result = sh.expand(result, x.shape)
    x._data, x.grad_fn, x._requires_grad = result._data, result.grad_fn, result.requires_grad
    x._version += 1
    return x


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with draws from N(mean, std**2), in place."""
    from deepgrad.ops.creation import normal

    return copy_(x, normal(mean, std, x.shape, generator=generator, dtype=x.dtype, device=x.device))


def uniform_(x: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with draws from U(a, b), in place."""
    from deepgrad.ops.creation import uniform

    return copy_(x, uniform(a, b, x.shape, generator=generator, dtype=x.dtype, device=x.device))


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """``x[index] = value`` outside the graph (a tensor that requires grad refuses)."""
    if x._requires_grad and GradMode.enabled:
        raise RuntimeError(
            "__setitem__: cannot assign into a tensor that requires grad; use deepgrad.where, "
            "index_put or build a new tensor, or assign under `with deepgrad.no_grad():`."
        )
    index = sh._normalize_index(index, x.shape)
    x._data[index] = value._data if isinstance(value, Tensor) else value
    x._version += 1
