"""The IDX file format of MNIST and Fashion-MNIST: ``read_idx`` and ``write_idx``.

Layout (all integers big-endian)::

    offset 0: 0x00 0x00            magic: two zero bytes
    offset 2: type code            0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    offset 3: ndim                 number of dimensions
    offset 4: ndim x uint32        the size of each dimension
    then:     the values, row-major, big-endian

Files may be gzip-compressed (recognised by their first two bytes, not their name).
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from deepgrad.data.datasets.errors import DataFormatError

IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {
    dt.newbyteorder("=").str[1:]: code for code, dt in IDX_DTYPES.items()
}  # 'u1', 'i2', 'f4', ...
_GZIP_MAGIC = b"\x1f\x8b"
MAX_NDIM = 32  # the smallest array-dimension limit of the NumPy versions deepgrad runs on


# Deflate expands at most about 1032:1, so a gzip file of n bytes cannot hold more than this many
# bytes per compressed byte; a header declaring more is refused before anything is read.
_MAX_GZIP_RATIO = 1032
_READ_CHUNK = 1 << 20


def _gzip_error(path: Path, error: Exception) -> DataFormatError:
    return DataFormatError(
        f"read_idx: {path}: the gzip stream is damaged or truncated ({error}); "
        "download the file again (or delete it so download=True fetches a fresh copy)"
    )


def _read_exactly(stream, n: int, path: Path) -> bytes:
    """Up to ``n`` bytes from ``stream``, read in bounded chunks (memory grows only with real data)."""
    parts, left = [], n
    try:
        while left > 0:
            part = stream.read(min(left, _READ_CHUNK))
            if not part:
                break
            parts.append(part)
            left -= len(part)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise _gzip_error(path, error) from None
    return b"".join(parts)


def _parse_header(path: Path, head: bytes, stream) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, header length) from the first 4 bytes ``head``; reads the dimensions from ``stream``."""
    if len(head) < 4:
        raise DataFormatError(
            f"read_idx: {path}: truncated: {len(head)} bytes, fewer than the 4-byte IDX header; "
            "the file is incomplete, fetch it again"
        )
    if head[0] != 0 or head[1] != 0:
        raise DataFormatError(
            f"read_idx: {path}: not an IDX file: bytes at offset 0 are {head[:4].hex(' ')}, "
            "an IDX file starts with 00 00 <type> <ndim>; check that this is an MNIST-style file"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({d.newbyteorder('=').name})" for c, d in IDX_DTYPES.items())
        raise DataFormatError(
            f"read_idx: {path}: unknown IDX type code 0x{code:02X} at offset 2; known codes: {known}"
        )
    if ndim > MAX_NDIM:
        raise DataFormatError(
            f"read_idx: {path}: {ndim} dimensions at offset 3, more than the {MAX_NDIM} an array may have; "
            "the header is damaged"
        )
    header = 4 + 4 * ndim
    dims = _read_exactly(stream, 4 * ndim, path)
    if len(dims) < 4 * ndim:
        raise DataFormatError(
            f"read_idx: {path}: truncated inside the header: {ndim} dimensions need {header} bytes, "
            f"the file has {4 + len(dims)}"
        )
    return IDX_DTYPES[code], struct.unpack(f">{ndim}I", dims), header


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip) into a NumPy array of its stored shape and type.

    Reading is bounded: the header is checked first, sizes are computed exactly (no overflow),
    a declared size that the file cannot hold (more than its length, or for gzip more than
    1032 times its compressed length, deflate's limit) is refused before any allocation, and
    decompression stops at the declared size plus one byte.

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        the array in native byte order: uint8 (N, 28, 28) for MNIST images, uint8 (N,) for labels.

    Raises:
        FileNotFoundError: no such file (OSError if it cannot be read).
        DataFormatError: a wrong magic number, type code or dimension count, a damaged gzip
            stream, a truncated file or trailing bytes; the message names the file and the byte
            offset. Nothing else, whatever the file holds.

    Example:
        >>> import tempfile, os, numpy as np
        >>> p = os.path.join(tempfile.mkdtemp(), "x.idx")
        >>> write_idx(p, np.arange(6, dtype=np.uint8).reshape(2, 3))
        >>> read_idx(p).tolist()
        [[0, 1, 2], [3, 4, 5]]
    """
    path = Path(path)
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        dtype, shape, header = _parse_header(path, _read_exactly(stream, 4, path), stream)
        expected = math.prod(shape) * dtype.itemsize  # Python integers: exact
        # A raw file is read only as far as it goes; a gzip one could inflate far beyond its size.
        if compressed and expected > size * _MAX_GZIP_RATIO:
            raise DataFormatError(
                f"read_idx: {path}: truncated or damaged: shape {shape} of {dtype.newbyteorder('=').name} needs "
                f"{expected} bytes of data after the {header}-byte header, more than a gzip file of {size} "
                "bytes can hold; fetch the file again"
            )
        data = _read_exactly(stream, expected + 1, path)
    have = len(data)
    if have < expected:
        raise DataFormatError(
            f"read_idx: {path}: truncated: shape {shape} of {dtype.newbyteorder('=').name} needs {expected} bytes "
            f"of data after the {header}-byte header, the file has {have} (data ends at offset {header + have}, "
            f"expected {header + expected}); fetch the file again"
        )
    if have > expected:
        extra = "" if compressed else f"{size - header - expected} "
        raise DataFormatError(
            f"read_idx: {path}: {extra}unexpected bytes after the data, from offset {header + expected} "
            f"(shape {shape} says the file should end there); the header or the file is damaged"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    Supported dtypes: uint8, int8, int16, int32, float32, float64.
    """
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=").str[1:]
    if key not in _CODES:
        raise TypeError(
            f"write_idx: dtype {array.dtype} has no IDX type code; "
            "use one of uint8, int8, int16, int32, float32, float64"
        )
    if array.ndim > 255:
        raise ValueError(f"write_idx: at most 255 dimensions (got {array.ndim})")
    header = bytes([0, 0, _CODES[key], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">")).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)


__all__ = ["read_idx", "write_idx", "IDX_DTYPES"]
