"""A bounded safetensors parser: every size in the header is checked before anything is allocated.

A safetensors file is ``N`` (8 bytes, little-endian u64), then ``N`` bytes of JSON header, then the
tensor bytes. The header maps each tensor name to ``{"dtype", "shape", "data_offsets": [begin,
end]}`` (offsets into the bytes after the header) and may hold ``"__metadata__"``, a str -> str map.

What the parser guarantees, whatever the bytes:

- it raises only ``SerializationError`` (a ``ValueError``), and the message names the file;
- the header may be at most ``MAX_HEADER_BYTES`` long and must lie inside the file;
- sizes are computed with Python integers (no overflow): a tensor's ``numel * itemsize`` must equal
  its byte range, and that range must lie inside the file, so no declared size can make it
  allocate more than the file holds; at most ``MAX_NDIM`` dimensions;
- dtype names outside ``DTYPES`` (and BF16 without the ``ml_dtypes`` package) are refused by name.

Memory: the parsed tensors are copies of their byte ranges, so a load allocates at most the
file's size (read once) plus the tensors' bytes (at most the file's size again).
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

from deepgrad.backend import DTypeError, bfloat16_dtype

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit the reference safetensors reader uses too
MAX_NDIM = 32  # the smallest limit of the NumPy versions deepgrad runs on

DTYPES = {
    "BOOL": "?",
    "U8": "u1",
    "I8": "i1",
    "U16": "<u2",
    "I16": "<i2",
    "U32": "<u4",
    "I32": "<i4",
    "U64": "<u8",
    "I64": "<i8",
    "F16": "<f2",
    "F32": "<f4",
    "F64": "<f8",
    "BF16": None,  # from ml_dtypes, looked up when a file holds one
}


class SerializationError(ValueError):
    """A file that is not a (complete) safetensors / deepgrad file, or an object that cannot be saved."""


def parse(name: str, data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """(``__metadata__`` dict, {tensor name: array}) of the safetensors bytes ``data``.

    Args:
        name: the file's name, for messages.
        data: the whole file.

    Returns:
        The metadata (str -> str) and the tensors, as writable native-byte-order NumPy arrays.

    Raises:
        SerializationError: anything that is not a complete, consistent safetensors file.
    """
    header, start = _header(name, data)
    metadata = _metadata(name, header)
    arrays = {}
    for key, entry in header.items():
        if key != "__metadata__":
            arrays[key] = _tensor(name, key, entry, data, start)
    return metadata, arrays


def parse_metadata(name: str, head: bytes, file_size: int) -> dict:
    """The ``__metadata__`` of a file of ``file_size`` bytes whose first bytes are ``head``."""
    header, _ = _header(name, head, file_size)
    return _metadata(name, header)


def header_length(head: bytes) -> int:
    """The header length stored in the first 8 bytes (0 if there are fewer)."""
    return struct.unpack("<Q", head[:8])[0] if len(head) >= 8 else 0


def _header(name: str, data: bytes, file_size: int | None = None) -> tuple[dict, int]:
    """The parsed JSON header and the offset where the tensor bytes start."""
    size = len(data) if file_size is None else file_size
    if size < 8:
        raise SerializationError(
            f"deepgrad.load: {name!r} is not a safetensors file (only {size} bytes); it may be truncated."
        )
    length = header_length(data)
    if length > size - 8:
        raise SerializationError(
            f"deepgrad.load: {name!r} is not a complete safetensors file (header of {length} bytes, "
            f"file of {size} bytes); it may be truncated or not a deepgrad/safetensors file."
        )
    if length > MAX_HEADER_BYTES:
        raise SerializationError(
            f"deepgrad.load: {name!r} declares a header of {length} bytes, more than the "
            f"{MAX_HEADER_BYTES} a safetensors header may have; the file is damaged."
        )
    try:
        header = json.loads(bytes(data[8 : 8 + length]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise SerializationError(
            f"deepgrad.load: {name!r} is not a safetensors file (its header is not valid JSON: {reason})"
        ) from None
    if not isinstance(header, dict):
        raise SerializationError(
            f"deepgrad.load: {name!r} has a malformed safetensors header (a JSON "
            f"{type(header).__name__}, not an object)"
        )
    return header, 8 + length


def _metadata(name: str, header: dict) -> dict:
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SerializationError(
            f"deepgrad.load: {name!r} has a malformed safetensors metadata record "
            "(it must map strings to strings)"
        )
    return metadata


def _numpy_dtype(name: str, key: str, code) -> np.dtype:
    if not isinstance(code, str) or code not in DTYPES:
        raise SerializationError(
            f"deepgrad.load: {name!r}: tensor {key!r} has unknown dtype {code!r}; "
            f"deepgrad reads {', '.join(DTYPES)}."
        )
    if DTYPES[code] is None:
        try:
            return bfloat16_dtype()
        except DTypeError as exc:
            raise SerializationError(f"deepgrad.load: {name!r}: tensor {key!r}: {exc}") from None
    return np.dtype(DTYPES[code])


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _tensor(name: str, key: str, entry, data: bytes, start: int) -> np.ndarray:
    """One tensor, after checking its dtype, shape and byte range against the file."""
    where = f"deepgrad.load: {name!r}: tensor {key!r}"
    if not isinstance(entry, dict):
        raise SerializationError(f"{where} has a malformed header entry {entry!r:.80}")
    dtype = _numpy_dtype(name, key, entry.get("dtype"))
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(map(_is_count, shape)):
        raise SerializationError(
            f"{where} has an invalid shape {shape!r:.80}; a shape is a list of at most {MAX_NDIM} "
            "non-negative integers."
        )
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_count, offsets)):
        raise SerializationError(
            f"{where} has invalid data_offsets {offsets!r:.80}; expected [begin, end]."
        )
    begin, end = offsets
    available = len(data) - start
    if not begin <= end <= available:
        raise SerializationError(
            f"{where} lies at bytes {begin}..{end} of the data, outside the {available} bytes the file "
            "holds; it may be truncated or damaged."
        )
    nbytes = math.prod(shape) * dtype.itemsize  # Python integers: exact, never overflows
    if nbytes != end - begin:
        raise SerializationError(
            f"{where} has shape {shape} of {entry['dtype']} ({nbytes} bytes) but {end - begin} bytes "
            "of data; the file is damaged."
        )
    if nbytes == 0:
        return np.empty(shape, dtype=dtype.newbyteorder("="))
    flat = np.frombuffer(data, dtype=dtype, count=nbytes // dtype.itemsize, offset=start + begin)
    return flat.reshape(shape).astype(dtype.newbyteorder("="), copy=True)
