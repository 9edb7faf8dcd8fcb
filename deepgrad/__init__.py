"""deepgrad: a readable deep-learning framework with reverse-mode automatic differentiation.

``import deepgrad as dg`` gives tensors, creation functions and the math; the
layers are in ``deepgrad.nn``, optimizers in ``deepgrad.optim``, data in
``deepgrad.data`` and training tools in ``deepgrad.train``.
"""

from deepgrad import ops as _ops  # attaches the Tensor methods
from deepgrad.autograd import (
    BackwardError,
    Function,
    Tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from deepgrad.backend import (
    Device,
    DeviceError,
    DTypeError,
    ShapeError,
    bool_,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from deepgrad.backend.device import parse_device as device
from deepgrad.backend.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from deepgrad.ops.composite import (
    broadcast_to,
    chunk,
    flatten,
    flip,
    log2,
    logsumexp,
    mean,
    movedim,
    norm,
    pad,
    reciprocal,
    repeat,
    roll,
    rsqrt,
    split,
    square,
    squeeze,
    stack,
    std,
    tile,
    tril,
    triu,
    unbind,
    unflatten,
    unsqueeze,
    var,
)
from deepgrad.ops.creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    uniform,
    zeros,
    zeros_like,
)
from deepgrad.ops.elementwise import (
    abs,
    add,
    clamp,
    clip,
    cos,
    div,
    eq,
    erf,
    exp,
    expm1,
    floor_divide,
    ge,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    relu,
    remainder,
    sigmoid,
    sign,
    sin,
    sqrt,
    sub,
    tanh,
    where,
)
from deepgrad.ops.index import gather, index_select, masked_fill, one_hot, scatter_add, take_along_dim
from deepgrad.ops.linalg import bmm, einsum, matmul
from deepgrad.ops.reduce import all, amax, amin, any, cumsum, prod, sum
from deepgrad.ops.shape import cat, expand, permute, reshape, transpose
from deepgrad.ops.tensor_methods import argmax, argmin, max, min

mm = matmul
concat = cat
concatenate = cat
bool = bool_  # noqa: A001 - torch.bool
float = float32  # noqa: A001 - torch.float
double = float64
long = int64
half = float16

__version__ = "0.1.0"

from deepgrad.io import load, save  # noqa: E402

from deepgrad import func  # noqa: E402  (deepgrad.func: grad, vjp, jacobian, hessian, hvp transforms)
from deepgrad import nn  # noqa: E402  (so that `import deepgrad as torch; torch.nn.Linear` works)
