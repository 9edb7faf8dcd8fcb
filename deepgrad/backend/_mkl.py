"""Intel MKL's GEMM through ctypes, from the ``mkl`` wheel (``pip install "deepgrad[fast]"``).

Loaded only by ``deepgrad.backend.blas`` when a matrix product first asks for a backend; never
by ``import deepgrad``. Row-major calls, transposes passed as flags, so a transposed or sliced
view of a matrix (unit stride along one of its two axes) goes in without a copy.

Threads: MKL gets as many threads as NumPy's OpenBLAS (``blas.blas_threads``). One thread means
MKL's sequential layer, with no OpenMP pool at all. Several threads use MKL's GNU OpenMP layer
(libgomp), never its Intel one (libiomp5): with PyTorch's libgomp already in the process, the
Intel layer's threads each computed the whole product and the result came out doubled
(measured; docs/performance.md, note 12). Without a system libgomp, MKL stays sequential.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys
from typing import Any

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_SEQUENTIAL, _GNU = 1, 3  # MKL_Set_Threading_Layer's codes
_INT_MAX = 2**31 - 1  # MKL_INT of the LP64 interface that libmkl_rt selects by default

_PATTERNS = ("libmkl_rt.so*", "libmkl_rt*.dylib", "mkl_rt*.dll")


def library_path() -> str | None:
    """Where the ``mkl`` wheel put libmkl_rt (under sys.prefix), or None when it is absent."""
    for folder in ("lib", os.path.join("Library", "bin")):
        for pattern in _PATTERNS:
            found = sorted(glob.glob(os.path.join(sys.prefix, folder, pattern)))
            if found:
                return found[0]
    return None


_c = ctypes
_GEMM_ARGS = [_c.c_int] * 6 + [
    _c.c_double,
    _c.c_void_p,
    _c.c_int,
    _c.c_void_p,
    _c.c_int,
    _c.c_double,
    _c.c_void_p,
    _c.c_int,
]
_BATCH_ARGS = [_c.c_int] + [_c.c_void_p] * 13 + [_c.c_int, _c.c_void_p]


class MKL:
    """The loaded library: ``gemm`` for 2-D products, ``batched`` for stacks of them."""

    def __init__(self, path: str, threads: int) -> None:
        self.lib = lib = ctypes.CDLL(path)
        if threads > 1 and ctypes.util.find_library("gomp") is None:
            threads = 1  # no libgomp to run MKL's GNU layer on: sequential (see the module doc)
        lib.MKL_Set_Threading_Layer(ctypes.c_int(_SEQUENTIAL if threads == 1 else _GNU))
        lib.MKL_Set_Num_Threads(ctypes.c_int(threads))
        buffer = ctypes.create_string_buffer(256)
        lib.MKL_Get_Version_String(buffer, 256)
        self.version = buffer.value.decode(errors="replace").strip()
        self.threads = threads
        self._gemm = {}
        self._batch = {}
        for char, name, scalar in (("f", "s", _c.c_float), ("d", "d", _c.c_double)):
            function = getattr(lib, f"cblas_{name}gemm")
            function.restype = None
            function.argtypes = [arg if arg is not _c.c_double else scalar for arg in _GEMM_ARGS]
            self._gemm[char] = function
            batch = getattr(lib, f"cblas_{name}gemm_batch")
            batch.restype = None
            batch.argtypes = _BATCH_ARGS
            self._batch[char] = batch

    def gemm(self, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
        """a (m, k) @ b (k, n) as a new C-contiguous array, or None when MKL cannot take them."""
        layout_a, layout_b = _layout(a), _layout(b)
        if layout_a is None or layout_b is None:
            return None
        (m, k), n = a.shape, b.shape[1]
        out = np.empty((m, n), dtype=a.dtype)
        self._gemm[a.dtype.char](
            _ROW_MAJOR,
            layout_a[0],
            layout_b[0],
            m,
            n,
            k,
            1.0,
            a.ctypes.data,
            layout_a[1],
            b.ctypes.data,
            layout_b[1],
            0.0,
            out.ctypes.data,
            max(n, 1),
        )
        return out

    def batched(self, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
        """a (*, m, k) @ b (*, k, n), batch dims broadcast, as one ``cblas_?gemm_batch`` call.

        Every matrix is passed by its address, so any batch strides (a transposed
        (B, H, T, d) view of attention's heads, a broadcast weight) need no copy.
        """
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        layout_a, layout_b = _layout(a), _layout(b)
        if layout_a is None or layout_b is None:
            return None
        m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
        out = np.empty(batch + (m, n), dtype=a.dtype)
        count = out.size // max(m * n, 1)
        if count > _INT_MAX:
            return None
        pointers = [_addresses(x, batch) for x in (a, b, out)]
        ints = np.array([layout_a[0], layout_b[0], m, n, k, layout_a[1], layout_b[1], n, count])
        ints = ints.astype(np.int32)
        scalars = np.array([1.0, 0.0], dtype=a.dtype)
        p = [x.ctypes.data for x in pointers]
        at = ints.ctypes.data
        step = ints.itemsize
        self._batch[a.dtype.char](
            _ROW_MAJOR,
            at,  # transa
            at + step,  # transb
            at + 2 * step,  # m
            at + 3 * step,  # n
            at + 4 * step,  # k
            scalars.ctypes.data,  # alpha
            p[0],
            at + 5 * step,  # lda
            p[1],
            at + 6 * step,  # ldb
            scalars.ctypes.data + scalars.itemsize,  # beta
            p[2],
            at + 7 * step,  # ldc
            1,  # one group
            at + 8 * step,  # of `count` products
        )
        return out


def _layout(x: np.ndarray) -> tuple[int, int] | None:
    """(transpose flag, leading dimension) of the last two axes of x, or None if neither has unit stride.

    A matrix that is row-major with rows ``ld`` elements apart is passed as it is; one whose
    columns have unit stride is the transpose of a row-major matrix and is passed flagged.
    """
    if x.dtype.char not in "fd" or not x.flags.aligned or min(x.shape[-2:], default=0) == 0:
        return None
    rows, cols = x.shape[-2:]
    size = x.itemsize
    s_row, s_col = x.strides[-2:]
    if _unit(s_col, cols, size) and _spaced(s_row, rows, cols, size):
        ld = s_row // size if rows > 1 else cols
        return (_NO_TRANS, ld) if ld <= _INT_MAX else None
    if _unit(s_row, rows, size) and _spaced(s_col, cols, rows, size):
        ld = s_col // size if cols > 1 else rows
        return (_TRANS, ld) if ld <= _INT_MAX else None
    return None


def _unit(stride: int, length: int, size: int) -> bool:
    """Elements along this axis are adjacent (or there is only one)."""
    return stride == size or length == 1


def _spaced(stride: int, length: int, run: int, size: int) -> bool:
    """Runs of ``run`` elements, ``length`` of them, ``stride`` bytes apart without overlap."""
    return length == 1 or (stride % size == 0 and stride // size >= run)


def _addresses(x: np.ndarray, batch: tuple[int, ...]) -> np.ndarray:
    """The address of every matrix of x's stack, broadcast to ``batch``, in C order (uint64)."""
    lead = x.shape[:-2]
    strides = [0] * (len(batch) - len(lead)) + [
        0 if size == 1 else stride for size, stride in zip(lead, x.strides[:-2])
    ]
    offsets = np.zeros(batch, dtype=np.int64)
    for axis, stride in enumerate(strides):
        if stride:
            shape = [1] * len(batch)
            shape[axis] = batch[axis]
            offsets = offsets + (np.arange(batch[axis], dtype=np.int64) * stride).reshape(shape)
    return (offsets.ravel() + x.ctypes.data).astype(np.uint64)


def load(threads: int) -> Any:
    """The MKL binding with ``threads`` threads, or None when the wheel is absent or fails to load."""
    path = library_path()
    if path is None:
        return None
    try:
        return MKL(path, threads)
    except (OSError, AttributeError):
        return None
