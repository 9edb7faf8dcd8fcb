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
error mid-write leaves the previous file untouched (DESIGN principle 9). ``save`` and ``load``
also take open binary file objects (``open(path, "wb")`` / ``"rb"``, ``io.BytesIO``), as
PyTorch's do; a file object is written in place, not atomically.

Reading is bounded (see ``deepgrad.io.reader``): every size in the header is checked against the
file before anything is allocated, the saved object may nest at most ``MAX_DEPTH`` levels deep,
and whatever the bytes, ``load`` and ``load_metadata`` raise only ``SerializationError`` (plus
``OSError`` for a file that cannot be opened), with the file's name in the message.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any

import numpy as np
import safetensors.numpy

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import Device, parse_device, to_device
from deepgrad.io.reader import SerializationError, header_length, parse, parse_metadata
from deepgrad.io.torch_pickle import is_pytorch_zip, load_pytorch_bytes

FORMAT = "deepgrad"
FORMAT_VERSION = "1"
_STRUCTURE_KEY = "deepgrad.structure"
_METADATA_KEY = "deepgrad.metadata"
_CHUNK = 1 << 24
MAX_DEPTH = 64  # levels of nested dicts/lists/tuples that save writes and load reads back

FileLike = str | os.PathLike | IO[bytes]


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
        if isinstance(obj, (dict, list, tuple)) and len(path) >= MAX_DEPTH:
            raise SerializationError(
                f"deepgrad.save: the object nests deeper than {MAX_DEPTH} levels (at {_where(path[:3])}...); "
                "flatten it (a self-referencing list or dict also ends here)."
            )
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
        raise SerializationError(
            f"deepgrad.save: cannot save a {type(obj).__name__} at {_where(path)};{_state_dict_hint(obj)} "
            "only tensors, arrays, dicts, lists, tuples, numbers, strings and None can be saved (no pickle)."
        )

    def add_array(self, array, path: list, kind: str) -> dict:
        if not isinstance(array, np.ndarray):
            array = to_device(array, parse_device("cpu"))
        key = self.key_for(path)
        # np.ascontiguousarray would turn a 0-d array into shape (1,)
        self.arrays[key] = array if array.flags.c_contiguous else array.copy(order="C")
        return {"__" + kind + "__": key}


def _state_dict_hint(obj) -> str:
    """For a Module or an Optimizer (anything with a state_dict): what to save instead."""
    if not callable(getattr(obj, "state_dict", None)):
        return ""
    name = "optimizer" if hasattr(obj, "param_groups") else "model"
    return (
        f" save {name}.state_dict() instead of the whole {type(obj).__name__}, and restore it with "
        f"{name}.load_state_dict(deepgrad.load(f)) into a freshly built one (deepgrad.save never pickles "
        "objects);"
    )


def _where(path: list) -> str:
    return "the top level" if not path else "key " + ".".join(str(p) for p in path)


def _decode(node, arrays: dict, device: Device | None, name: str, depth: int = 0):
    """The object a structure record describes; ``SerializationError`` for anything malformed."""
    if isinstance(node, (list, dict)) and depth >= MAX_DEPTH:
        raise SerializationError(
            f"deepgrad.load: {name!r}: the saved object nests deeper than {MAX_DEPTH} levels; "
            "deepgrad.save never writes such a file, so it is damaged or was crafted."
        )
    if isinstance(node, list):
        return [_decode(v, arrays, device, name, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((tag, value),) = node.items()
        if tag == "__dict__" and isinstance(value, list) and all(_is_item(item) for item in value):
            return OrderedDict((k, _decode(v, arrays, device, name, depth + 1)) for k, v in value)
        if tag == "__tuple__" and isinstance(value, list):
            return tuple(_decode(v, arrays, device, name, depth + 1) for v in value)
        if tag == "__float__" and value in ("nan", "inf", "-inf"):
            return float(value)
        if tag in ("__tensor__", "__ndarray__") and isinstance(value, str):
            if value not in arrays:
                raise SerializationError(
                    f"deepgrad.load: {name!r}: the structure names tensor {value!r}, which the file lacks"
                )
            if tag == "__ndarray__":
                return arrays[value]
            return Tensor._make(
                arrays[value] if device is None else to_device(arrays[value], device), None
            )
    raise SerializationError(
        f"deepgrad.load: {name!r}: unknown entry in the structure: {json.dumps(node)[:80]}; the file is damaged."
    )


def _is_item(item) -> bool:
    """A [key, value] pair of a saved dict (keys are str or int)."""
    return (
        isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], (str, int))
        and not isinstance(item[0], bool)
    )


# -- writing ------------------------------------------------------------------------------------
def save(obj: Any, f: FileLike, metadata: dict | None = None) -> None:
    """Save a state dict (nested dicts/lists of tensors and JSON-able values) as a safetensors file.

    Args:
        obj: e.g. ``model.state_dict()``, ``optimizer.state_dict()``, or a dict holding several
            of them plus numbers such as the epoch. At most ``MAX_DEPTH`` (64) levels deep. A
            whole Module or Optimizer is refused: save its ``state_dict()`` (no pickle).
        f: the file to write (conventionally ``*.safetensors``), written atomically; or a binary
            file object (``open(path, "wb")``, ``io.BytesIO``), written from its current position.
        metadata: optional JSON-able dict stored alongside (read back with ``load_metadata``).

    Raises:
        SerializationError: ``obj`` holds something that cannot be saved (the message says where),
            or ``f`` is a text-mode file.

    Example:
        >>> import deepgrad, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> deepgrad.save({"w": deepgrad.ones(2), "epoch": 3}, path)
        >>> deepgrad.load(path)["epoch"]
        3
    """
    encoder = _Encoder()
    structure = encoder.encode(obj, [])
    header = {
        "format": FORMAT,
        "deepgrad.format_version": FORMAT_VERSION,
        _STRUCTURE_KEY: json.dumps(structure),
    }
    if metadata is not None:
        try:
            header[_METADATA_KEY] = json.dumps(metadata)
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"deepgrad.save: metadata must be JSON-able ({exc})") from None
    data = safetensors.numpy.save(encoder.arrays, metadata=header)
    if hasattr(f, "write"):
        _write_to_file_object(f, data)
    else:
        _write_atomic(Path(f), data)


def _write_to_file_object(f: IO[bytes], data: bytes) -> None:
    try:
        _write_chunks(f, data)
    except TypeError:
        raise SerializationError(
            f"deepgrad.save: {_name_of(f)} is open in text mode; open it with mode 'wb' (binary)."
        ) from None
    if callable(getattr(f, "flush", None)):
        f.flush()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, fsync it, then rename it over ``path``."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(
            f"deepgrad.save: folder {str(folder)!r} does not exist; create it first."
        )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_chunks(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
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
def _name_of(f) -> str:
    name = getattr(f, "name", None)
    return os.fspath(name) if isinstance(name, (str, os.PathLike)) else f"<{type(f).__name__}>"


def _read_all(f: FileLike) -> tuple[bytes, str]:
    """(the whole file, its name for messages) of a path or a binary file object."""
    if hasattr(f, "read"):
        name = _name_of(f)
        data = f.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SerializationError(
                f"deepgrad.load: {name!r} is open in text mode; open it with mode 'rb'."
            )
        return bytes(data), name
    name = os.fspath(f)
    with open(name, "rb") as file:
        return file.read(), name


def load(
    f: FileLike, map_location: str | Device | None = None, *, weights_only: bool | None = None
) -> Any:
    """Load what ``save`` wrote, any safetensors file, or a PyTorch ``torch.save`` file.

    The format is told by the file's first bytes, not its name: a zip archive is PyTorch's
    ``.pt`` / ``.pth`` format (read by ``deepgrad.io.torch_pickle`` without torch and without
    running code), anything else is read as safetensors. So one call loads a state dict for
    ``load_state_dict`` whichever of the two a model's weights came in, as ``torch.load`` does.

    Args:
        f: the file: a path, or a binary file object (``open(path, "rb")``, ``io.BytesIO``).
        map_location: device for the loaded tensors ("cpu", "cuda", "cuda:1", a Device).
            Default: cpu.
        weights_only: accepted for PyTorch compatibility and ignored: loading is always as safe
            as PyTorch's ``weights_only=True``. A deepgrad or safetensors file holds only JSON and
            raw tensor bytes; a PyTorch file is unpickled with an allow-list of tensor rebuild
            functions and plain containers, and any other global is refused by name.

    Returns:
        The saved object: dicts come back as OrderedDicts (int keys stay ints), tensors as
        Tensors (requires_grad=False, except PyTorch Parameters, which keep their flag), NumPy
        arrays as arrays. From a PyTorch file, ``torch.Size`` comes back as a tuple,
        ``torch.device`` as a string and dtypes as deepgrad dtypes.

    Raises:
        SerializationError: the file is not a complete, consistent safetensors file or
            ``torch.save`` archive, its object nests deeper than ``MAX_DEPTH`` (64) levels, or
            (PyTorch) its pickle names a global that is not allowed; the message names the file.
            Nothing is allocated beyond about twice the file's size, whatever its header says.
        OSError: the file cannot be opened (FileNotFoundError for a missing one).
    """
    data, name = _read_all(f)
    device = parse_device(map_location) if map_location is not None else None
    if device is not None and device.type == "cpu":
        device = None
    if is_pytorch_zip(data):
        return load_pytorch_bytes(name, data, device)
    _refuse_legacy_pickle(name, data)
    metadata, arrays = parse(name, data)
    del data
    if metadata.get("format") != FORMAT or _STRUCTURE_KEY not in metadata:
        return OrderedDict(
            (k, Tensor._make(a if device is None else to_device(a, device), None))
            for k, a in arrays.items()
        )
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise SerializationError(
            f"deepgrad.load: {name!r} has a damaged structure record ({reason})"
        ) from None
    return _decode(structure, arrays, device, name)


def _refuse_legacy_pickle(name: str, data: bytes) -> None:
    """A bare pickle (PyTorch's format before 1.6, or pickle.dump) gets its own message."""
    if (
        data[:1] == b"\x80"
        and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
        and data[8:9] != b"{"
    ):
        raise SerializationError(
            f"deepgrad.load: {name!r} is a bare pickle (PyTorch's format before 1.6, or "
            "pickle.dump), which could run code when loaded; deepgrad reads the zip format that "
            "torch.save writes since PyTorch 1.6, and safetensors: save it again with a recent "
            "torch.save, or with safetensors.torch.save_file."
        )


def load_metadata(f: FileLike) -> dict | None:
    """The ``metadata`` dict given to ``save`` (None if there was none); reads only the header.

    Raises:
        SerializationError: the file is not a safetensors file or its metadata is damaged.
    """
    if hasattr(f, "read"):
        name = _name_of(f)
        data = f.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SerializationError(
                f"deepgrad.load_metadata: {name!r} is open in text mode; open it with 'rb'."
            )
        metadata = parse_metadata(name, data, len(data))
    else:
        name = os.fspath(f)
        with open(name, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            head = file.read(8)
            head += file.read(min(header_length(head), size))
        metadata = parse_metadata(name, head, size)
    if _METADATA_KEY not in metadata:
        return None
    try:
        return json.loads(metadata[_METADATA_KEY])
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise SerializationError(
            f"deepgrad.load_metadata: {name!r} has damaged metadata ({reason})"
        ) from None
