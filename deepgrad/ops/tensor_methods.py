"""Old import path, kept until its last users move (Tensor's methods now live on the class).

``deepgrad.nn.functional`` imports ``_inplace`` from here; its new home is
``deepgrad.ops.inplace.inplace_op``. Delete this module when nothing imports it.
"""

from __future__ import annotations

from deepgrad.ops.inplace import inplace_op as _inplace
from deepgrad.ops.minmax import argmax, argmin, max, min

__all__ = ["_inplace", "argmax", "argmin", "max", "min"]
