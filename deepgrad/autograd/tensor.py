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
from deepgrad.autograd.grad_mode import GradMode
from deepgrad.backend import DTypeError, device_of, get_array_module, to_dtype

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

    __slots__ = ("_data", "requires_grad", "grad_fn", "__weakref__", "__dict__")
    __array_priority__ = 1000  # numpy_array * tensor -> Tensor.__rmul__
    # Rarely set attributes default on the class, so that making a tensor (once per op) is cheap.
    grad = None
    _version = 0
    _hooks = None

    def __init__(self, data, dtype=None, device=None, requires_grad: bool = False):
        self._data = backend.as_array(data, dtype, device)
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(array, grad_fn) -> "Tensor":
        """Internal fast constructor used by every op: no checks, no copies."""
        t = _new(Tensor)
        t._data = array
        t.grad_fn = grad_fn
        t.requires_grad = grad_fn is not None
        return t

    # -- the array and its description ------------------------------------------------------
    @property
    def data(self) -> "Tensor":
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
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Turn gradient tracking on or off for this leaf, in place."""
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "requires_grad_(False): this tensor is computed from others (not a leaf); use .detach()."
                )
            return self
        if requires_grad and not backend.is_floating(self._data.dtype):
            raise DTypeError(
                f"requires_grad: only floating-point tensors can require gradients (got {self.dtype}); "
                "convert first with .float() or .double()."
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, outside the graph (requires_grad=False)."""
        return Tensor._make(self._data, None)

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("retain_grad(): tensor does not require grad")
            return
        self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self.grad_fn is not None and self.grad_fn.retained is not None and self.grad_fn.retained() is self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
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

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False, inputs=None):
        """Compute the gradient of this tensor with respect to the graph's leaves.

        Gradients accumulate into ``leaf.grad``. For a non-scalar tensor, pass ``gradient``
        (the vector in the vector-Jacobian product). ``retain_graph`` keeps the saved values
        for a second backward; ``create_graph`` records the backward pass for higher-order
        gradients.
        """
        from deepgrad.autograd.engine import run_backward

        if retain_graph is None:
            retain_graph = create_graph
        run_backward((self,), (gradient,), retain_graph, create_graph, inputs=inputs)

    def _bump_version(self) -> None:
        self._version += 1

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
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _check_dtype(dtype):
    return to_dtype(dtype)
