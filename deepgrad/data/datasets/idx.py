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
_CODES = {dt.newbyteorder("=").str[1:]: code for code, dt in IDX_DTYPES.items()}  # 'u1', 'i2', 'f4', ...
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise DataFormatError(
            f"read_idx: {path}: the gzip stream is damaged or truncated ({error}); "
            "download the file again (or delete it so download=True fetches a fresh copy)"
        ) from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip) into a NumPy array of its stored shape and type.

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        the array in native byte order: uint8 (N, 28, 28) for MNIST images, uint8 (N,) for labels.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: a wrong magic number or type code, a truncated file or trailing bytes;
            the message names the file and the byte offset.

    Example:
        >>> import tempfile, os, numpy as np
        >>> p = os.path.join(tempfile.mkdtemp(), "x.idx")
        >>> write_idx(p, np.arange(6, dtype=np.uint8).reshape(2, 3))
        >>> read_idx(p).tolist()
        [[0, 1, 2], [3, 4, 5]]
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataFormatError(
            f"read_idx: {path}: truncated: {len(raw)} bytes, fewer than the 4-byte IDX header; "
            "the file is incomplete, fetch it again"
        )
    if raw[0] != 0 or raw[1] != 0:
        raise DataFormatError(
            f"read_idx: {path}: not an IDX file: bytes at offset 0 are {raw[:4].hex(' ')}, "
            "an IDX file starts with 00 00 <type> <ndim>; check that this is an MNIST-style file"
        )
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({d.newbyteorder('=').name})" for c, d in IDX_DTYPES.items())
        raise DataFormatError(f"read_idx: {path}: unknown IDX type code 0x{code:02X} at offset 2; known codes: {known}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(
            f"read_idx: {path}: truncated inside the header: {ndim} dimensions need {header} bytes, "
            f"the file has {len(raw)}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - header
    if have < expected:
        raise DataFormatError(
            f"read_idx: {path}: truncated: shape {shape} of {dtype.newbyteorder('=').name} needs {expected} bytes "
            f"of data after the {header}-byte header, the file has {have} (data ends at offset {len(raw)}, "
            f"expected {header + expected}); fetch the file again"
        )
    if have > expected:
        raise DataFormatError(
            f"read_idx: {path}: {have - expected} unexpected bytes after the data, from offset {header + expected} "
            f"(shape {shape} says the file should end there); the header or the file is damaged"
        )
    array = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    Supported dtypes: uint8, int8, int16, int32, float32, float64.
    """
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=").str[1:]
    if key not in _CODES:
        raise TypeError(
            f"write_idx: dtype {array.dtype} has no IDX type code; use one of uint8, int8, int16, int32, float32, float64"
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
