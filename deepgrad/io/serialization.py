"""save / load: state dicts in the safetensors format, without pickle.

File layout (a standard safetensors file, readable by any safetensors reader):

- every tensor is stored under a dotted key made from its path in the object:
  ``{"model": {"0.weight": w}}`` stores ``w`` as ``"model.0.weight"``;
- the safetensors metadata holds ``"format": "deepgrad"``, the deepgrad version, the
  structure of the object as JSON (dicts with their str or int keys, lists, tuples,
  numbers, strings, None, and references to the stored tensors) and the caller's
  ``metadata``.

Loading parses JSON and raw tensor bytes only, so a file can never run code. A plain
safetensors file written by another tool loads as a flat dict of tensors.

Writes are atomic: the bytes go to a temporary file in the same folder, which is
flushed, fsync'ed and then renamed over the target (``os.replace``). A crash or an
error mid-write leaves the previous file untouched (DESIGN principle 9).
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import safetensors.numpy

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import parse_device, to_device

FORMAT = "deepgrad"
FORMAT_VERSION = "1"
_STRUCTURE_KEY = "deepgrad.structure"
_METADATA_KEY = "deepgrad.metadata"
_CHUNK = 1 << 24


class SerializationError(ValueError):
    """A file that is not a (complete) safetensors / deepgrad file, or an object that cannot be saved."""


# -- encoding -----------------------------------------------------------------------------------
class _Encoder:
    """Turns a nested object into (JSON-able structure, {dotted key: array})."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def key_for(self, path: list) -> str:
        base = ".".join(str(p) for p in path) or "tensor"
        key, n = base, 1
        while key in self.arrays:  # e.g. {"a.b": t1, "a": {"b": t2}} would collide
            key = f"{base}#{n}"
            n += 1
        return key

    def encode(self, obj, path: list):
        if isinstance(obj, Tensor):
            return self.add_array(obj._data, path, "tensor")
        if isinstance(obj, np.ndarray):
            return self.add_array(obj, path, "ndarray")
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, np.generic):
            return self.encode(obj.item(), path)
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    raise SerializationError(
                        f"deepgrad.save: dict keys must be str or int (got {key!r} at {_where(path)})"
                    )
                items.append([key, self.encode(value, [*path, key])])
            return {"__dict__": items}
        if isinstance(obj, list):
            return [self.encode(v, [*path, i]) for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, [*path, i]) for i, v in enumerate(obj)]}
        hint = " save model.state_dict() instead of the model;" if hasattr(obj, "state_dict") else ""
        raise SerializationError(
            f"deepgrad.save: cannot save a {type(obj).__name__} at {_where(path)};{hint} only tensors, arrays, "
            "dicts, lists, tuples, numbers, strings and None can be saved (no pickle)."
        )

    def add_array(self, array, path: list, kind: str) -> dict:
        if not isinstance(array, np.ndarray):
            array = to_device(array, parse_device("cpu"))
        key = self.key_for(path)
        # np.ascontiguousarray would turn a 0-d array into shape (1,)
        self.arrays[key] = array if array.flags.c_contiguous else array.copy(order="C")
        return {"__" + kind + "__": key}


def _where(path: list) -> str:
    return "the top level" if not path else "key " + ".".join(str(p) for p in path)


def _decode(node, arrays: dict, device, path: str):
    if isinstance(node, list):
        return [_decode(v, arrays, device, path) for v in node]
    if not isinstance(node, dict):
        return node
    if "__dict__" in node:
        return OrderedDict((k, _decode(v, arrays, device, path)) for k, v in node["__dict__"])
    if "__tuple__" in node:
        return tuple(_decode(v, arrays, device, path) for v in node["__tuple__"])
    if "__float__" in node:
        return float(node["__float__"])
    for kind in ("tensor", "ndarray"):
        key = node.get("__" + kind + "__")
        if key is not None:
            if key not in arrays:
                raise SerializationError(
                    f"deepgrad.load: {path}: the structure names tensor {key!r}, which the file lacks"
                )
            array = arrays[key]
            if kind == "ndarray":
                return array
            return Tensor._make(array if device is None else to_device(array, device), None)
    raise SerializationError(f"deepgrad.load: {path}: unknown entry in the structure: {sorted(node)}")


# -- writing ------------------------------------------------------------------------------------
def save(obj, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Save a state dict (nested dicts/lists of tensors and JSON-able values) as a safetensors file.

    Args:
        obj: e.g. ``model.state_dict()``, ``optimizer.state_dict()``, or a dict holding several
            of them plus numbers such as the epoch.
        path: the file to write (conventionally ``*.safetensors``). Written atomically.
        metadata: optional JSON-able dict stored alongside (read back with ``load_metadata``).

    Example:
        >>> import deepgrad, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> deepgrad.save({"w": deepgrad.ones(2), "epoch": 3}, path)
        >>> deepgrad.load(path)["epoch"]
        3
    """
    encoder = _Encoder()
    structure = encoder.encode(obj, [])
    header = {"format": FORMAT, "deepgrad.format_version": FORMAT_VERSION, _STRUCTURE_KEY: json.dumps(structure)}
    if metadata is not None:
        try:
            header[_METADATA_KEY] = json.dumps(metadata)
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"deepgrad.save: metadata must be JSON-able ({exc})") from None
    data = safetensors.numpy.save(encoder.arrays, metadata=header)
    _write_atomic(Path(path), data)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, fsync it, then rename it over ``path``."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"deepgrad.save: folder {str(folder)!r} does not exist; create it first.")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_chunks(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _write_chunks(f, data: bytes) -> None:
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        f.write(view[start : start + _CHUNK])


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); not possible on every platform, so best effort."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading ------------------------------------------------------------------------------------
def _header(name: str, head: bytes, file_size: int) -> dict:
    """The JSON header's ``__metadata__`` of a safetensors file whose first bytes are ``head``."""
    if file_size < 8:
        raise SerializationError(
            f"deepgrad.load: {name!r} is not a safetensors file (only {file_size} bytes); it may be truncated."
        )
    (header_size,) = struct.unpack("<Q", head[:8])
    if header_size > file_size - 8:
        raise SerializationError(
            f"deepgrad.load: {name!r} is not a complete safetensors file (header of {header_size} bytes, "
            f"file of {file_size} bytes); it may be truncated or not a deepgrad/safetensors file."
        )
    try:
        header = json.loads(head[8 : 8 + header_size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationError(
            f"deepgrad.load: {name!r} is not a safetensors file (its header is not JSON: {exc})"
        ) from None
    if not isinstance(header, dict):
        raise SerializationError(f"deepgrad.load: {name!r} has a malformed safetensors header")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise SerializationError(f"deepgrad.load: {name!r} has a malformed safetensors metadata record")
    return metadata


def _read(path: str | os.PathLike) -> tuple[dict, dict, str]:
    """(metadata dict, {key: array}, path text) of a safetensors file, with clear errors."""
    name = os.fspath(path)
    with open(name, "rb") as f:
        data = f.read()
    metadata = _header(name, data, len(data))
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as exc:  # safetensors raises its own error type for every kind of damage
        raise SerializationError(
            f"deepgrad.load: {name!r} is not a valid safetensors file ({type(exc).__name__}: {exc}); "
            "it may be truncated or was not written by deepgrad.save."
        ) from None
    arrays = {k: (a if a.flags.writeable else a.copy()) for k, a in arrays.items()}
    return metadata, arrays, name


def load(path: str | os.PathLike, map_location=None):
    """Load what ``save`` wrote (or any safetensors file, as a flat dict of tensors).

    Args:
        path: the file.
        map_location: device for the loaded tensors ("cpu", "cuda", "cuda:1", a Device).
            Default: cpu.

    Returns:
        The saved object: dicts come back as OrderedDicts (int keys stay ints), tensors as
        Tensors (requires_grad=False), NumPy arrays as arrays.

    Raises:
        SerializationError: the file is not a complete safetensors file (the message names it).
    """
    metadata, arrays, name = _read(path)
    device = parse_device(map_location) if map_location is not None else None
    if device is not None and device.type == "cpu":
        device = None
    if metadata.get("format") != FORMAT or _STRUCTURE_KEY not in metadata:
        return OrderedDict(
            (k, Tensor._make(a if device is None else to_device(a, device), None)) for k, a in arrays.items()
        )
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
    except json.JSONDecodeError as exc:
        raise SerializationError(f"deepgrad.load: {name!r} has a damaged structure record ({exc})") from None
    return _decode(structure, arrays, device, name)


def load_metadata(path: str | os.PathLike) -> dict | None:
    """The ``metadata`` dict given to ``save`` (None if there was none)."""
    name = os.fspath(path)
    with open(name, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        if len(head) == 8:
            head += f.read(min(struct.unpack("<Q", head)[0], size))
    metadata = _header(name, head, size)
    if _METADATA_KEY not in metadata:
        return None
    try:
        return json.loads(metadata[_METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise SerializationError(f"deepgrad.load_metadata: {name!r} has damaged metadata ({exc})") from None
