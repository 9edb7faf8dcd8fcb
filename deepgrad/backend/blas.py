"""Matrix products (GEMM) through the fastest BLAS installed, chosen by measurement.

``matmul(a, b)`` is the one function the ops call for a matrix product of NumPy arrays. NumPy's
own matmul (OpenBLAS in the NumPy wheels) is the reference and the default. When Intel MKL is
installed as well (the ``mkl`` wheel, part of ``pip install "deepgrad[fast]"``), the first
product of each *shape class* times both libraries on its operands and keeps the faster one for
the rest of the process. Which one wins depends on the processor and the shapes, not on its
vendor's name: on an Intel Xeon MKL led on an MLP's shapes, on an AMD EPYC OpenBLAS led on
almost every shape (docs/performance.md, notes 1 and 12).

A shape class is the dtype, whether the product is batched, and the bit lengths (powers of two)
of m, n, k and the batch count: shapes within a factor of two share one decision.

Decisions persist across processes on one machine (``~/.cache/deepgrad/gemm-choices.json``, or
``$DEEPGRAD_BLAS_CACHE``; an empty value keeps them in the process): a run resumed from a
checkpoint then multiplies with the same library as the run that wrote it, so its numbers are
the same, and timing noise cannot flip a choice from one process to the next. Delete the file
to measure again (after a hardware change, say); the file is keyed by the CPU model, NumPy's
and MKL's versions and the thread count, so a change of those measures again by itself.

Overrides: ``DEEPGRAD_BLAS=numpy|mkl|auto`` in the environment (read on the first product), or
``use_blas(...)`` in code. Products this module does not take go to ``a @ b`` unchanged: CuPy
arrays, integer or half-precision dtypes, 1-D operands, and tiny products (m * n * k < 32 768,
where one ctypes call costs more than any BLAS could gain).

Threads: MKL runs with as many threads as NumPy's BLAS (``blas_threads``); ``set_num_threads``
sets both through threadpoolctl, so the two libraries never hold more threads than asked for.

Example:
    >>> import numpy as np
    >>> from deepgrad.backend import blas
    >>> a, b = np.ones((64, 64), np.float32), np.ones((64, 64), np.float32)
    >>> with blas.use_blas("numpy"):
    ...     float(blas.matmul(a, b)[0, 0])
    64.0
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from deepgrad.backend import _mkl

MODES = ("auto", "numpy", "mkl")
SMALL = 32 * 32 * 32
"""Products with m * n * k below this go straight to NumPy."""
MARGIN = 0.05
"""How much faster than NumPy (a fraction) another library must measure to be chosen."""

ShapeClass = tuple[bool, str, int, int, int, int]


@dataclass(frozen=True)
class GemmBackend:
    """A GEMM library: ``gemm`` multiplies two matrices, ``batched`` two stacks of them.

    Both return a new array, or None when they cannot take these operands (the caller then
    uses NumPy). ``version`` describes the library for ``info()``.
    """

    name: str
    gemm: Callable[[np.ndarray, np.ndarray], np.ndarray | None]
    batched: Callable[[np.ndarray, np.ndarray], np.ndarray | None]
    version: str = ""


NUMPY = GemmBackend("numpy", np.matmul, np.matmul, "NumPy's matmul")

_mode: str | None = None  # None: not chosen yet (DEEPGRAD_BLAS decides on the first product)
_candidates: list[GemmBackend] | None = None
_choice: dict[ShapeClass, GemmBackend] = {}
_timings: dict[ShapeClass, dict[str, float]] = {}
_mkl_backend: list[GemmBackend | None] = []  # loaded at most once per process
_persisted: dict[str, dict[str, str]] | None = None  # the decisions file, read on first use


def matmul(a: Any, b: Any) -> Any:
    """y = a @ b, through the BLAS chosen for this shape class (NumPy's matmul semantics).

    Args:
        a: (..., m, k) array.
        b: (..., k, n) array; the leading dims of a and b broadcast.

    Returns:
        The (..., m, n) product, a new array.
    """
    if (
        type(a) is not np.ndarray
        or type(b) is not np.ndarray
        or a.ndim < 2
        or b.ndim < 2
        or a.dtype != b.dtype
        or a.dtype.char not in "fd"
    ):
        return a @ b
    candidates = _candidates if _candidates is not None else _resolve()
    if candidates[0] is NUMPY and len(candidates) == 1:
        return a @ b
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if m * n * k < SMALL:
        return a @ b
    batched = a.ndim > 2 or b.ndim > 2
    count = math.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])) if batched else 1
    key = (
        batched,
        a.dtype.char,
        m.bit_length(),
        n.bit_length(),
        k.bit_length(),
        count.bit_length(),
    )
    backend = _choice.get(key)
    if backend is None:
        backend = _choose(key, candidates, a, b)
    out = (backend.batched if batched else backend.gemm)(a, b)
    return a @ b if out is None else out


def calibrate(
    candidates: list[GemmBackend], a: np.ndarray, b: np.ndarray, batched: bool
) -> dict[str, float]:
    """The fastest of a few interleaved runs of each candidate on a @ b, in seconds.

    Each candidate runs once untimed first (thread pools start, pages fault in); then 3 to 9
    timed rounds, stopping after about 0.1 s. A candidate that declines the operands (returns
    None) gets ``inf``. The decision is taken once per shape class, so this runs rarely.
    """
    times = {c.name: math.inf for c in candidates}
    functions = [(c.name, c.batched if batched else c.gemm) for c in candidates]
    usable = [(name, f) for name, f in functions if f(a, b) is not None]
    start = time.perf_counter()
    for round_ in range(9):
        for name, function in usable:
            t0 = time.perf_counter()
            function(a, b)
            times[name] = min(times[name], time.perf_counter() - t0)
        if round_ >= 2 and time.perf_counter() - start > 0.1:
            break
    return times


def _choose(
    key: ShapeClass, candidates: list[GemmBackend], a: np.ndarray, b: np.ndarray
) -> GemmBackend:
    if len(candidates) == 1:
        backend = candidates[0]
    else:
        measured: dict[str, float] = {}
        backend = choose(_class_name(key), candidates, a, b, key[0], measured)
        if measured:
            _timings[key] = measured
    _choice[key] = backend
    return backend


def choose(
    label: str,
    candidates: list[GemmBackend],
    a: np.ndarray,
    b: np.ndarray,
    batched: bool = False,
    timings: dict[str, float] | None = None,
) -> GemmBackend:
    """The fastest candidate on a @ b, measured once per machine and remembered under ``label``.

    The first candidate is the reference: another must beat it by ``MARGIN``, because on a
    near tie the timing noise would decide, and the reference path is the one the tests pin
    down. The decision goes to the decisions file (``cache_path()``), so every later process on
    this machine (a resumed run included) computes with the same kernels, bit for bit.

    Args:
        label: the decision's name in the file, e.g. a shape class.
        candidates: the reference first, then the alternatives.
        a, b: operands to time the candidates on.
        batched: time the candidates' ``batched`` functions instead of ``gemm``.
        timings: filled with the measured seconds per candidate, when a measurement runs.
    """
    remembered = _recall(label, candidates)
    if remembered is not None:
        return remembered
    times = calibrate(candidates, a, b, batched)
    if timings is not None:
        timings.update(times)
    backend = candidates[0]
    for candidate in candidates[1:]:
        if times[candidate.name] < times[backend.name] * (1 - MARGIN):
            backend = candidate
    _remember(label, backend, candidates)
    return backend


def cache_path() -> Path | None:
    """The file that keeps the decisions across processes, or None when they stay in memory."""
    configured = os.environ.get("DEEPGRAD_BLAS_CACHE")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deepgrad" / "gemm-choices.json"


def _machine(candidates: list[GemmBackend]) -> str:
    """What a decision depends on besides the shapes: the CPU, the libraries, the threads."""
    from deepgrad.backend.sysinfo import cpu_model  # sysinfo imports this module

    libraries = ", ".join(f"{c.name} {c.version}".strip() for c in candidates)
    numpy_blas = _numpy_blas()
    coretype = os.environ.get("OPENBLAS_CORETYPE", "")
    if coretype and coretype not in numpy_blas:
        numpy_blas += f", OPENBLAS_CORETYPE={coretype}"
    return (
        f"{cpu_model()} | numpy {np.__version__}, {numpy_blas} | {libraries} | "
        f"{blas_threads()} threads"
    )


@functools.cache
def _numpy_blas() -> str:
    """NumPy's BLAS and its kernels for this processor, e.g. "Haswell kernels" under
    OPENBLAS_CORETYPE (note 2): a decision measured with one set of kernels does not hold for
    another. Asked once: the loaded library does not change (threadpoolctl's scan takes ~0.5 ms)."""
    from deepgrad.backend.sysinfo import blas_info

    return blas_info()[0]


def _decisions_file() -> dict[str, dict[str, str]]:
    global _persisted
    if _persisted is None:
        _persisted = {}
        path = cache_path()
        try:
            if path is not None and path.is_file():
                loaded = json.loads(path.read_text(encoding="utf-8"))
                _persisted = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):  # unreadable or damaged: measure again and rewrite it
            _persisted = {}
    return _persisted


def _recall(label: str, candidates: list[GemmBackend]) -> GemmBackend | None:
    name = _decisions_file().get(_machine(candidates), {}).get(label)
    return next((c for c in candidates if c.name == name), None)


def _remember(label: str, backend: GemmBackend, candidates: list[GemmBackend]) -> None:
    """Adds the decision to the file, written atomically (a temporary file, then a rename)."""
    path = cache_path()
    decisions = _decisions_file()
    decisions.setdefault(_machine(candidates), {})[label] = backend.name
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8"
        ) as f:
            json.dump(decisions, f, indent=1, sort_keys=True)
        os.replace(f.name, path)
    except OSError:  # a read-only home: the decision still holds for this process
        pass


def _resolve() -> list[GemmBackend]:
    """The candidate backends for the current mode (reads DEEPGRAD_BLAS on first use)."""
    global _candidates
    mode = active_mode()
    mkl = mkl_backend() if mode in ("auto", "mkl") else None
    if mode == "mkl" and mkl is None:
        warnings.warn(
            "DEEPGRAD_BLAS=mkl / use_blas('mkl'): MKL is not installed or failed to load; using "
            'NumPy\'s BLAS. Install it with pip install "deepgrad[fast]".',
            RuntimeWarning,
            stacklevel=3,
        )
    if mode == "mkl" and mkl is not None:
        _candidates = [mkl]
    else:
        _candidates = [NUMPY] + ([mkl] if mkl is not None else [])
    return _candidates


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(
            f"DEEPGRAD_BLAS / use_blas: unknown BLAS {mode!r}; use one of {', '.join(MODES)}."
        )
    return mode


def mkl_available() -> bool:
    """Whether the ``mkl`` wheel's libmkl_rt is installed (checked without loading it)."""
    return _mkl.library_path() is not None


def mkl_loaded() -> bool:
    """Whether this process has tried to load MKL already (``mkl_backend`` was called)."""
    return bool(_mkl_backend)


def mkl_backend() -> GemmBackend | None:
    """MKL as a GemmBackend (loaded on the first call, with NumPy's thread count), or None."""
    if not _mkl_backend:
        library = _mkl.load(blas_threads())
        _mkl_backend.append(
            None
            if library is None
            else GemmBackend("mkl", library.gemm, library.batched, _short_version(library.version))
        )
    return _mkl_backend[0]


def _short_version(text: str) -> str:
    """'Intel(R) oneAPI Math Kernel Library Version 2026.2-Product Build ...' -> 'Intel MKL 2026.2'."""
    match = re.search(r"Version ([0-9][0-9.]*)", text)
    return f"Intel MKL {match.group(1)}" if match else text


def blas_threads() -> int:
    """Threads of NumPy's BLAS: threadpoolctl's answer, else the *_NUM_THREADS variables, else the cores."""
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas" and pool.get("internal_api") != "mkl":
                return int(pool["num_threads"])
    except ImportError:
        pass
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_num_threads(threads: int) -> None:
    """Threads of every BLAS in the process (NumPy's and MKL's alike), through threadpoolctl.

    MKL loaded with one thread runs its sequential layer and stays at one thread.

    Raises:
        ImportError: threadpoolctl is not installed (``pip install "deepgrad[fast]"``).
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"set_num_threads: threads must be a positive int (got {threads!r}).")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ImportError(
            "set_num_threads: needs threadpoolctl; install it with pip install "
            '"deepgrad[fast]" or set OPENBLAS_NUM_THREADS before starting Python.'
        ) from None
    threadpool_limits(limits=threads, user_api="blas")


class use_blas:
    """Choose the GEMM library: "auto" (measure), "numpy" or "mkl"; a call or a context manager.

    Switching forgets the decisions taken so far. Example:
        >>> from deepgrad.backend.blas import active_mode, use_blas
        >>> with use_blas("numpy"):
        ...     active_mode()
        'numpy'
    """

    def __init__(self, mode: str) -> None:
        global _mode, _candidates
        self.previous = _mode
        _mode = _check_mode(mode)
        _candidates = None
        _forget()

    def __enter__(self) -> use_blas:
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _mode, _candidates
        _mode, _candidates = self.previous, None
        _forget()


def _forget() -> None:
    global _persisted
    _choice.clear()
    _timings.clear()
    _persisted = None


def active_mode() -> str:
    """The mode in force: "auto", "numpy" or "mkl" (DEEPGRAD_BLAS until use_blas changes it)."""
    global _mode
    if _mode is None:
        _mode = _check_mode(os.environ.get("DEEPGRAD_BLAS", "auto").strip().lower() or "auto")
    return _mode


def decisions() -> dict[str, str]:
    """The backend chosen for each shape class met so far, keyed by a readable class name."""
    return {_class_name(key): backend.name for key, backend in _choice.items()}


def measurements() -> dict[str, dict[str, float]]:
    """The calibration times (seconds) behind each decision taken by measurement."""
    return {_class_name(key): dict(times) for key, times in _timings.items()}


def _class_name(key: ShapeClass) -> str:
    batched, char, m, n, k, count = key
    kind = f"batch {_span(count)} " if batched else ""
    return f"{kind}{np.dtype(char).name} m {_span(m)} n {_span(n)} k {_span(k)}"


def _span(bits: int) -> str:
    """The sizes with this bit length, e.g. 8 -> '128-255'."""
    return f"{2 ** (bits - 1)}-{2**bits - 1}" if bits > 1 else str(bits)


__all__ = [
    "MARGIN",
    "MODES",
    "NUMPY",
    "SMALL",
    "GemmBackend",
    "active_mode",
    "blas_threads",
    "cache_path",
    "calibrate",
    "decisions",
    "matmul",
    "measurements",
    "mkl_available",
    "mkl_backend",
    "mkl_loaded",
    "set_num_threads",
    "use_blas",
]
