"""Convolution: conv1d, conv2d and their transposes.

The math, the gradients and the docs live next to the primitives in ``deepgrad/ops/conv.py``;
this module gives them their place among the layer functions, under PyTorch's names.
"""

from __future__ import annotations

from deepgrad.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]
