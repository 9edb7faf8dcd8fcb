"""Parameter: a Tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import as_array


class Parameter(Tensor):
    """A tensor that is a learnable weight of a Module.

    Assigning a ``Parameter`` as an attribute of a ``Module`` registers it, so it
    appears in ``module.parameters()`` (what an optimizer updates) and in
    ``module.state_dict()``. It requires grad by default. A Parameter made from a
    Tensor shares that tensor's memory, as in PyTorch.

    Args:
        data: a Tensor, array or nested list. Default: an empty float32 tensor.
        requires_grad: whether the parameter is trained. Default: True.

    Example:
        >>> import deepgrad as dg
        >>> w = Parameter(dg.zeros(2, 3))
        >>> w.requires_grad, w.shape
        (True, (2, 3))
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = []
        super().__init__(as_array(data), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
