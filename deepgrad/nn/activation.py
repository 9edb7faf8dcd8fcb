"""Activation layers: thin Modules around ``deepgrad.nn.functional``.

The lecture's table of non-linearities (Mishkin et al., 2016) maps to: none -> ``Identity``
(in ``nn.linear``), sigmoid -> ``Sigmoid``, tanh -> ``Tanh``, ReLU -> ``ReLU``, (centered)
SoftPlus -> ``CenteredSoftplus``, LReLU -> ``LeakyReLU``, maxout -> ``Maxout`` (in ``nn.linear``),
APL -> ``APL``, VLReLU -> ``VLReLU``, RReLU -> ``RReLU``, PReLU -> ``PReLU``, ELU -> ``ELU``.
Every layer works elementwise on any shape unless its Shape section says otherwise.
"""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend.random import Generator
from deepgrad.backend.validation import in_interval, one_of, positive_int
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.module import Module
from deepgrad.nn.parameter import Parameter
from deepgrad.ops.creation import empty

__all__ = [
    "Sigmoid",
    "Tanh",
    "ReLU",
    "ReLU6",
    "Softplus",
    "CenteredSoftplus",
    "LogSigmoid",
    "LeakyReLU",
    "VLReLU",
    "RReLU",
    "PReLU",
    "ELU",
    "SELU",
    "CELU",
    "GELU",
    "SiLU",
    "Mish",
    "Hardtanh",
    "Softsign",
    "Softmax",
    "LogSoftmax",
    "APL",
]


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)).

    Shape:
        x: any shape -> y: the same shape.

    Example:
        >>> import deepgrad as dg
        >>> Sigmoid()(dg.tensor([0.0]))
        tensor([0.5])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """y = (e^2x - 1) / (e^2x + 1).

    Example:
        >>> import deepgrad as dg
        >>> Tanh()(dg.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class ReLU(Module):
    """y = max(x, 0) (Nair & Hinton, 2010).

    Args:
        inplace: write the result into the input tensor. Default: False.

    Example:
        >>> import deepgrad as dg
        >>> ReLU()(dg.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU6(Module):
    """y = min(max(x, 0), 6).

    Example:
        >>> import deepgrad as dg
        >>> ReLU6()(dg.tensor([-1.0, 8.0]))
        tensor([0., 6.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu6(input, self.inplace)


class Softplus(Module):
    """y = ln(1 + exp(beta * x)) / beta; linear where beta * x > threshold.

    Args:
        beta: sharpness. Default: 1.
        threshold: above it the function is taken as linear. Default: 20.

    Example:
        >>> import deepgrad as dg
        >>> Softplus()(dg.tensor([0.0]))
        tensor([0.6931])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        if beta == 0:
            raise ValueError("Softplus: beta must be nonzero (got 0).")
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class CenteredSoftplus(Module):
    """y = ln(e^x + 1) - ln 2: softplus shifted so that y(0) = 0 (the lecture's "(centered) SoftPlus").

    Args:
        beta: sharpness; y = softplus(x, beta) - ln(2) / beta. Default: 1.
        threshold: above beta * x > threshold the function is taken as linear. Default: 20.

    Example:
        >>> import deepgrad as dg
        >>> CenteredSoftplus()(dg.tensor([-1000.0, 0.0]))
        tensor([-0.6931,  0.    ])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        if beta == 0:
            raise ValueError("CenteredSoftplus: beta must be nonzero (got 0).")
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.centered_softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """y = ln(sigmoid(x)) = -softplus(-x).

    Example:
        >>> import deepgrad as dg
        >>> LogSigmoid()(dg.tensor([-1000.0]))
        tensor([-1000.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class LeakyReLU(Module):
    """y = x where x > 0, else a * x (LReLU, Maas et al., 2013).

    Args:
        negative_slope: a, the slope for x < 0. Default: 0.01.
        inplace: write the result into the input tensor. Default: False.

    Example:
        >>> import deepgrad as dg
        >>> LeakyReLU()(dg.tensor([-100.0, 3.0]))
        tensor([-1.,  3.])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        in_interval(negative_slope, "negative_slope", type(self).__name__)  # any real number
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class VLReLU(LeakyReLU):
    """Very leaky ReLU: y = x where x > 0, else a * x with a large slope, a in 0.1..0.5 (Graham, 2014).

    A LeakyReLU whose default slope is 1/3.

    Args:
        negative_slope: a. Default: 1/3.
        inplace: write the result into the input tensor. Default: False.

    Example:
        >>> import deepgrad as dg
        >>> VLReLU()(dg.tensor([-3.0, 3.0]))
        tensor([-1.,  3.])
    """

    def __init__(self, negative_slope: float = 1.0 / 3.0, inplace: bool = False) -> None:
        super().__init__(negative_slope, inplace)


class RReLU(Module):
    """Randomized leaky ReLU (Xu et al., 2015): y = x where x > 0, else a * x, with
    a ~ U(lower, upper) per element in training and a = (lower + upper) / 2 in evaluation.

    The lecture's table uses a = random(0.1, 0.5): ``RReLU(0.1, 0.5)``; the defaults are PyTorch's.

    Args:
        lower, upper: the range of the random slope. Default: 1/8, 1/3.
        inplace: write the result into the input tensor. Default: False.
        generator: source of the random slopes. Default: deepgrad's default generator.

    Example:
        >>> import deepgrad as dg
        >>> RReLU(0.1, 0.5).eval()(dg.tensor([-1.0, 1.0]))
        tensor([-0.3,  1. ])
    """

    def __init__(
        self,
        lower: float = 1.0 / 8.0,
        upper: float = 1.0 / 3.0,
        inplace: bool = False,
        generator: Generator | None = None,
    ) -> None:
        super().__init__()
        if not lower <= upper:
            raise ValueError(f"RReLU: lower must be <= upper (got lower={lower}, upper={upper}).")
        self.lower, self.upper, self.inplace, self.generator = lower, upper, inplace, generator

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace, self.generator)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}"


class PReLU(Module):
    """y = x where x > 0, else a * x, with a learned slope a (He et al., 2015).

    Args:
        num_parameters: 1 (one slope shared by all channels) or C (one per channel on dim 1). Default: 1.
        init: the initial slope. Default: 0.25.
        device, dtype: of the parameter. Default: cpu, float32.

    Shape:
        x: (N, C, *) (or any shape when num_parameters = 1) -> y: the same shape.

    Parameters:
        weight: (num_parameters,), filled with ``init``.

    Example:
        >>> import deepgrad as dg
        >>> PReLU()(dg.tensor([-4.0, 2.0]))
        tensor([-1.,  2.], grad_fn=<WhereBackward>)
    """

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None
    ) -> None:
        super().__init__()
        fix = "use 1 (one shared slope) or the number of channels"
        positive_int(num_parameters, "num_parameters", "PReLU", fix=fix)
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight = init (the constructor's slope, 0.25 by default), in every entry."""
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """y = x where x > 0, else alpha * (exp(x) - 1) (Clevert et al., 2015).

    Args:
        alpha: the saturation value -alpha for x -> -inf. Default: 1.
        inplace: write the result into the input tensor. Default: False.

    Example:
        >>> import deepgrad as dg
        >>> ELU()(dg.tensor([-1000.0, 2.0]))
        tensor([-1.,  2.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(Module):
    """y = scale * (x where x > 0, else alpha * (exp(x) - 1)), alpha = 1.6733, scale = 1.0507
    (Klambauer et al., 2017).

    Example:
        >>> import deepgrad as dg
        >>> SELU()(dg.tensor([0.0]))
        tensor([0.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input, self.inplace)


class CELU(Module):
    """y = max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (Barron, 2017).

    Args:
        alpha: nonzero. Default: 1.

    Example:
        >>> import deepgrad as dg
        >>> CELU(2.0)(dg.tensor([-1000.0]))
        tensor([-2.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if alpha == 0:
            raise ValueError("CELU: alpha must be nonzero (got 0).")
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), or its tanh approximation (Hendrycks & Gimpel, 2016).

    Args:
        approximate: 'none' (exact) or 'tanh'. Default: 'none'.

    Example:
        >>> import deepgrad as dg
        >>> GELU()(dg.tensor([0.0, 1000.0]))
        tensor([   0., 1000.])
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        one_of(approximate, ("none", "tanh"), "approximate", "GELU")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """y = x * sigmoid(x) (SiLU, also called swish).

    Example:
        >>> import deepgrad as dg
        >>> SiLU()(dg.tensor([0.0]))
        tensor([0.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input, self.inplace)


class Mish(Module):
    """y = x * tanh(softplus(x)) (Misra, 2019).

    Example:
        >>> import deepgrad as dg
        >>> Mish()(dg.tensor([0.0]))
        tensor([0.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input, self.inplace)


class Hardtanh(Module):
    """y = min(max(x, min_val), max_val).

    Args:
        min_val, max_val: the bounds, min_val < max_val. Default: -1, 1.
        inplace: write the result into the input tensor. Default: False.

    Example:
        >>> import deepgrad as dg
        >>> Hardtanh()(dg.tensor([-3.0, 0.5, 3.0]))
        tensor([-1. ,  0.5,  1. ])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if not min_val < max_val:
            raise ValueError(
                f"Hardtanh: min_val must be < max_val (got min_val={min_val}, max_val={max_val})."
            )
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Softsign(Module):
    """y = x / (1 + |x|).

    Example:
        >>> import deepgrad as dg
        >>> Softsign()(dg.tensor([1.0]))
        tensor([0.5])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Softmax(Module):
    """y_i = exp(x_i) / sum_j exp(x_j) along ``dim``: turns scores into probabilities.

    Args:
        dim: the dimension that sums to 1 (required; usually 1 for (N, C) scores).

    Example:
        >>> import deepgrad as dg
        >>> Softmax(dim=1)(dg.tensor([[0.0, 0.0]]))
        tensor([[0.5, 0.5]])
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"Softmax: dim must be an int (got {dim!r}).")
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y_i = x_i - log(sum_j exp(x_j)) along ``dim`` (pair it with NLLLoss, or use CrossEntropyLoss).

    Args:
        dim: the dimension to normalize over (required).

    Example:
        >>> import deepgrad as dg
        >>> LogSoftmax(dim=1)(dg.tensor([[0.0, 0.0]]))
        tensor([[-0.6931, -0.6931]])
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"LogSoftmax: dim must be an int (got {dim!r}).")
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class APL(Module):
    """Adaptive piecewise linear unit (Agostinelli et al., 2014):
    y_i = max(x_i, 0) + sum_{s=1..S} a_i^s * max(0, -x_i + b_i^s), with a, b learned per unit i.

    Args:
        num_features: the number of units C (on dim 1 of the input).
        hinges: S, the number of hinges per unit. Default: 1.
        device, dtype: of the parameters. Default: cpu, float32.
        generator: source of the initial hinge positions. Default: deepgrad's default generator.

    Shape:
        x: (N, C, *) or (C,) -> y: the same shape.

    Parameters:
        a: (hinges, num_features), the hinge slopes, initialized to 0 (the unit starts as a ReLU).
        b: (hinges, num_features), the hinge positions, b ~ U(-1, 1).

    Example:
        >>> import deepgrad as dg
        >>> APL(3, hinges=2)(dg.randn(4, 3)).shape
        (4, 3)
    """

    def __init__(
        self,
        num_features: int,
        hinges: int = 1,
        device=None,
        dtype=None,
        generator: Generator | None = None,
    ) -> None:
        super().__init__()
        positive_int(num_features, "num_features", "APL")
        positive_int(hinges, "hinges", "APL")
        self.num_features, self.hinges = num_features, hinges
        self.a = Parameter(empty(hinges, num_features, device=device, dtype=dtype))
        self.b = Parameter(empty(hinges, num_features, device=device, dtype=dtype))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Generator | None = None) -> None:
        """a = 0 (no hinge at first: APL starts as ReLU), b ~ U(-1, 1) (the hinge positions).

        Args:
            generator: the ``deepgrad.Generator`` to draw ``b`` from. Default: the global one.
        """
        init.zeros_(self.a)
        init.uniform_(self.b, -1.0, 1.0, generator=generator)

    def forward(self, input: Tensor) -> Tensor:
        return F.apl(input, self.a, self.b)

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}, hinges={self.hinges}"
