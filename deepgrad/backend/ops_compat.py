"""Array functions whose NumPy and CuPy spellings differ: one function each, one body per backend.

Ops call these with their array module ``xp`` (``ctx.xp``) and never branch on the backend
themselves. A body for CuPy is only reached with CuPy arrays, so NumPy-only machines never
import CuPy or cupyx.
"""

from __future__ import annotations

import numpy as np

# Element types that cupyx.scatter_add adds with CUDA's atomicAdd (CuPy raises TypeError for others).
_ATOMIC_ADD_TYPES = frozenset(
    np.dtype(t) for t in ("float16", "float32", "float64", "int32", "uint32", "uint64")
)


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
        cupyx.scatter_add(
            target.view(np.uint64), index, xp.asarray(values, dtype=np.int64).view(np.uint64)
        )
    else:
        wide_type = np.float32 if dtype.kind in "fV" else np.int32
        wide = target.astype(wide_type)
        cupyx.scatter_add(wide, index, xp.asarray(values).astype(wide_type))
        target[...] = wide.astype(dtype)
    return target


def erf(xp):
    """The array module's elementwise ``erf``: on the CPU ``erf_float32`` for float32 and narrower
    types, SciPy's for float64; cupyx.scipy on CUDA."""
    if xp is np:
        return _erf_numpy
    import cupyx.scipy.special

    return cupyx.scipy.special.erf


def _erf_numpy(x):
    if x.dtype.itemsize <= 4 and x.dtype.kind in "fV":  # float32, float16, bfloat16
        return erf_float32(x)
    import scipy.special

    return scipy.special.erf(x)


# erf(x) ~ x * P(x^2) / Q(x^2) on |x| <= 3.92, a rational fit (least squares reweighted toward
# minimax relative error: 1.9e-9 in exact arithmetic); beyond 3.92 erf rounds to +-1 in float32.
_ERF_P = (1.128379169, 0.1851291675, 0.05424826206, 0.003839041517, 0.0003769767516,
          4.61514965e-06, -1.282982173e-08)  # fmt: skip
_ERF_Q = (1.0, 0.4973998603, 0.1138757383, 0.0154316338, 0.001301904413, 6.245539948e-05)
_ERF_CLIP = 3.92


def erf_float32(x):
    """erf of a NumPy array, computed in float32 by a rational approximation.

    SciPy's float32 erf is a scalar loop, ~10-80x slower than NumPy's vectorized float32
    arithmetic (docs/performance.md, note 9); these ~25 in-place passes take
    ~1.4 ms per million elements instead of 11-24 ms. Evaluated in float32 the result is
    within 7 ulp of the exact erf (4e-7 relative; SciPy: 0.5 ulp), and never beyond +-1.
    """
    if x.ndim == 0:  # NumPy ufuncs turn 0-d arrays into scalars, which cannot take out=
        return erf_float32(x.reshape(1)).reshape(())
    dt = np.float32
    xc = np.clip(x, -_ERF_CLIP, _ERF_CLIP, dtype=dt)
    u = xc * xc
    p = u * dt(_ERF_P[-1])
    p += dt(_ERF_P[-2])
    for c in _ERF_P[-3::-1]:  # Horner, in place
        p *= u
        p += dt(c)
    q = u * dt(_ERF_Q[-1])
    q += dt(_ERF_Q[-2])
    for c in _ERF_Q[-3::-1]:
        q *= u
        q += dt(c)
    p *= xc
    p /= q
    return np.clip(p, -1.0, 1.0, out=p)
