"""linear: the affine map y = x W^T + b of ``nn.Linear``.

The module is named ``affine`` rather than ``linear`` so that ``deepgrad.nn.functional.linear``
is the function, never this submodule.
"""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.nn.functional._utils import _check_tensor
from deepgrad.ops.linalg import linear as _linear

__all__ = ["linear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ W^T + b.

    Args:
        input: (*, in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Returns:
        (*, out_features).

    Example:
        >>> import deepgrad as dg
        >>> linear(dg.ones(2, 3), dg.ones(4, 3), dg.zeros(4)).shape
        (2, 4)
    """
    _check_tensor("linear", "input", input)
    return _linear(input, weight, bias)
