"""Neural-network building blocks: Module, Parameter, containers, layers, losses, init.

``import deepgrad.nn as nn`` then ``nn.Linear``, ``nn.Sequential``, ``nn.init.kaiming_uniform_``,
``nn.functional`` (as ``F``) — PyTorch's names, so that ``torch.nn`` code carries over.
"""

from deepgrad.nn import functional, init, utils
from deepgrad.nn.activation import (
    APL,
    CELU,
    ELU,
    GELU,
    SELU,
    CenteredSoftplus,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Softsign,
    Tanh,
    VLReLU,
)
from deepgrad.nn.attention import MultiheadAttention
from deepgrad.nn.container import ModuleDict, ModuleList, ParameterList, Sequential
from deepgrad.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from deepgrad.nn.dropout import AlphaDropout, Dropout, Dropout2d
from deepgrad.nn.linear import Flatten, Identity, Linear, Maxout, TiedLinear, Unflatten
from deepgrad.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from deepgrad.nn.masked_conv import CausalConv1d, MaskedConv2d
from deepgrad.nn.module import Module, RemovableHandle
from deepgrad.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
)
from deepgrad.nn.padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from deepgrad.nn.parameter import Parameter
from deepgrad.nn.pixelshuffle import PixelShuffle, PixelUnshuffle
from deepgrad.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from deepgrad.nn.residual import BasicBlock
from deepgrad.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell
from deepgrad.nn.sparse import Embedding
from deepgrad.nn.summary import summary
from deepgrad.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from deepgrad.nn.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d


def __getattr__(name: str):
    """``nn.SyncBatchNorm`` and ``nn.parallel`` need ``deepgrad.distributed`` (a higher layer):
    they are imported on first use, so that ``nn`` itself never imports MPI."""
    if name == "SyncBatchNorm":
        from deepgrad.distributed.sync_batchnorm import SyncBatchNorm

        return SyncBatchNorm
    if name == "parallel":
        import importlib

        return importlib.import_module("deepgrad.nn.parallel")
    raise AttributeError(f"module 'deepgrad.nn' has no attribute {name!r}")
