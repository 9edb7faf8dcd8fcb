"""Reading PyTorch's ``.pt`` / ``.pth`` files safely: tensors and plain containers, never code.

``torch.save`` writes a zip archive (PyTorch 1.6 and later)::

    NAME/data.pkl      the object, pickled (protocol 2)
    NAME/data/0, 1...  the raw bytes of each storage, little-endian unless NAME/byteorder says "big"
    NAME/byteorder, NAME/version, ...

The pickle refers to each storage by a persistent id ``("storage", torch.FloatStorage, "0",
"cpu", numel)`` and rebuilds each tensor by calling ``torch._utils._rebuild_tensor_v2(storage,
offset, size, stride, requires_grad, backward_hooks)``. Unpickling calls whatever globals the
pickle names, so an ordinary unpickler runs any code a file asks for (``os.system`` included).

``load_pytorch_bytes`` uses a restricted unpickler instead, with the contract of PyTorch's
``torch.load(weights_only=True)``: ``find_class`` resolves only the globals in ``ALLOWED_GLOBALS``
(the tensor rebuild functions, the storage types, the dtypes, ``torch.Size``, ``torch.device``,
``collections.OrderedDict``, ``set``, ``complex``, ``bytearray``, and ``_codecs.encode`` for bytes),
each mapped to a small NumPy builder here; any other global raises ``SerializationError`` naming
it, before anything is called. torch itself is never imported.

Every number the pickle gives is checked before use: a tensor's offset, sizes and strides must
be non-negative integers whose furthest element lies inside its storage's bytes, and storages
must be stored uncompressed (as ``torch.save`` writes them), so a file can make the reader
allocate no more than its own size.
"""

from __future__ import annotations

import io
import math
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import Device, DTypeError, bfloat16_dtype, to_device
from deepgrad.io.reader import MAX_NDIM, SerializationError

# torch dtype names (``torch.float32`` pickles as the global ``torch float32``) -> NumPy codes;
# None: bfloat16, from ml_dtypes when a file holds one
_DTYPES: dict[str, str | None] = {
    "float32": "f4",
    "float64": "f8",
    "float16": "f2",
    "bfloat16": None,
    "int64": "i8",
    "int32": "i4",
    "int16": "i2",
    "int8": "i1",
    "uint8": "u1",
    "uint16": "u2",
    "uint32": "u4",
    "uint64": "u8",
    "bool": "?",
    "complex64": "c8",
    "complex128": "c16",
}
# the legacy typed storage classes that name a storage's element type in the persistent id
_STORAGES: dict[str, str] = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}


def _dtype(name: str) -> np.dtype:
    code = _DTYPES[name]
    return bfloat16_dtype() if code is None else np.dtype(code)


class _StorageType:
    """What ``torch.FloatStorage`` & co. unpickle to: just the element type (not callable)."""

    def __init__(self, dtype_name: str) -> None:
        self.dtype_name = dtype_name


class _TensorType:
    """What ``torch.Tensor`` / ``torch.nn.Parameter`` unpickle to (for ``_rebuild_from_type_v2``)."""

    def __init__(self, parameter: bool) -> None:
        self.parameter = parameter


class _Storage:
    """One storage of the archive: its raw bytes, read once, and its element type."""

    def __init__(self, key: str, raw: bytearray, dtype_name: str, big_endian: bool) -> None:
        self.key, self.raw, self.dtype_name, self.big_endian = key, raw, dtype_name, big_endian
        self._flat: dict[np.dtype, np.ndarray] = {}

    def flat(self, dtype: np.dtype) -> np.ndarray:
        """The bytes as a flat native-order array of ``dtype`` (shared by the tensors viewing it)."""
        if dtype not in self._flat:
            usable = len(self.raw) - len(self.raw) % dtype.itemsize
            stored = dtype.newbyteorder(">") if self.big_endian else dtype
            flat = np.frombuffer(self.raw, dtype=stored, count=usable // dtype.itemsize)
            self._flat[dtype] = flat.astype(dtype) if self.big_endian else flat
        return self._flat[dtype]


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _build(
    storage: Any,
    offset: Any,
    size: Any,
    stride: Any,
    dtype: np.dtype | None = None,
    metadata: Any = None,
) -> np.ndarray:
    """The array ``torch._utils._rebuild_tensor`` would make, after checking every number."""
    if not isinstance(storage, _Storage):
        raise SerializationError(
            f"a tensor is rebuilt from a {type(storage).__name__}, not a storage"
        )
    dtype = _dtype(storage.dtype_name) if dtype is None else dtype
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)):
        raise SerializationError(
            f"a tensor has malformed size {size!r:.60} / stride {stride!r:.60}"
        )
    if len(size) > MAX_NDIM or not all(map(_is_count, (offset, *size, *stride))):
        raise SerializationError(
            f"a tensor has invalid offset {offset!r:.20}, size {size!r:.60} or stride "
            f"{stride!r:.60}: at most {MAX_NDIM} non-negative integers are allowed"
        )
    flat = storage.flat(dtype)
    if math.prod(size) == 0:
        return np.zeros(size, dtype=dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= len(flat):
        raise SerializationError(
            f"a tensor of size {list(size)} (stride {list(stride)}, offset {offset}) reaches element "
            f"{last} of storage {storage.key!r}, which holds {len(flat)} {dtype} elements"
        )
    array = np.lib.stride_tricks.as_strided(
        flat[offset:], size, tuple(s * dtype.itemsize for s in stride)
    )
    return _apply_metadata(array, metadata)


def _apply_metadata(array: np.ndarray, metadata: Any) -> np.ndarray:
    """PyTorch's lazy conjugate / negative bits, applied (copies)."""
    if metadata is None or metadata == {}:
        return array
    if not isinstance(metadata, dict) or not set(metadata) <= {"conj", "neg"}:
        raise SerializationError(f"a tensor has unknown metadata {metadata!r:.80}")
    if metadata.get("neg"):
        array = -array
    if metadata.get("conj"):
        array = np.conj(array)
    return array


def _tensor(array: np.ndarray, requires_grad: Any) -> Tensor:
    if not isinstance(requires_grad, bool):
        raise SerializationError(f"requires_grad must be a bool (got {requires_grad!r:.40})")
    tensor = Tensor._make(array, None)
    if requires_grad and array.dtype.kind in "fcV":
        tensor.requires_grad_(True)
    return tensor


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any) -> Tensor:
    return _tensor(_build(storage, offset, size, stride), False)


def _rebuild_tensor_v2(
    storage: Any,
    offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any,
    backward_hooks: Any,
    metadata: Any = None,
) -> Tensor:
    return _tensor(_build(storage, offset, size, stride, None, metadata), requires_grad)


def _rebuild_tensor_v3(
    storage: Any,
    offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any,
    backward_hooks: Any,
    dtype: Any,
    metadata: Any = None,
) -> Tensor:
    if not isinstance(dtype, np.dtype):
        raise SerializationError(f"a tensor's dtype must be a torch dtype (got {dtype!r:.40})")
    return _tensor(_build(storage, offset, size, stride, dtype, metadata), requires_grad)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> Tensor:
    if not isinstance(data, Tensor):
        raise SerializationError(f"a Parameter wraps a {type(data).__name__}, not a tensor")
    return _tensor(data._data, requires_grad)


def _rebuild_parameter_with_state(
    data: Any, requires_grad: Any, backward_hooks: Any, state: Any
) -> Tensor:
    return _rebuild_parameter(data, requires_grad, backward_hooks)  # Python attributes: dropped


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Tensor:
    if func not in _REBUILDERS or not isinstance(new_type, _TensorType):
        raise SerializationError("_rebuild_from_type_v2 names something other than a tensor")
    if not isinstance(args, tuple):
        raise SerializationError(f"_rebuild_from_type_v2 got arguments {args!r:.40}")
    return func(*args)


def _size(dims: Any = ()) -> tuple[int, ...]:
    if not isinstance(dims, (tuple, list)) or not all(map(_is_count, dims)):
        raise SerializationError(f"torch.Size of {dims!r:.60}")
    return tuple(dims)


def _device(kind: Any, index: Any = None) -> str:
    """``torch.device("cuda", 0)`` comes back as the string ``"cuda:0"``."""
    if not isinstance(kind, str) or not (index is None or _is_count(index)):
        raise SerializationError(f"torch.device of {kind!r:.40}, {index!r:.20}")
    return kind if index is None else f"{kind}:{index}"


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """``_codecs.encode``: how protocol 2 pickles ``bytes`` (latin-1 text)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise SerializationError(f"_codecs.encode of {type(text).__name__} as {encoding!r:.20}")
    return text.encode(encoding)


def _set(items: Any = ()) -> set:
    if not isinstance(items, (list, tuple)):
        raise SerializationError(f"set of {type(items).__name__}")
    return set(items)


def _complex(real: Any = 0.0, imag: Any = 0.0) -> complex:
    if not all(isinstance(x, (int, float)) for x in (real, imag)):
        raise SerializationError("complex of non-numbers")
    return complex(real, imag)


def _bytearray(data: Any = b"") -> bytearray:
    if not isinstance(data, (bytes, list)):
        raise SerializationError(f"bytearray of {type(data).__name__}")
    return bytearray(data)


def _ordered_dict(items: Any = ()) -> OrderedDict:
    if not isinstance(items, (list, tuple)):
        raise SerializationError(f"OrderedDict of {type(items).__name__}")
    return OrderedDict(items)


_REBUILDERS = (
    _rebuild_tensor,
    _rebuild_tensor_v2,
    _rebuild_tensor_v3,
    _rebuild_parameter,
    _rebuild_parameter_with_state,
)

ALLOWED_GLOBALS: dict[str, Any] = {
    "collections.OrderedDict": _ordered_dict,
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.Tensor": _TensorType(parameter=False),
    "torch.nn.parameter.Parameter": _TensorType(parameter=True),
    "torch.Size": _size,
    "torch.device": _device,
    "builtins.set": _set,
    "__builtin__.set": _set,
    "builtins.complex": _complex,
    "__builtin__.complex": _complex,
    "builtins.bytearray": _bytearray,
    "__builtin__.bytearray": _bytearray,
    "_codecs.encode": _encode,
    **{f"torch.{name}": _StorageType(dtype) for name, dtype in _STORAGES.items()},
    "torch.UntypedStorage": _StorageType("uint8"),
    "torch.storage.UntypedStorage": _StorageType("uint8"),
}
_DTYPE_GLOBALS = {f"torch.{name}" for name in _DTYPES}


class _Unpickler(pickle.Unpickler):
    """An unpickler that resolves only ``ALLOWED_GLOBALS`` and reads storages from the archive."""

    def __init__(self, data: bytes, read_storage: Callable[[str, str], _Storage]) -> None:
        super().__init__(io.BytesIO(data))
        self._read_storage = read_storage

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        if qualified in _DTYPE_GLOBALS:
            return _dtype(name)
        if qualified not in ALLOWED_GLOBALS:
            raise _Refused(qualified)
        return ALLOWED_GLOBALS[qualified]

    def persistent_load(self, pid: Any) -> _Storage:
        if not (
            isinstance(pid, tuple)
            and len(pid) == 5
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and isinstance(pid[2], str)
        ):
            raise SerializationError(f"unknown persistent id {pid!r:.80}")
        return self._read_storage(pid[2], pid[1].dtype_name)


class _Refused(Exception):
    """A global outside ALLOWED_GLOBALS (turned into the SerializationError that names it)."""


def is_pytorch_zip(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a zip archive (what ``torch.save`` writes)."""
    return head[:4] == b"PK\x03\x04"


def load_pytorch_bytes(name: str, data: bytes, device: Device | None = None) -> Any:
    """The object in the bytes ``data`` of a ``torch.save`` file, read without running code.

    Args:
        name: the file's name, for messages.
        data: the whole file.
        device: where to put the tensors (None: cpu).

    Returns:
        The saved object, tensors as deepgrad Tensors (``requires_grad`` as saved, e.g. True
        for an ``nn.Parameter``), ``torch.Size`` as a tuple, ``torch.device`` as a string,
        dtypes as deepgrad (NumPy) dtypes. Tensors that shared a storage share memory.

    Raises:
        SerializationError: a global outside ``ALLOWED_GLOBALS`` (named in the message), or a
            damaged or unsupported archive.
    """
    where = f"deepgrad.load: {name!r}"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        prefix = _prefix(where, archive)
        big = _entry(where, archive, prefix + "byteorder", optional=True) == b"big"
        pickled = _entry(where, archive, prefix + "data.pkl")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, SerializationError):
            raise
        raise SerializationError(f"{where} is not a readable zip archive ({exc})") from None
    storages: dict[str, _Storage] = {}

    def read_storage(key: str, dtype_name: str) -> _Storage:
        if key not in storages:
            raw = _entry(where, archive, f"{prefix}data/{key}")
            storages[key] = _Storage(key, bytearray(raw), dtype_name, big)
        return storages[key]

    result = _unpickle(where, pickled, read_storage)
    return result if device is None else _to_device(result, device)


def _unpickle(where: str, pickled: bytes, read_storage: Callable[[str, str], _Storage]) -> Any:
    try:
        return _Unpickler(pickled, read_storage).load()
    except _Refused as refused:
        raise SerializationError(
            f"{where} calls the global {refused.args[0]}, which a weights-only load refuses; "
            "deepgrad reads PyTorch files with torch.load(weights_only=True)'s rule (tensors, "
            "dicts, lists, tuples, numbers, strings, None) and never runs code from a file. If "
            "you trust the file, load it with torch.load and save its state_dict() again."
        ) from None
    except SerializationError as exc:
        raise SerializationError(f"{where}: {exc}") from None
    except DTypeError as exc:
        raise SerializationError(f"{where}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise SerializationError(
            f"{where} has a damaged pickle ({type(exc).__name__}: {exc})"
        ) from None
    except (AttributeError, RecursionError, zipfile.BadZipFile, OSError) as exc:  # BUILD, depth
        raise SerializationError(
            f"{where} has a damaged pickle ({type(exc).__name__}: {exc})"
        ) from None


def _prefix(where: str, archive: zipfile.ZipFile) -> str:
    """The archive's top folder ("NAME/"), found from its one NAME/data.pkl."""
    pickles = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise SerializationError(
            f"{where} is a zip archive but not a torch.save file (it has {len(pickles)} "
            "NAME/data.pkl entries, expected one)"
        )
    prefix = pickles[0][: -len("data.pkl")]
    if prefix + "constants.pkl" in archive.namelist():
        raise SerializationError(
            f"{where} is a TorchScript archive (torch.jit.save), not a state dict; in PyTorch, "
            "save model.state_dict() with torch.save and load that."
        )
    return prefix


def _entry(where: str, archive: zipfile.ZipFile, path: str, optional: bool = False) -> bytes:
    try:
        info = archive.getinfo(path)
    except KeyError:
        if optional:
            return b""
        raise SerializationError(f"{where} lacks the entry {path!r}; the file is damaged") from None
    if info.compress_type != zipfile.ZIP_STORED:
        raise SerializationError(
            f"{where}: entry {path!r} is compressed; torch.save stores entries uncompressed, "
            "so the file was altered (re-save it with torch.save)"
        )
    return archive.read(info)


def _to_device(obj: Any, device: Device) -> Any:
    """``obj`` with every Tensor moved to ``device`` (containers rebuilt, other values kept)."""
    if isinstance(obj, Tensor):
        moved = Tensor._make(to_device(obj._data, device), None)
        return moved.requires_grad_(True) if obj.requires_grad else moved
    if isinstance(obj, dict):
        return type(obj)((k, _to_device(v, device)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


__all__ = ["ALLOWED_GLOBALS", "is_pytorch_zip", "load_pytorch_bytes"]
