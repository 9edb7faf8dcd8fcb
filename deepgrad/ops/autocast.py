"""The casts autocast inserts in front of the ops it covers (see ``deepgrad.backend.amp_state``).

matmul, linear and conv call ``autocast_inputs(LOWER, ...)``; softmax, log_softmax,
cross_entropy and nll_loss call ``autocast_inputs(FLOAT32, ...)``. Outside ``deepgrad.amp.autocast``
this costs one check. The casts are ``Cast`` primitives, so gradients flow back through them
and arrive in each parameter's own dtype.
"""

from __future__ import annotations

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import amp_state
from deepgrad.backend.amp_state import FLOAT32, LOWER
from deepgrad.ops.elementwise import to_dtype


def autocast_inputs(policy: str, *tensors):
    """``tensors`` cast as autocast's ``policy`` says for their device (None and non-tensors pass through).

    Returns a tuple of the same length; outside autocast, the tensors themselves.
    """
    if not amp_state.active():
        return tensors
    out = []
    for t in tensors:
        if isinstance(t, Tensor):
            device_type = "cpu" if type(t._data) is np.ndarray else t.device.type
            dtype = amp_state.target_dtype(policy, device_type, t._data.dtype)
            if dtype is not None:
                t = to_dtype(t, dtype)
        out.append(t)
    return tuple(out)


__all__ = ["FLOAT32", "LOWER", "autocast_inputs"]
