"""``deepgrad.backend.info()``: what the CPU backend runs on (BLAS, threads, CPU, compiled kernels).

Benchmarks print it first (issue 13): a ratio to PyTorch means little without the processor,
the BLAS NumPy calls and the number of threads beside it.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np

from deepgrad.backend import blas as _blas
from deepgrad.backend import kernels

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_BLAS_VARIABLES = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "DEEPGRAD_BLAS",
)  # docs/performance.md, note 2


@dataclass(frozen=True)
class BackendInfo:
    """What ``info()`` found; ``str()`` of it is a short human-readable report."""

    numpy_version: str
    blas: str
    blas_threads: int | None
    cpu_model: str
    cpu_count: int
    environment: dict[str, str] = field(default_factory=dict)
    numba_version: str | None = None
    numba_enabled: bool = False
    kernels: tuple[str, ...] = ()
    gemm: str = "numpy"
    gemm_decisions: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        numba = "not installed" if self.numba_version is None else self.numba_version
        if self.numba_version is not None and not self.numba_enabled:
            numba += " (switched off)"
        env = ", ".join(f"{k}={v}" for k, v in self.environment.items()) or "none set"
        return "\n".join(
            [
                f"CPU:      {self.cpu_model} ({self.cpu_count} usable cores)",
                f"NumPy:    {self.numpy_version}",
                f"BLAS:     {self.blas} ({self.blas_threads or 'unknown'} threads)",
                f"GEMM:     {self.gemm}{_tally(self.gemm_decisions)}",
                f"env:      {env}",
                f"numba:    {numba}",
                f"kernels:  {', '.join(self.kernels) or 'none (NumPy everywhere)'}",
            ]
        )


def _tally(decisions: dict[str, str]) -> str:
    """'; chosen so far: mkl 1, numpy 3 (shape classes)', or '' before any decision."""
    if not decisions:
        return ""
    chosen = list(decisions.values())
    counts = ", ".join(f"{name} {chosen.count(name)}" for name in sorted(set(chosen)))
    return f"; chosen so far: {counts} (shape classes)"


def gemm_description() -> str:
    """Which library the matrix products use: the mode and what is installed (loads nothing)."""
    mode = _blas.active_mode()
    mkl = _blas.mkl_available()
    if mode == "numpy" or not mkl:
        suffix = "" if mkl else "; MKL not installed"
        return f"NumPy's BLAS (DEEPGRAD_BLAS={mode}{suffix})"
    loaded = _blas.mkl_backend() if _blas.mkl_loaded() else None
    version = loaded.version if loaded is not None else "Intel MKL (loads on the first product)"
    if mode == "mkl":
        return f"{version} for every float32/float64 product (DEEPGRAD_BLAS=mkl)"
    return (
        f"NumPy's BLAS or {version}, whichever measures faster per shape class (DEEPGRAD_BLAS=auto)"
    )


def cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown"


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def blas_info() -> tuple[str, int | None]:
    """(name and version of NumPy's BLAS, its thread count or None when it cannot be asked).

    threadpoolctl, when installed, reports the library actually loaded and its threads;
    otherwise NumPy's build configuration names the BLAS it was built against.
    """
    if importlib.util.find_spec("threadpoolctl") is not None:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
                name = f"{pool.get('internal_api')} {pool.get('version')}"
                if pool.get("architecture"):
                    name += f", {pool['architecture']} kernels"
                return name, pool.get("num_threads")
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}", None
    except (TypeError, KeyError):  # NumPy < 1.25 has no mode="dicts"
        return "unknown (install threadpoolctl to see it)", None


def info() -> BackendInfo:
    """Which BLAS NumPy uses, its threads, the GEMM library chosen, the CPU, the numba kernels.

    Returns:
        A BackendInfo; ``print(info())`` shows it as a few lines.

    Example:
        >>> from deepgrad.backend import info
        >>> report = info()
        >>> report.cpu_count >= 1 and "BLAS:" in str(report)
        True
    """
    blas, threads = blas_info()
    numba_version = None
    if kernels.numba_available():
        from importlib.metadata import version

        numba_version = version("numba")
    environment = {k: os.environ[k] for k in _THREAD_VARIABLES + _BLAS_VARIABLES if k in os.environ}
    return BackendInfo(
        numpy_version=np.__version__,
        blas=blas,
        blas_threads=threads,
        cpu_model=cpu_model(),
        cpu_count=_usable_cores(),
        environment=environment,
        numba_version=numba_version,
        numba_enabled=kernels.numba_enabled(),
        kernels=kernels.active_kernels(),
        gemm=gemm_description(),
        gemm_decisions=_blas.decisions(),
    )


__all__ = ["BackendInfo", "blas_info", "cpu_model", "gemm_description", "info"]
