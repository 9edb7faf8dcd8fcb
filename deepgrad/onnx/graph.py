"""The ONNX graph being built: values, nodes, initializers, and the names of traced arrays.

``GraphBuilder`` is what every converter talks to. It knows, for each array seen while the model
ran, which ONNX value holds it (``value``); it emits nodes (``node``) and constants
(``constant``, ``ints``), and hides the few operator differences between opsets (``reduce``,
``squeeze``). Arrays are looked up by identity: a traced primitive's output array, a model input's
array, a parameter's or buffer's array (named as in ``state_dict``). Any other array a primitive
reads is a constant of the exported graph (its values at export time).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

# reductions whose axes became an input (instead of an attribute) in this opset
_AXES_AS_INPUT = {"ReduceSum": 13}
_AXES_AS_INPUT_LATER = 18  # ReduceMax, ReduceMin, ReduceProd, ReduceMean, ...


class UnsupportedOperatorError(RuntimeError):
    """The model uses an operation (a primitive, a module, an argument) with no ONNX conversion."""


def unsupported(what: str, detail: str, fix: str) -> UnsupportedOperatorError:
    """The export's one error: names the operation, says why, and how to get around it."""
    return UnsupportedOperatorError(
        f"deepgrad.onnx.export: no ONNX conversion for {what} ({detail}); {fix}."
    )


def _as_numpy(array: Any) -> np.ndarray:
    """A host copy of a backend array (NumPy arrays pass through; CuPy arrays are copied)."""
    if isinstance(array, np.ndarray):
        return array
    get = getattr(array, "get", None)
    return np.asarray(get() if get is not None else array)


class GraphBuilder:
    """Collects the nodes and initializers of one exported graph (see the module docstring).

    Args:
        opset: the ONNX opset version of the ``ai.onnx`` domain the nodes are written for.
        named: id(array) -> (name, array) of the model's parameters and buffers; they become
            initializers under these names the first time a node reads them.
    """

    def __init__(self, opset: int, named: dict[int, tuple[str, Any]]) -> None:
        from onnx import helper, numpy_helper

        self._helper, self._numpy_helper = helper, numpy_helper
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._named = named
        self._values: dict[int, str] = {}
        self._keep: list[Any] = []  # arrays stay alive while their id names a value
        self._taken: set[str] = set()
        self._small: dict[tuple, str] = {}
        self._count = 0

    # -- names ---------------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A value name not used yet, built from ``hint``."""
        name = hint
        while name in self._taken:
            self._count += 1
            name = f"{hint}_{self._count}"
        self._taken.add(name)
        return name

    def bind(self, array: Any, name: str) -> None:
        """From now on the array ``array`` is the ONNX value ``name``."""
        self._values[id(array)] = name
        self._keep.append(array)

    def known(self, x: Tensor | Any) -> bool:
        """Whether ``x`` (a Tensor or an array) is a traced value, an input or a parameter."""
        array = x._data if isinstance(x, Tensor) else x
        return id(array) in self._values or id(array) in self._named

    # -- values --------------------------------------------------------------------------------
    def value(self, x: Tensor | Any, dtype: Any = None) -> str:
        """The ONNX value holding ``x``; an array the trace does not know becomes a constant.

        ``dtype``: the type the value must have; a constant is converted, a traced value gets a Cast.
        """
        array = x._data if isinstance(x, Tensor) else x
        name = self._values.get(id(array))
        if name is None and id(array) in self._named:
            name = self._parameter(id(array))
        if name is None:
            host = _as_numpy(array)
            return self.constant(host if dtype is None else host.astype(dtype))
        if dtype is not None and np.dtype(array.dtype) != np.dtype(dtype):
            return self.node("Cast", [name], to=self.tensor_type(dtype))
        return name

    def _parameter(self, key: int) -> str:
        name, array = self._named[key]
        self._taken.add(name)
        self.initializers.append(self._numpy_helper.from_array(_as_numpy(array), name))
        self.bind(array, name)
        return name

    def constant(self, array: Any, hint: str = "const") -> str:
        """An initializer holding ``array`` (small ones are shared by value)."""
        host = np.ascontiguousarray(_as_numpy(array))
        key = None
        if host.size <= 16:
            key = (host.dtype.str, host.shape, host.tobytes())
            if key in self._small:
                return self._small[key]
        name = self.fresh(hint)
        self.initializers.append(self._numpy_helper.from_array(host, name))
        if key is not None:
            self._small[key] = name
        return name

    def ints(self, values: Iterable[int]) -> str:
        """A 1-D int64 constant (shapes, axes, slice bounds)."""
        return self.constant(np.asarray(list(values), dtype=np.int64))

    def scalar(self, value: float, dtype: Any) -> str:
        """A 0-d constant of ``dtype``."""
        return self.constant(np.asarray(value, dtype=dtype))

    def tensor_type(self, dtype: Any) -> int:
        """The ONNX element type of a NumPy dtype."""
        return int(self._helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))

    # -- nodes ---------------------------------------------------------------------------------
    def node(self, op: str, inputs: Sequence[str], **attributes: Any) -> str:
        """Emit one node with one output; returns the output's name."""
        return self.node_multi(op, inputs, 1, **attributes)[0]

    def node_multi(
        self, op: str, inputs: Sequence[str], outputs: int, **attributes: Any
    ) -> list[str]:
        """Emit one node with ``outputs`` outputs; returns their names."""
        names = [self.fresh(f"{op}_{len(self.nodes)}_out{i}") for i in range(outputs)]
        attributes = {k: v for k, v in attributes.items() if v is not None}
        self.nodes.append(
            self._helper.make_node(
                op, list(inputs), names, name=f"{op}_{len(self.nodes)}", **attributes
            )
        )
        return names

    def reduce(self, op: str, x: str, axes: Sequence[int], keepdims: bool) -> str:
        """A Reduce* node over ``axes``, with the axes as an input or an attribute as the opset wants."""
        since = _AXES_AS_INPUT.get(op, _AXES_AS_INPUT_LATER)
        if self.opset >= since:
            return self.node(op, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.node(op, [x], axes=list(axes), keepdims=int(keepdims))

    def squeeze(self, x: str, axes: Sequence[int]) -> str:
        """Drop the size-1 ``axes``."""
        return self.node("Squeeze", [x, self.ints(axes)]) if axes else x

    def unsqueeze(self, x: str, axes: Sequence[int]) -> str:
        """Insert size-1 dimensions at ``axes`` (positions in the output)."""
        return self.node("Unsqueeze", [x, self.ints(axes)]) if axes else x

    def transpose(self, x: str, perm: Sequence[int]) -> str:
        """Reorder the dimensions (no node for the identity order)."""
        perm = list(perm)
        return x if perm == sorted(perm) else self.node("Transpose", [x], perm=perm)
