"""Collation: a list of samples -> one batch, with PyTorch's rules.

``default_collate`` turns the samples a dataset returns (tensors, NumPy arrays,
numbers, and tuples / lists / dicts / namedtuples of them, nested) into a batch of
the same structure whose leaves are Tensors with a new first (batch) axis.
``default_convert`` does the same for one sample without adding an axis (what a
``DataLoader(batch_size=None)`` applies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError, get_array_module


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _stack(arrays: list, path: str):
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ShapeError(
            f"collate: {path} has samples of different shapes ({sorted(shapes)}); "
            "pad or resize them, or pass a collate_fn"
        )
    return Tensor._make(get_array_module(arrays[0]).stack(arrays), None)


def _rebuild(elem, values: list):
    """A container of ``type(elem)`` holding ``values`` (a plain list if the type cannot be rebuilt)."""
    try:
        return type(elem)(values)
    except TypeError:
        return values


def _collate(batch: list, path: str):
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b._data for b in batch], path)
    if isinstance(elem, np.ndarray) or hasattr(elem, "__cuda_array_interface__"):
        if isinstance(elem, np.ndarray) and elem.dtype.kind in "USO":
            raise TypeError(
                f"default_collate: {path} holds arrays of dtype {elem.dtype}; only numeric arrays collate"
            )
        return _stack(list(batch), path)
    if isinstance(elem, np.generic) and elem.dtype.kind not in "USO":
        return Tensor._make(np.array(batch), None)  # NumPy scalars keep their dtype (as PyTorch)
    if isinstance(elem, bool):
        return Tensor._make(np.array(batch, dtype=np.bool_), None)
    if isinstance(elem, float):
        # deepgrad's default float dtype (PyTorch makes float64 here; deepgrad keeps float32)
        return Tensor._make(np.array(batch, dtype=np.float32), None)
    if isinstance(elem, int):
        return Tensor._make(np.array(batch, dtype=np.int64), None)
    if isinstance(elem, (str, bytes)):
        return batch  # as it came: a list, or a tuple for a field of tuples (as PyTorch)
    if isinstance(elem, Mapping):
        out = {key: _collate([d[key] for d in batch], f"{path}[{key!r}]") for key in elem}
        return out if type(elem) is dict else _rebuild(elem, out)
    if isinstance(elem, Sequence):
        width = len(elem)
        if any(not isinstance(s, Sequence) or len(s) != width for s in batch):
            raise ShapeError(
                f"collate: every sample must have the same number of fields ({path} of sample 0 has "
                f"{width}); give all samples the same structure, or pass a collate_fn"
            )
        columns = [_collate(c, _field(path, i)) for i, c in enumerate(zip(*batch))]
        if _is_namedtuple(elem):
            return type(elem)(*columns)
        if isinstance(elem, tuple):
            return columns  # tuples of fields become a list of batches (as PyTorch)
        return _rebuild(elem, columns)
    raise TypeError(
        f"default_collate: samples must hold Tensors, NumPy arrays, numbers, strings, dicts or "
        f"sequences (got {type(elem).__name__} at {path}); pass a collate_fn for other types"
    )


def _field(path: str, i: int) -> str:
    return f"field {i}" if path == "the batch" else f"{path}[{i}]"


def default_collate(batch: list) -> Any:
    """Stack a list of samples into one batch of the samples' structure, leaves as Tensors.

    Rules (PyTorch's): Tensors and NumPy arrays are stacked along a new first axis; NumPy
    scalars and Python ints / bools become 1-D Tensors (dtype kept; ints -> int64); Python
    floats become float32 (deepgrad's default float dtype; PyTorch gives float64 here);
    strings and bytes stay a list; dicts are collated key by key; namedtuples stay
    namedtuples; tuples become a list of batched fields, lists stay lists.

    Args:
        batch: the samples, all with the same structure.

    Returns:
        the batch: a Tensor, or a list / dict / namedtuple of batches.

    Raises:
        ShapeError: samples of one field differ in shape or in number of fields.
        TypeError: a leaf of a type that cannot be collated.

    Example:
        >>> x, y = default_collate([(1.0, 0), (2.0, 1)])
        >>> x.shape, y.dtype
        ((2,), dtype('int64'))
        >>> default_collate([{"a": (1, 2)}, {"a": (3, 4)}])["a"][1].tolist()
        [2, 4]
    """
    if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)) or not len(batch):
        raise ValueError(
            f"default_collate: batch must be a non-empty list of samples (got {batch!r:.80})"
        )
    return _collate(batch, "the batch")


def default_convert(data: Any) -> Any:
    """One sample with its NumPy arrays and NumPy scalars turned into Tensors (no batch axis).

    Containers keep their structure (tuples become lists, as PyTorch); Python numbers and
    other objects are returned as they are.

    Example:
        >>> import numpy as np
        >>> out = default_convert((np.zeros(2), 3))
        >>> type(out[0]).__name__, out[1]
        ('Tensor', 3)
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
        if isinstance(data, np.ndarray) and data.dtype.kind in "USO":
            return data
        return Tensor._make(data, None)
    if isinstance(data, np.generic) and data.dtype.kind not in "USO":
        return Tensor._make(np.asarray(data), None)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, Mapping):
        out = {key: default_convert(value) for key, value in data.items()}
        return out if type(data) is dict else _rebuild(data, out)
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence):
        return _rebuild(data, [default_convert(d) for d in data])
    return data


__all__ = ["default_collate", "default_convert"]
