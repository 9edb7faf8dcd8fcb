"""Dropout layers: Dropout, Dropout2d, AlphaDropout (the math is in ``functional``).

Active in training mode only; ``model.eval()`` turns them into the identity. Masks are drawn from
``generator`` (deepgrad's default generator unless given), so ``deepgrad.manual_seed`` makes them
repeatable.
"""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend.random import Generator
from deepgrad.backend.validation import probability
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module

__all__ = ["Dropout", "Dropout2d", "AlphaDropout"]


class _DropoutBase(Module):
    def __init__(
        self, p: float = 0.5, inplace: bool = False, generator: Generator | None = None
    ) -> None:
        super().__init__()
        fix = "pass the dropout probability, e.g. 0.5 (p = 1 would zero everything)"
        probability(p, "p", type(self).__name__, fix=fix)
        self.p, self.inplace, self.generator = p, inplace, generator

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", inplace=True" if self.inplace else "")


class Dropout(_DropoutBase):
    """In training, y = x * m / (1 - p) with m ~ Bernoulli(1 - p) per element; in evaluation, y = x.

    Zeroing random units stops them from co-adapting (Srivastava et al., 2014). Scaling the kept
    ones by 1 / (1 - p) during training keeps E[y] = x, so nothing changes at evaluation.

    Args:
        p: the probability of zeroing an element, in [0, 1). Default: 0.5.
        inplace: write the result into the input tensor. Default: False.
        generator: source of the masks. Default: deepgrad's default generator.

    Shape:
        x: any shape -> y: the same shape.

    Example:
        >>> import deepgrad as dg
        >>> _ = dg.manual_seed(0)
        >>> y = Dropout(p=0.5)(dg.ones(1000))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
        >>> Dropout(p=0.5).eval()(dg.ones(3))
        tensor([1., 1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace, self.generator)


class Dropout2d(_DropoutBase):
    """Channel dropout: in training, y[n, c] = x[n, c] * m[n, c] / (1 - p), zeroing whole feature
    maps (Tompson et al., 2015); in evaluation, y = x.

    Args:
        p: the probability of zeroing a channel, in [0, 1). Default: 0.5.
        inplace: write the result into the input tensor. Default: False.
        generator: source of the masks. Default: deepgrad's default generator.

    Shape:
        x: (N, C, H, W) or (C, H, W) -> y: the same shape.

    Example:
        >>> import deepgrad as dg
        >>> y = Dropout2d(p=0.5)(dg.ones(2, 8, 3, 3))
        >>> bool(((y == 0).all(dim=(2, 3)) | (y == 2).all(dim=(2, 3))).all())
        True
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace, self.generator)


class AlphaDropout(_DropoutBase):
    """Dropout for self-normalizing (SELU) networks: dropped units take SELU's saturation value and
    an affine correction keeps zero mean and unit variance (Klambauer et al., 2017); identity in
    evaluation.

    Args:
        p: the probability of dropping an element, in [0, 1). Default: 0.5.
        inplace: write the result into the input tensor. Default: False.
        generator: source of the masks. Default: deepgrad's default generator.

    Shape:
        x: any shape -> y: the same shape.

    Example:
        >>> import deepgrad as dg
        >>> AlphaDropout(0.2).eval()(dg.ones(2))
        tensor([1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training, self.inplace, self.generator)
