"""Tensor: an n-dimensional array (NumPy or CuPy) that can record how it was computed.

This module holds the data model only: attributes, conversion, the gradient
bookkeeping and ``backward``. The math (``+``, ``exp``, ``sum``, ``reshape`` ...)
is attached by ``deepgrad.ops`` as one-line delegations to the primitives, so
that ``autograd`` stays free of math rules.
"""

from __future__ import annotations

import weakref

import numpy as np

from deepgrad import backend
from deepgrad.backend import DTypeError, device_of, get_array_module

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
    grad = None
    _version = 0
    _hooks = None

    def __init__(self, data, dtype=None, device=None, requires_grad: bool = False):
        self._data = backend.as_array(data, dtype, device)
        self.grad_fn = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(array, grad_fn) -> Tensor:
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
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else value

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def device(self):
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def xp(self):
        """The array module of this tensor's data (numpy or cupy)."""
        return np if type(self._data) is _ndarray else get_array_module(self._data)

    def size(self, dim: int | None = None):
        """The shape (PyTorch alias), or the size of one dimension."""
        if dim is None:
            return self._data.shape
        return self._data.shape[dim]

    def numel(self) -> int:
        return int(self._data.size)

    def dim(self) -> int:
        return self._data.ndim

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

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

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted (got shape {self.shape})")
        return self._data.reshape(()).item() if type(self._data) is _ndarray else self._data.get().item()

    def tolist(self):
        return (self._data if type(self._data) is _ndarray else self._data.get()).tolist()

    def __array__(self, dtype=None, copy=None):
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

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
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

    def detach_(self) -> Tensor:
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
        return self.grad_fn is not None and self.grad_fn.retained is not None and self.grad_fn.retained() is self

    def register_hook(self, hook):
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

    def backward(
        self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False, inputs=None
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
        body = np.array2string(arr, separator=", ", prefix="tensor(", precision=4, threshold=200, edgeitems=3)
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


_new = object.__new__


class _HookHandle:
    def __init__(self, hooks: list, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        hooks = self._hooks
        for i, h in enumerate(hooks):
            if h is self._hook:
                del hooks[i]
                break
