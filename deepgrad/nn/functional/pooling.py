"""Pooling: max, average and adaptive pooling in one and two dimensions.

The math, the gradients and the docs live next to the primitives in ``deepgrad/ops/pool.py``;
this module gives them their place among the layer functions, under PyTorch's names.
"""

from __future__ import annotations

from deepgrad.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
]
