"""Tensor: an n-dimensional array (NumPy or CuPy) that can record how it was computed.

The class holds the data model (attributes, conversion, the gradient bookkeeping and
``backward``) and, as one-line delegations, every Tensor method of the math (``+``,
``exp``, ``sum``, ``reshape`` ...). The math rules themselves live in ``deepgrad.ops``,
one layer up: this module imports the op modules at its bottom (see there), so that
``autograd`` stays free of math rules while a reader, an IDE and a type checker see
each method with its signature. The file is longer than our ~600-line guide on purpose:
Tensor's API (about 150 two-line methods) stays in one class, where it is looked for.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, overload

import numpy as np

from deepgrad import backend
from deepgrad.backend import Device, DTypeError, device_of, get_array_module

if TYPE_CHECKING:
    from typing_extensions import Self

    from deepgrad.backend.random import Generator

Number: TypeAlias = int | float | bool
# What the other side of an operator may be: a tensor, a Python number or a NumPy array.
TensorLike: TypeAlias = "Tensor | int | float | bool | np.ndarray"
# A dimension, several, or None for all of them.
Dims: TypeAlias = int | Sequence[int] | None
# Anything deepgrad.backend.to_dtype understands: dg.float32, "float32", np.float32, float ...
DTypeLike: TypeAlias = np.dtype | str | type | None
DeviceLike: TypeAlias = Device | str

_ndarray = np.ndarray


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Create tensors with ``deepgrad.tensor(data)``, ``deepgrad.zeros(shape)`` and
    friends; ``Tensor(data)`` accepts the same data as ``deepgrad.tensor``.

    Attributes:
        data: as in PyTorch, a Tensor sharing this one's memory outside the graph. The
            backing array itself (``numpy.ndarray`` or ``cupy.ndarray``) is ``t._data``,
            for ops and layers inside deepgrad.
        grad: the accumulated gradient (a Tensor) of a leaf after ``backward()``.
        grad_fn: the node that produced this tensor, None for leaves.
        requires_grad: whether gradients flow to this tensor.
    """

    __slots__ = ("__dict__", "__weakref__", "_data", "_requires_grad", "grad_fn")
    __array_priority__ = 1000  # numpy_array * tensor -> Tensor.__rmul__
    # Rarely set attributes default on the class, so that making a tensor (once per op) is cheap.
    grad: Tensor | None = None
    _version = 0
    _hooks: list[Callable[[Tensor], Tensor | None]] | None = None
    _post_accumulate_hooks: list[Callable[[Tensor], None]] | None = None

    def __init__(
        self,
        data: Any,
        dtype: DTypeLike = None,
        device: DeviceLike | None = None,
        requires_grad: bool = False,
    ) -> None:
        self._data = backend.as_array(data, dtype, device)
        self.grad_fn = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(array: Any, grad_fn: Any) -> Tensor:
        """Internal fast constructor used by every op: no checks, no copies."""
        t = _new(Tensor)
        t._data = array
        t.grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        return t

    # -- the array and its description ------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's memory, outside the graph (PyTorch's ``.data``).

        ``w.data -= lr * w.grad`` updates ``w`` in place without recording anything.
        Ops read the raw array as ``t._data``.
        """
        return Tensor._make(self._data, None)

    @data.setter
    def data(self, value: Tensor | Any) -> None:
        self._data = value._data if isinstance(value, Tensor) else value

    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension, a tuple of ints (PyTorch's ``torch.Size``), as ``size()``."""
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        """The element type, a NumPy dtype (``deepgrad.float32`` is ``numpy.dtype("float32")``)."""
        return self._data.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions (0 for a scalar tensor); the same as ``dim()``."""
        return self._data.ndim

    @property
    def device(self) -> Device:
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        """Whether the data lives on a CUDA GPU (a CuPy array)."""
        return self.device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        """Whether no recorded op produced this tensor (``grad_fn is None``).

        Tensors made by the user, and results computed without gradient tracking, are leaves.
        ``backward()`` fills ``.grad`` only on leaves that require grad (else: ``retain_grad``).
        """
        return self.grad_fn is None

    @property
    def xp(self) -> Any:
        """The array module of this tensor's data (numpy or cupy)."""
        return np if type(self._data) is _ndarray else get_array_module(self._data)

    @overload
    def size(self, dim: None = None) -> tuple[int, ...]: ...
    @overload
    def size(self, dim: int) -> int: ...
    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape (PyTorch alias), or the size of one dimension."""
        if dim is None:
            return self._data.shape
        return self._data.shape[dim]

    def numel(self) -> int:
        return int(self._data.size)

    def dim(self) -> int:
        """The number of dimensions (PyTorch's method spelling of ``ndim``)."""
        return self._data.ndim

    def element_size(self) -> int:
        """The size of one element in bytes (4 for float32)."""
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        """The bytes the elements take: ``numel() * element_size()``."""
        return int(self._data.nbytes)

    @overload
    def stride(self, dim: None = None) -> tuple[int, ...]: ...
    @overload
    def stride(self, dim: int) -> int: ...
    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The step in memory, in elements, along each dimension (or one)."""
        strides = _cv.stride(self)
        return strides if dim is None else strides[dim]

    def is_contiguous(self) -> bool:
        """Whether the elements lie in memory in row-major order, without gaps."""
        return bool(self._data.flags.c_contiguous)

    def contiguous(self) -> Tensor:
        """This tensor if it is contiguous, else a contiguous copy (in the graph, like clone)."""
        return _cv.contiguous(self)

    def is_floating_point(self) -> bool:
        return backend.is_floating(self._data.dtype)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # -- conversion out ---------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory on the CPU). Refuses tensors that require grad."""
        if self.requires_grad:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()."
            )
        if type(self._data) is _ndarray:
            return self._data
        return self._data.get()

    def __dlpack__(
        self,
        *,
        stream: Any = None,
        max_version: tuple[int, int] | None = None,
        dl_device: tuple[int, int] | None = None,
        copy: bool | None = None,
    ) -> Any:
        """A DLPack capsule of the data, for ``numpy.from_dlpack``, ``torch.from_dlpack`` ..."""
        return _cv.dlpack_capsule(self, stream, max_version, dl_device, copy)

    def __dlpack_device__(self) -> tuple[int, int]:
        return _cv.dlpack_device(self)

    def item(self) -> Number:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted (got shape {self.shape})"
            )
        return (
            self._data.reshape(()).item()
            if type(self._data) is _ndarray
            else self._data.get().item()
        )

    def tolist(self) -> Any:
        """The data as nested Python lists of Python numbers (a number for a 0-d tensor).

        Example:
            >>> import deepgrad as dg
            >>> dg.arange(4).view(2, 2).tolist()
            [[0, 1], [2, 3]]
        """
        return (self._data if type(self._data) is _ndarray else self._data.get()).tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = self._data if type(self._data) is _ndarray else self._data.get()
        return arr if dtype is None else arr.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index (got {self.dtype})")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self.item())

    def __hash__(self) -> int:
        return id(self)

    # -- graph bookkeeping ------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor; settable on leaves (floating-point ones only)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, requires_grad: bool) -> None:
        self.requires_grad_(requires_grad)

    def requires_grad_(self, requires_grad: bool = True) -> Self:
        """Turn gradient tracking on or off for this leaf, in place."""
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    f"requires_grad: cannot turn gradients off for a tensor computed from others "
                    f"(a non-leaf of shape {self.shape}, made by {self.grad_fn.fn.__name__}); "
                    "use y = x.detach() to get a tensor outside the graph."
                )
            return self
        if requires_grad and not backend.is_floating(self._data.dtype):
            raise DTypeError(
                f"requires_grad: only floating-point tensors can require gradients (got {self.dtype}); "
                "convert first with .float() or .double()."
            )
        self._requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, outside the graph (requires_grad=False)."""
        return Tensor._make(self._data, None)

    def detach_(self) -> Self:
        """Take this tensor out of the graph, in place (it becomes a leaf that does not require grad)."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves keep theirs anyway)."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError(
                    f"retain_grad: the tensor (shape {self.shape}) does not require grad, so it will never "
                    "get a gradient; compute it from tensors with requires_grad=True."
                )
            return
        self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf, so backward keeps its ``.grad``.

        False on leaves, which keep their gradient anyway.
        """
        return (
            self.grad_fn is not None
            and self.grad_fn.retained is not None
            and self.grad_fn.retained() is self
        )

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _HookHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it.

        On a leaf the hook sees the gradient of one backward pass before it is added to
        ``.grad``; on a non-leaf it sees the sum over all the tensor's consumers.
        Returns a handle whose ``remove()`` unregisters the hook.

        Example:
            >>> import deepgrad as dg
            >>> x = dg.tensor([1.0, 2.0], requires_grad=True)
            >>> handle = x.register_hook(lambda g: g * 10)
            >>> (x * x).sum().backward()
            >>> x.grad
            tensor([20., 40.])
            >>> handle.remove()
        """
        if not callable(hook):
            raise TypeError(f"register_hook: hook must be callable (got {type(hook).__name__})")
        if not self._requires_grad:
            raise RuntimeError(
                f"register_hook: the tensor (shape {self.shape}) does not require grad, so a hook would "
                "never run; set requires_grad=True on the leaves it is computed from."
            )
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = []
            hooks = self.grad_fn.hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> _HookHandle:
        """Call ``hook(tensor)`` on a leaf after a backward pass has added its gradient to ``.grad``.

        The hook sees the accumulated ``.grad`` (it may change it in place) and returns None; it
        runs once per backward pass that reaches the leaf. DistributedDataParallel uses it to
        start each bucket's all-reduce as soon as the bucket's gradients are final.
        Returns a handle whose ``remove()`` unregisters the hook.

        Example:
            >>> import deepgrad as dg
            >>> w = dg.tensor([1.0, 2.0], requires_grad=True)
            >>> seen = []
            >>> handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
            >>> (w * w).sum().backward()
            >>> seen
            [[2.0, 4.0]]
        """
        if not callable(hook):
            raise TypeError(
                f"register_post_accumulate_grad_hook: hook must be callable (got {type(hook).__name__})"
            )
        if self.grad_fn is not None or not self._requires_grad:
            raise RuntimeError(
                f"register_post_accumulate_grad_hook: only a leaf that requires grad accumulates a "
                f"gradient (got requires_grad={self._requires_grad}, "
                f"leaf={self.grad_fn is None}); register it on a parameter or leaf tensor."
            )
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        return _HookHandle(self._post_accumulate_hooks, hook)

    def backward(
        self,
        gradient: TensorLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Tensor | Sequence[Tensor] | None = None,
    ) -> None:
        """Compute the gradient of this tensor with respect to the graph's leaves.

        Gradients accumulate (+=) into ``leaf.grad``; zero them between steps.

        Args:
            gradient: d(something)/d(self), the vector of the vector-Jacobian product; needed
                unless the tensor has one element. Same shape as the tensor.
            retain_graph: keep the values saved for backward, to call backward through the
                same graph again. Default: ``create_graph``. Without it they are freed.
            create_graph: record the backward pass itself, so that the gradients can be
                differentiated again (higher-order derivatives).
            inputs: accumulate only into these tensors' ``.grad`` (leaves or not).

        Example:
            >>> import deepgrad as dg
            >>> x = dg.tensor(3.0, requires_grad=True)
            >>> (x * x).backward()
            >>> x.grad
            tensor(6.)
        """
        from deepgrad.autograd.engine import run_backward

        if retain_graph is None:
            retain_graph = create_graph
        run_backward((self,), (gradient,), retain_graph, create_graph, inputs=inputs)

    # -- repr -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        arr = self._data if type(self._data) is _ndarray else self._data.get()
        body = np.array2string(
            arr, separator=", ", prefix="tensor(", precision=4, threshold=200, edgeitems=3
        )
        extras = []
        if arr.dtype != np.float32 and not (arr.dtype == np.int64 and arr.size > 0):
            extras.append(f"dtype={arr.dtype}")
        elif arr.size == 0:
            extras.append(f"size={arr.shape}")
        if type(self._data) is not _ndarray:
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.fn.__name__}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __str__(self) -> str:
        return self.__repr__()

    def __format__(self, format_spec: str) -> str:
        """``f"{loss:.3f}"`` formats a 0-d tensor's value; other tensors take only ``f"{t}"``."""
        if self._data.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    # -- math: one-line delegations to deepgrad.ops -----------------------------------------
    # Each method calls the functional of the same name (or, for the operators and the plain
    # unary functions, which run once per op in every model, that functional's one-line body:
    # the primitive's apply, with no extra Python frame). The op modules are imported at the
    # bottom of this file.

    # operators
    def __add__(self, other: TensorLike) -> Tensor:
        if type(other) is Tensor:  # binary()'s common case, without its frame (note 11)
            a, b = self._data, other._data
            if a.shape == b.shape and a.dtype is b.dtype and type(a) is type(b):
                return _ew.Add.apply(self, other)
        return _ew.Add.apply(*_ew.binary("add", self, other))

    def __radd__(self, other: TensorLike) -> Tensor:
        return _ew.Add.apply(*_ew.binary("add", other, self))

    def __sub__(self, other: TensorLike) -> Tensor:
        if type(other) is Tensor:  # binary()'s common case, without its frame (note 11)
            a, b = self._data, other._data
            if a.shape == b.shape and a.dtype is b.dtype and type(a) is type(b):
                return _ew.Sub.apply(self, other)
        return _ew.Sub.apply(*_ew.binary("sub", self, other))

    def __rsub__(self, other: TensorLike) -> Tensor:
        return _ew.Sub.apply(*_ew.binary("sub", other, self))

    def __mul__(self, other: TensorLike) -> Tensor:
        if type(other) is Tensor:  # binary()'s common case, without its frame (note 11)
            a, b = self._data, other._data
            if a.shape == b.shape and a.dtype is b.dtype and type(a) is type(b):
                return _ew.Mul.apply(self, other)
        return _ew.Mul.apply(*_ew.binary("mul", self, other))

    def __rmul__(self, other: TensorLike) -> Tensor:
        return _ew.Mul.apply(*_ew.binary("mul", other, self))

    def __truediv__(self, other: TensorLike) -> Tensor:
        return _ew.div(self, other)

    def __rtruediv__(self, other: TensorLike) -> Tensor:
        return _ew.div(other, self)

    def __floordiv__(self, other: TensorLike) -> Tensor:
        return _ew.floor_divide(self, other)

    def __rfloordiv__(self, other: TensorLike) -> Tensor:
        return _ew.floor_divide(other, self)

    def __mod__(self, other: TensorLike) -> Tensor:
        return _ew.remainder(self, other)

    def __rmod__(self, other: TensorLike) -> Tensor:
        return _ew.remainder(other, self)

    def __pow__(self, other: TensorLike) -> Tensor:
        return _ew.Pow.apply(*_ew.binary("pow", self, other))

    def __rpow__(self, other: TensorLike) -> Tensor:
        return _ew.Pow.apply(*_ew.binary("pow", other, self))

    def __matmul__(self, other: Tensor) -> Tensor:
        return _la.matmul(self, other)

    def __rmatmul__(self, other: Tensor) -> Tensor:
        return _la.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ew.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ew.Abs.apply(self)

    def __invert__(self) -> Tensor:
        return _ew.logical_not(self)

    # Comparisons give bool tensors (``object`` would have them give bool: hence the ignores).
    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return _ew.Compare.apply(*_ew.binary("eq", self, other), op="eq")

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return _ew.Compare.apply(*_ew.binary("ne", self, other), op="ne")

    def __lt__(self, other: Tensor | Number) -> Tensor:
        return _ew.Compare.apply(*_ew.binary("lt", self, other), op="lt")

    def __le__(self, other: Tensor | Number) -> Tensor:
        return _ew.Compare.apply(*_ew.binary("le", self, other), op="le")

    def __gt__(self, other: Tensor | Number) -> Tensor:
        return _ew.Compare.apply(*_ew.binary("gt", self, other), op="gt")

    def __ge__(self, other: Tensor | Number) -> Tensor:
        return _ew.Compare.apply(*_ew.binary("ge", self, other), op="ge")

    def __and__(self, other: TensorLike) -> Tensor:
        return _ew.compare("and", self, other)

    def __or__(self, other: TensorLike) -> Tensor:
        return _ew.compare("or", self, other)

    def __xor__(self, other: TensorLike) -> Tensor:
        return _ew.compare("xor", self, other)

    def __getitem__(self, index: Any) -> Tensor:
        return _sh.getitem(self, index)

    def __setitem__(self, index: Any, value: TensorLike) -> None:
        _ip.setitem(self, index, value)

    # in place (see deepgrad/ops/inplace.py); each returns this tensor, changed
    def __iadd__(self, other: TensorLike) -> Tensor:
        return _ip.iadd(self, other)

    def __isub__(self, other: TensorLike) -> Tensor:
        return _ip.isub(self, other)

    def __imul__(self, other: TensorLike) -> Tensor:
        return _ip.imul(self, other)

    def __itruediv__(self, other: TensorLike) -> Tensor:
        return _ip.itruediv(self, other)

    def __ipow__(self, other: TensorLike) -> Tensor:
        return _ip.ipow(self, other)

    def add_(self, other: TensorLike, alpha: Number = 1) -> Tensor:
        """self = self + alpha * other, in place; returns self.

        ``other`` (a tensor or a number) broadcasts to ``self``'s shape, and the result keeps
        ``self``'s dtype: a float result cannot be written into an integer tensor (DTypeError).
        In the graph the gradient flows as for ``self.add(other, alpha)``; on a leaf that requires
        grad it raises RuntimeError, as PyTorch: update parameters under ``deepgrad.no_grad()``.
        A tensor saved for a backward pass and changed in place makes that backward raise.

        Args:
            other: the tensor or number to add.
            alpha: the multiplier of ``other``. Default: 1.

        Example:
            >>> import deepgrad as dg
            >>> dg.tensor([1.0, 2.0]).add_(dg.tensor([10.0, 20.0]), alpha=2)
            tensor([21., 42.])
        """
        return _ip.add_(self, other, alpha=alpha) if alpha != 1 else _ip.add_(self, other)

    def sub_(self, other: TensorLike, alpha: Number = 1) -> Tensor:
        """self = self - alpha * other, in place; returns self.

        Broadcasting, dtype and graph rules as ``add_``.

        Args:
            other: the tensor or number to subtract.
            alpha: the multiplier of ``other``. Default: 1.
        """
        return _ip.sub_(self, other, alpha=alpha) if alpha != 1 else _ip.sub_(self, other)

    def mul_(self, other: TensorLike) -> Tensor:
        """self = self * other, in place; returns self (rules as ``add_``)."""
        return _ip.mul_(self, other)

    def div_(self, other: TensorLike) -> Tensor:
        """self = self / other (true division), in place; returns self.

        The quotient is floating point, so an integer ``self`` raises DTypeError (use ``div``);
        broadcasting and graph rules as ``add_``.
        """
        return _ip.div_(self, other)

    def pow_(self, exponent: TensorLike) -> Tensor:
        """self = self ** exponent, elementwise, in place; returns self (rules as ``add_``)."""
        return _ip.pow_(self, exponent)

    def clamp_(self, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:
        """self = min(max(self, min), max), in place; returns self. ``clip_`` is the same method.

        Either bound may be None (not both); tensor bounds broadcast to ``self``'s shape.
        Dtype and graph rules as ``add_``.
        """
        return _ip.clamp_(self, min, max)

    clip_ = clamp_

    def masked_fill_(self, mask: Tensor, value: TensorLike) -> Tensor:
        """self[mask] = value, in place; returns self.

        Args:
            mask: a bool tensor that broadcasts to ``self``'s shape.
            value: a number or a one-element tensor.
        """
        return _ip.masked_fill_(self, mask, value)

    def masked_scatter_(self, mask: Tensor, source: Tensor) -> Tensor:
        """Write ``source``'s first elements, in row-major order, where ``mask`` is true; in place.

        Returns self. ``mask`` is a bool tensor that broadcasts to ``self``'s shape; ``source``
        needs at least ``mask.sum()`` elements. Gradients as ``masked_scatter``.
        """
        return _ip.masked_scatter_(self, mask, source)

    def index_add_(self, dim: int, index: Tensor, source: Tensor, *, alpha: Number = 1) -> Tensor:
        """self[..., index[k], ...] += alpha * source[..., k, ...] along ``dim``, in place.

        Returns self. Repeated indices add up. Gradients as ``index_add``.

        Args:
            dim: the dimension that ``index`` indexes.
            index: a 1-d integer tensor, one entry per slice of ``source`` along ``dim``.
            source: shaped like ``self`` except ``source.shape[dim] == len(index)``.
            alpha: the multiplier of ``source``. Default: 1.
        """
        return _ip.index_add_(self, dim, index, source, alpha=alpha)

    def scatter_(self, dim: int, index: Tensor, src: Tensor | Number) -> Tensor:
        """``self[i][index[i][j]] = src[i][j]`` for dim=1 (2-d), in place; returns self.

        ``src`` is a tensor (read where ``index`` has entries) or a number. Where several entries go
        to one place the last one (in row-major order) wins. Gradients as ``scatter``.
        """
        return _ip.scatter_(self, dim, index, src)

    def zero_(self) -> Tensor:
        """self = 0 everywhere, in place; returns self (``fill_(0)``)."""
        return _ip.zero_(self)

    def fill_(self, value: TensorLike) -> Tensor:
        """self = value everywhere, in place; returns self.

        ``value`` is a number or a one-element tensor, converted to ``self``'s dtype. In the graph
        the old value gets a zero gradient and a tensor ``value`` the summed gradient.
        """
        return _ip.fill_(self, value)

    def copy_(self, src: TensorLike) -> Tensor:
        """self = src, elementwise, in place; returns self.

        ``src`` (a tensor, array or number) broadcasts to ``self``'s shape and is converted to
        ``self``'s dtype and device. In the graph the gradient flows to ``src``; the old value
        gets none.
        """
        return _ip.copy_(self, src)

    def normal_(
        self, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None
    ) -> Tensor:
        """Fill with draws from N(mean, std**2), in place; returns self.

        Args:
            mean: the mean. Default: 0.
            std: the standard deviation. Default: 1.
            generator: the ``deepgrad.Generator`` to draw from. Default: the global one.
        """
        return _ip.normal_(self, mean, std, generator)

    def uniform_(
        self, a: float = 0.0, b: float = 1.0, generator: Generator | None = None
    ) -> Tensor:
        """Fill with draws from U(a, b), uniform on [a, b), in place; returns self.

        Args:
            a: the lower bound. Default: 0.
            b: the upper bound. Default: 1.
            generator: the ``deepgrad.Generator`` to draw from. Default: the global one.
        """
        return _ip.uniform_(self, a, b, generator)

    # elementwise
    def add(self, other: TensorLike, alpha: Number = 1) -> Tensor:
        return _ew.add(self, other, alpha)

    def sub(self, other: TensorLike, alpha: Number = 1) -> Tensor:
        return _ew.sub(self, other, alpha)

    def mul(self, other: TensorLike) -> Tensor:
        return _ew.mul(self, other)

    def div(self, other: TensorLike) -> Tensor:
        return _ew.div(self, other)

    def pow(self, exponent: TensorLike) -> Tensor:
        return _ew.pow(self, exponent)

    def neg(self) -> Tensor:
        return _ew.Neg.apply(self)

    def exp(self) -> Tensor:
        return _ew.Exp.apply(self)

    def log(self) -> Tensor:
        return _ew.Log.apply(self)

    def log1p(self) -> Tensor:
        return _ew.Log1p.apply(self)

    def expm1(self) -> Tensor:
        return _ew.Expm1.apply(self)

    def log2(self) -> Tensor:
        return _cp.log2(self)

    def sqrt(self) -> Tensor:
        return _ew.Sqrt.apply(self)

    def rsqrt(self) -> Tensor:
        return _cp.rsqrt(self)

    def square(self) -> Tensor:
        return _cp.square(self)

    def reciprocal(self) -> Tensor:
        return _cp.reciprocal(self)

    def sin(self) -> Tensor:
        return _ew.Sin.apply(self)

    def cos(self) -> Tensor:
        return _ew.Cos.apply(self)

    def tanh(self) -> Tensor:
        return _ew.Tanh.apply(self)

    def tan(self) -> Tensor:
        return _ex.tan(self)

    def sinh(self) -> Tensor:
        return _ex.sinh(self)

    def cosh(self) -> Tensor:
        return _ex.cosh(self)

    def log10(self) -> Tensor:
        return _ex.log10(self)

    def exp2(self) -> Tensor:
        return _ex.exp2(self)

    def logaddexp(self, other: Tensor | float) -> Tensor:
        return _ex.logaddexp(self, other)

    def hypot(self, other: Tensor | float) -> Tensor:
        return _ex.hypot(self, other)

    def lerp(self, end: Tensor, weight: Tensor | float) -> Tensor:
        return _ex.lerp(self, end, weight)

    def dot(self, tensor: Tensor) -> Tensor:
        return _ex.dot(self, tensor)

    def outer(self, vec2: Tensor) -> Tensor:
        return _ex.outer(self, vec2)

    def inner(self, other: Tensor) -> Tensor:
        return _ex.inner(self, other)

    def trace(self) -> Tensor:
        return _ex.trace(self)

    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        return _ex.swapaxes(self, axis0, axis1)

    def fliplr(self) -> Tensor:
        return _ex.fliplr(self)

    def flipud(self) -> Tensor:
        return _ex.flipud(self)

    def nansum(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        return _ex.nansum(self, dim, keepdim)

    def nanmean(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        return _ex.nanmean(self, dim, keepdim)

    def floor(self) -> Tensor:
        return _ex.floor(self)

    def ceil(self) -> Tensor:
        return _ex.ceil(self)

    def trunc(self) -> Tensor:
        return _ex.trunc(self)

    def frac(self) -> Tensor:
        return _ex.frac(self)

    def kron(self, other: Tensor) -> Tensor:
        return _ex.kron(self, other)

    def masked_select(self, mask: Tensor) -> Tensor:
        return _ex.masked_select(self, mask)

    def count_nonzero(self, dim: Dims = None) -> Tensor:
        return _ex.count_nonzero(self, dim)

    def round(self, *, decimals: int = 0) -> Tensor:
        return _ex.round(self, decimals=decimals)

    def rot90(self, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
        return _ex.rot90(self, k, dims)

    def take(self, index: Tensor) -> Tensor:
        return _ex.take(self, index)

    def nonzero(self, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
        return _ex.nonzero(self, as_tuple=as_tuple)

    def argwhere(self) -> Tensor:
        return _ex.argwhere(self)

    def repeat_interleave(self, repeats: int | Tensor, dim: int | None = None) -> Tensor:
        return _ex.repeat_interleave(self, repeats, dim)

    def sigmoid(self) -> Tensor:
        return _ew.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return _ew.Relu.apply(self)

    def abs(self) -> Tensor:
        return _ew.Abs.apply(self)

    def erf(self) -> Tensor:
        return _ew.Erf.apply(self)

    def sign(self) -> Tensor:
        return _ew.sign(self)

    def clamp(self, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:
        return _ew.clamp(self, min, max)

    clip = clamp

    def maximum(self, other: TensorLike) -> Tensor:
        return _ew.maximum(self, other)

    def minimum(self, other: TensorLike) -> Tensor:
        return _ew.minimum(self, other)

    def where(self, condition: TensorLike, other: TensorLike) -> Tensor:
        """``self`` where ``condition`` is true, else ``other``."""
        return _ew.where(condition, self, other)

    def isnan(self) -> Tensor:
        return _ew.isnan(self)

    def isinf(self) -> Tensor:
        return _ew.isinf(self)

    def isfinite(self) -> Tensor:
        return _ew.isfinite(self)

    def logical_not(self) -> Tensor:
        return _ew.logical_not(self)

    def logical_and(self, other: TensorLike) -> Tensor:
        return _ew.logical_and(self, other)

    def logical_or(self, other: TensorLike) -> Tensor:
        return _ew.logical_or(self, other)

    def logical_xor(self, other: TensorLike) -> Tensor:
        return _ew.logical_xor(self, other)

    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__

    # reductions
    def sum(self, dim: Dims = None, keepdim: bool = False, dtype: DTypeLike = None) -> Tensor:
        return _rd.sum(self, dim, keepdim, dtype)

    def prod(
        self, dim: int | None = None, keepdim: bool = False, dtype: DTypeLike = None
    ) -> Tensor:
        return _rd.prod(self, dim, keepdim, dtype)

    def cumsum(self, dim: int, dtype: DTypeLike = None) -> Tensor:
        return _rd.cumsum(self, dim, dtype)

    def cumprod(self, dim: int, dtype: DTypeLike = None) -> Tensor:
        return _cp.cumprod(self, dim, dtype)

    def mean(self, dim: Dims = None, keepdim: bool = False, dtype: DTypeLike = None) -> Tensor:
        return _cp.mean(self, dim, keepdim, dtype)

    def var(self, dim: Dims = None, correction: int = 1, keepdim: bool = False) -> Tensor:
        return _cp.var(self, dim, correction, keepdim)

    def std(self, dim: Dims = None, correction: int = 1, keepdim: bool = False) -> Tensor:
        return _cp.std(self, dim, correction, keepdim)

    def norm(
        self,
        p: float | str = "fro",
        dim: Dims = None,
        keepdim: bool = False,
        dtype: DTypeLike = None,
    ) -> Tensor:
        return _cp.norm(self, p, dim, keepdim, dtype)

    def logsumexp(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        return _cp.logsumexp(self, dim, keepdim)

    def amax(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        return _rd.amax(self, dim, keepdim)

    def amin(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        return _rd.amin(self, dim, keepdim)

    @overload
    def max(self, dim: None = None, keepdim: bool = False) -> Tensor: ...
    @overload
    def max(self, dim: Tensor) -> Tensor: ...
    @overload
    def max(self, dim: int, keepdim: bool = False) -> _mm.MinMax: ...
    def max(self, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | _mm.MinMax:
        """The largest element; over ``dim``, (values, indices); with a tensor, the elementwise maximum."""
        return _mm.max(self, dim, keepdim)

    @overload
    def min(self, dim: None = None, keepdim: bool = False) -> Tensor: ...
    @overload
    def min(self, dim: Tensor) -> Tensor: ...
    @overload
    def min(self, dim: int, keepdim: bool = False) -> _mm.MinMax: ...
    def min(self, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | _mm.MinMax:
        """The smallest element; over ``dim``, (values, indices); with a tensor, the elementwise minimum."""
        return _mm.min(self, dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _mm.argmax(self, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _mm.argmin(self, dim, keepdim)

    def sort(self, dim: int = -1, descending: bool = False, *, stable: bool = False) -> _mm.MinMax:
        return _so.sort(self, dim, descending, stable=stable)

    def argsort(self, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
        return _so.argsort(self, dim, descending, stable=stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> _mm.MinMax:
        return _so.topk(self, k, dim, largest, sorted)

    def all(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        return _rd.all(self, dim, keepdim)

    def any(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        return _rd.any(self, dim, keepdim)

    def softmax(self, dim: int, dtype: DTypeLike = None) -> Tensor:
        return _fused.softmax(self, dim, dtype)

    def log_softmax(self, dim: int, dtype: DTypeLike = None) -> Tensor:
        return _fused.log_softmax(self, dim, dtype)

    # shape
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return _sh.reshape(self, *shape)

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        """The same memory with a new shape; one dimension may be -1 (inferred).

        Writes through either tensor show in the other. Where the new shape cannot be laid on the
        existing memory (most transposed or expanded tensors) it raises RuntimeError: use
        ``reshape``, which copies when it must, or call ``contiguous()`` first.

        Args:
            *shape: the new shape, as ints or one sequence; its product must equal ``numel()``.

        Example:
            >>> import deepgrad as dg
            >>> dg.arange(6).view(2, -1)
            tensor([[0, 1, 2],
                    [3, 4, 5]])
        """
        return _sh.view(self, *shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        """``self.reshape(other.shape)``: a view where the memory allows, else a copy."""
        return _sh.reshape(self, other.shape)

    def view_as(self, other: Tensor) -> Tensor:
        """``self.view(other.shape)``: the same memory in ``other``'s shape."""
        return _sh.view(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _cp.flatten(self, start_dim, end_dim)

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        return _cp.unflatten(self, dim, sizes)

    def squeeze(self, dim: Dims = None) -> Tensor:
        return _cp.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return _cp.unsqueeze(self, dim)

    def unsqueeze_(self, dim: int) -> Tensor:
        """Insert a dimension of size 1 at ``dim``, in place; returns self.

        Only the shape changes (the tensor becomes the view ``unsqueeze(dim)``); no element moves.
        """
        return _ip.unsqueeze_(self, dim)

    def squeeze_(self, dim: Dims = None) -> Tensor:
        """Remove dimensions of size 1 (all, or those in ``dim``), in place; returns self."""
        return _ip.squeeze_(self, dim)

    def transpose_(self, dim0: int, dim1: int) -> Tensor:
        """Swap dimensions ``dim0`` and ``dim1``, in place; returns self.

        Only the shape and strides change (the tensor becomes the view ``transpose(dim0, dim1)``).
        """
        return _ip.transpose_(self, dim0, dim1)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        return _cp.narrow(self, dim, start, length)

    def isclose(
        self, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> Tensor:
        return _cmp.isclose(self, other, rtol, atol, equal_nan)

    def allclose(
        self, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> bool:
        return _cmp.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other: Tensor) -> bool:
        return _cmp.equal(self, other)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        return _sh.permute(self, *dims)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _sh.transpose(self, dim0, dim1)

    def t(self) -> Tensor:
        """The transpose of a 2-d tensor (a 0-d or 1-d tensor as it is)."""
        return _sh.transpose(self, 0, 1) if self._data.ndim == 2 else self

    @property
    def T(self) -> Tensor:
        """All dimensions reversed."""
        return _sh.permute(self, tuple(reversed(range(self._data.ndim))))

    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped (a batch of transposed matrices)."""
        return _sh.transpose(self, -2, -1)

    def movedim(self, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
        return _cp.movedim(self, source, destination)

    def expand(self, *sizes: int | Sequence[int]) -> Tensor:
        return _sh.expand(self, *sizes)

    def expand_as(self, other: Tensor) -> Tensor:
        """``self.expand(other.shape)``: broadcast to ``other``'s shape without copying."""
        return _sh.expand(self, other.shape)

    def broadcast_to(self, size: Sequence[int]) -> Tensor:
        return _cp.broadcast_to(self, size)

    def repeat(self, *sizes: int | Sequence[int]) -> Tensor:
        return _cp.repeat(self, *sizes)

    def tile(self, dims: Sequence[int]) -> Tensor:
        return _cp.tile(self, dims)

    def split(
        self, split_size_or_sections: int | Sequence[int], dim: int = 0
    ) -> tuple[Tensor, ...]:
        return _cp.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _cp.chunk(self, chunks, dim)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        return _cp.unbind(self, dim)

    def flip(self, dims: int | Sequence[int]) -> Tensor:
        return _cp.flip(self, dims)

    def roll(self, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
        return _cp.roll(self, shifts, dims)

    def tril(self, diagonal: int = 0) -> Tensor:
        return _cp.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return _cp.triu(self, diagonal)

    def diag(self, diagonal: int = 0) -> Tensor:
        return _ix.diag(self, diagonal)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        return _ix.diagonal(self, offset, dim1, dim2)

    def unfold(self, dimension: int, size: int, step: int) -> Tensor:
        """The windows of ``size`` elements along ``dimension``, ``step`` apart, in a new last dim.

        out[..., w, ..., j] = self[..., w * step + j, ...]: ``dimension`` becomes the number of
        windows, (n - size) // step + 1. Overlapping windows add their gradients.

        Example:
            >>> import deepgrad as dg
            >>> dg.arange(5).unfold(0, 2, 2)
            tensor([[0, 1],
                    [2, 3]])
        """
        return _ix.unfold(self, dimension, size, step)

    # indexing
    def gather(self, dim: int, index: Tensor) -> Tensor:
        return _ix.gather(self, dim, index)

    def take_along_dim(self, indices: Tensor, dim: int | None = None) -> Tensor:
        return _ix.take_along_dim(self, indices, dim)

    def scatter_add(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        return _ix.scatter_add(self, dim, index, src)

    def index_select(self, dim: int, index: Tensor) -> Tensor:
        return _ix.index_select(self, dim, index)

    def masked_fill(self, mask: Tensor, value: TensorLike) -> Tensor:
        return _ix.masked_fill(self, mask, value)

    def masked_scatter(self, mask: Tensor, source: Tensor) -> Tensor:
        return _ix.masked_scatter(self, mask, source)

    def scatter(self, dim: int, index: Tensor, src: Tensor | Number) -> Tensor:
        return _ix.scatter(self, dim, index, src)

    def index_add(self, dim: int, index: Tensor, source: Tensor, *, alpha: Number = 1) -> Tensor:
        return _ix.index_add(self, dim, index, source, alpha=alpha)

    # random draws
    def multinomial(
        self, num_samples: int, replacement: bool = False, *, generator: Generator | None = None
    ) -> Tensor:
        return _cr.multinomial(self, num_samples, replacement, generator=generator)

    # linear algebra
    def matmul(self, other: Tensor) -> Tensor:
        return _la.matmul(self, other)

    mm = matmul

    def bmm(self, other: Tensor) -> Tensor:
        return _la.bmm(self, other)

    def baddbmm(
        self, batch1: Tensor, batch2: Tensor, *, beta: Number = 1, alpha: Number = 1
    ) -> Tensor:
        return _la.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    # new tensors with this one's dtype and device (unless given)
    def new_tensor(
        self,
        data: Any,
        dtype: DTypeLike = None,
        device: DeviceLike | None = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """A copy of ``data`` as a tensor, with this tensor's dtype and device unless given.

        Args:
            data: a tensor, array, nested list or number; always copied.
            dtype: the dtype. Default: ``self.dtype``.
            device: the device. Default: ``self.device``.
            requires_grad: whether the result requires grad. Default: False.
        """
        return _cr.new_tensor(self, data, dtype, device, requires_grad)

    def new_zeros(
        self,
        *size: int | Sequence[int],
        dtype: DTypeLike = None,
        device: DeviceLike | None = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """Zeros of shape ``size``, with this tensor's dtype and device unless given.

        Args as ``new_tensor``; ``size`` as ints or one sequence.
        """
        return _cr.new_zeros(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_ones(
        self,
        *size: int | Sequence[int],
        dtype: DTypeLike = None,
        device: DeviceLike | None = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """Ones of shape ``size``, with this tensor's dtype and device unless given.

        Args as ``new_tensor``; ``size`` as ints or one sequence.
        """
        return _cr.new_ones(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_empty(
        self,
        *size: int | Sequence[int],
        dtype: DTypeLike = None,
        device: DeviceLike | None = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """An uninitialized tensor of shape ``size``, this tensor's dtype and device by default.

        Its values are whatever the memory held: write before reading. Args as ``new_tensor``.
        """
        return _cr.new_empty(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_full(
        self,
        size: Sequence[int],
        fill_value: Number,
        dtype: DTypeLike = None,
        device: DeviceLike | None = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """``fill_value`` everywhere, shape ``size``; ``self``'s dtype and device unless given.

        Args as ``new_tensor``.

        Example:
            >>> import deepgrad as dg
            >>> dg.zeros(3).new_full((2, 2), 7)
            tensor([[7., 7.],
                    [7., 7.]])
        """
        return _cr.new_full(self, size, fill_value, dtype, device, requires_grad)

    # copies and conversions (the dtype shorthands come last: ``def float`` would hide the
    # builtin ``float`` from the annotations of every method after it)
    def clone(self) -> Tensor:
        """A copy with its own memory that stays in the graph: y = x, dx = dy.

        Unlike ``detach()``, gradients flow back through the copy.
        """
        return _cv.Clone.apply(self)

    def to(
        self,
        *args: Any,
        dtype: DTypeLike = None,
        device: DeviceLike | None = None,
        copy: bool = False,
    ) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        return _cv.to(self, *args, dtype=dtype, device=device, copy=copy)

    def cpu(self) -> Tensor:
        """This tensor on the CPU (itself when already there); the copy is differentiable."""
        return _cv.to(self, device="cpu")

    def cuda(self, device: DeviceLike = "cuda") -> Tensor:
        """This tensor on a CUDA GPU (needs CuPy), itself when already there; differentiable.

        Args:
            device: ``"cuda"``, ``"cuda:<index>"`` or a ``Device``. Default: ``"cuda"``.
        """
        return _cv.to(self, device=device)

    @overload
    def type(self) -> str: ...
    @overload
    def type(self, dtype: DTypeLike) -> Tensor: ...
    def type(self, dtype: DTypeLike = None) -> str | Tensor:
        """``t.type()`` names the dtype; ``t.type(dtype)`` converts (PyTorch's old spelling)."""
        return _cv.type_name(self) if dtype is None else _cv.to_type(self, dtype)

    def float(self) -> Tensor:
        """This tensor as float32 (itself when it already is); float casts are differentiable."""
        return _ew.to_dtype(self, backend.float32)

    def double(self) -> Tensor:
        """This tensor as float64 (itself when it already is); float casts are differentiable."""
        return _ew.to_dtype(self, backend.float64)

    def half(self) -> Tensor:
        """This tensor as float16 (itself when it already is); float casts are differentiable."""
        return _ew.to_dtype(self, backend.float16)

    def bfloat16(self) -> Tensor:
        """This tensor as bfloat16 (needs the ``ml_dtypes`` package); the cast is differentiable."""
        return _ew.to_dtype(self, backend.bfloat16_dtype())

    def long(self) -> Tensor:
        """This tensor as int64 (floats truncate toward zero); the result is outside the graph."""
        return _ew.to_dtype(self, backend.int64)

    def int(self) -> Tensor:
        """This tensor as int32 (floats truncate toward zero); the result is outside the graph."""
        return _ew.to_dtype(self, backend.int32)

    def bool(self) -> Tensor:
        """This tensor as bool (nonzero is True); the result is outside the graph."""
        return _ew.to_dtype(self, backend.bool_)


_new = object.__new__


class _HookHandle:
    def __init__(self, hooks: list, hook: Callable[[Tensor], Tensor | None]) -> None:
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        hooks = self._hooks
        for i, h in enumerate(hooks):
            if h is self._hook:
                del hooks[i]
                break


# The math lives in deepgrad.ops (rank 2), whose modules import Tensor: so they are imported
# here, after the class exists, binding module objects only (nothing is read from them until
# a method runs). This is autograd's one upward import; tests/test_layering.py allows it by
# name. It relies on autograd being imported before ops, as deepgrad/__init__.py does.
from deepgrad.ops import comparison as _cmp
from deepgrad.ops import composite as _cp
from deepgrad.ops import conversion as _cv
from deepgrad.ops import creation as _cr
from deepgrad.ops import elementwise as _ew
from deepgrad.ops import extra as _ex
from deepgrad.ops import fused as _fused
from deepgrad.ops import index as _ix
from deepgrad.ops import inplace as _ip
from deepgrad.ops import linalg as _la
from deepgrad.ops import minmax as _mm
from deepgrad.ops import reduce as _rd
from deepgrad.ops import shape as _sh
from deepgrad.ops import sorting as _so
