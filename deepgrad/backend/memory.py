"""Process memory policy: keep freed memory instead of handing it back to the OS.

glibc returns every large freed block (over ``M_MMAP_THRESHOLD``, 128 KiB by
default, adjusted dynamically) to the operating system; the next training step
allocates the same sizes again and page-faults on every 4 KiB page, ~1-2 us
each. On an MLP step at batch 1000 that was ~9 ms of 40 (docs/performance.md,
note 3). Raising the mmap threshold to 32 MiB and the trim threshold to 1 GiB removes
those faults; both are needed. The cost: up to 1 GiB of freed memory stays with
the process. deepgrad turns this on at import on glibc systems;
``release_freed_memory()`` switches back to glibc's defaults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_DEFAULT_MMAP_THRESHOLD = 128 * 1024
_DEFAULT_TRIM_THRESHOLD = 128 * 1024

_state = {"keeping": False}


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None


def keep_freed_memory(
    mmap_threshold: int = 32 * 1024 * 1024, trim_threshold: int = 1024**3
) -> bool:
    """Keep freed blocks in the process (no page faults on reuse). Returns False where unsupported (non-glibc)."""
    libc = _libc()
    if libc is None:
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    ok = libc.mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1 and ok
    _state["keeping"] = ok
    return ok


def release_freed_memory() -> bool:
    """Go back to handing freed memory to the OS (glibc's default thresholds) and trim now."""
    libc = _libc()
    if libc is None:
        return False
    libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_MMAP_THRESHOLD)
    libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
    if hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
    _state["keeping"] = False
    return True


def is_keeping_freed_memory() -> bool:
    return _state["keeping"]
