"""deepgrad: a readable deep-learning framework with reverse-mode automatic differentiation.

``import deepgrad as dg`` gives tensors, creation functions and the math; the
layers are in ``deepgrad.nn``, optimizers in ``deepgrad.optim``, data in
``deepgrad.data`` and training tools in ``deepgrad.train``.
"""

from deepgrad.autograd import (
    BackwardError,
    Function,
    Tensor,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
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
from deepgrad.ops.comparison import allclose, equal, isclose
from deepgrad.ops.composite import (
    broadcast_to,
    chunk,
    cumprod,
    flatten,
    flip,
    log2,
    logsumexp,
    mean,
    movedim,
    narrow,
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
from deepgrad.ops.conversion import from_dlpack
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
    multinomial,
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
from deepgrad.ops.extra import (
    argwhere,
    ceil,
    cosh,
    count_nonzero,
    dot,
    dstack,
    exp2,
    fliplr,
    flipud,
    floor,
    frac,
    get_default_dtype,
    hstack,
    hypot,
    inner,
    is_floating_point,
    is_tensor,
    kron,
    lerp,
    log10,
    logaddexp,
    logspace,
    masked_select,
    nanmean,
    nansum,
    nonzero,
    numel,
    outer,
    repeat_interleave,
    rot90,
    round,
    sinh,
    std_mean,
    swapaxes,
    t,
    take,
    tan,
    tensordot,
    trace,
    trunc,
    var_mean,
    vstack,
)
from deepgrad.ops.fused import log_softmax, softmax
from deepgrad.ops.index import (
    diag,
    diagonal,
    gather,
    index_add,
    index_select,
    masked_fill,
    masked_scatter,
    one_hot,
    scatter,
    scatter_add,
    take_along_dim,
)
from deepgrad.ops.legacy import (
    BoolTensor,
    ByteTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
)
from deepgrad.ops.linalg import baddbmm, bmm, einsum, matmul
from deepgrad.ops.minmax import argmax, argmin, max, min
from deepgrad.ops.reduce import all, amax, amin, any, cumsum, prod, sum
from deepgrad.ops.shape import cat, expand, permute, reshape, transpose
from deepgrad.ops.sorting import argsort, sort, topk

mm = matmul
concat = cat
concatenate = cat
bool = bool_
float = float32
double = float64
long = int64
half = float16
int = int32
short = int16

__version__ = "0.1.0"

from deepgrad.backend import memory as _memory

# Freed arrays stay in the process, so each training step reuses pages instead of faulting
# them in again (docs/performance.md, note 3). deepgrad.backend.memory.release_freed_memory() undoes it.
_memory.keep_freed_memory()

from deepgrad import (
    func,
    nn,
)
from deepgrad.io import load, save

_LAZY_SUBPACKAGES = (
    "optim",
    "data",
    "utils",
    "train",
    "models",
    "onnx",
    "experiments",
    "viz",
    "cuda",
    "amp",
    "cli",
    "distributions",
    "accelerator",
    "backends",
    "distributed",
    "compile",
)


def __getattr__(name: str):
    """``deepgrad.optim``, ``deepgrad.data`` ... imported on first use (data pulls in SciPy)."""
    if name == "bfloat16":  # needs the optional ml_dtypes package, so it is looked up on use
        from deepgrad.backend import DTypeError as _DTypeError
        from deepgrad.backend import bfloat16_dtype

        try:
            return bfloat16_dtype()
        except _DTypeError as exc:
            raise AttributeError(f"module 'deepgrad' has no attribute 'bfloat16': {exc}") from None
    if name in _LAZY_SUBPACKAGES:
        import importlib

        return importlib.import_module(f"deepgrad.{name}")
    raise AttributeError(f"module 'deepgrad' has no attribute {name!r}")
