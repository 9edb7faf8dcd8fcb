"""Array functions whose NumPy and CuPy spellings differ: one function each, one body per backend.

Ops call these with their array module ``xp`` (``ctx.xp``) and never branch on the backend
themselves. A body for CuPy is only reached with CuPy arrays, so NumPy-only machines never
import CuPy or cupyx.
"""

from __future__ import annotations

import numpy as np

# Element types that cupyx.scatter_add adds with CUDA's atomicAdd (CuPy raises TypeError for others).
_ATOMIC_ADD_TYPES = frozenset(np.dtype(t) for t in ("float16", "float32", "float64", "int32", "uint32", "uint64"))


def scatter_add(xp, target, index, values):
    """``target[index] += values`` with repeated indices accumulating; returns ``target``.

    NumPy: ``np.add.at``. CuPy: ``cupyx.scatter_add`` (atomic adds), which knows fewer element
    types: int64 is added as uint64 (two's complement addition is the same bit pattern), and
    the small integer, bool and bfloat16 types go through a wider copy.
    """
    if xp is np:
        np.add.at(target, index, values)
        return target
    import cupyx

    dtype = target.dtype
    if dtype in _ATOMIC_ADD_TYPES:
        cupyx.scatter_add(target, index, values)
    elif dtype == np.int64:
        cupyx.scatter_add(target.view(np.uint64), index, xp.asarray(values, dtype=np.int64).view(np.uint64))
    else:
        wide_type = np.float32 if dtype.kind in "fV" else np.int32
        wide = target.astype(wide_type)
        cupyx.scatter_add(wide, index, xp.asarray(values).astype(wide_type))
        target[...] = wide.astype(dtype)
    return target


def erf(xp):
    """The array module's elementwise ``erf`` (SciPy on the CPU, cupyx.scipy on CUDA)."""
    if xp is np:
        import scipy.special

        return scipy.special.erf
    import cupyx.scipy.special

    return cupyx.scipy.special.erf
