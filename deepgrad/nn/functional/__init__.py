"""deepgrad.nn.functional (imported as ``F``): the math of every layer, activation and loss.

Layers in ``deepgrad.nn`` own their parameters and call the functions here, so each formula lives
in one place (STYLE.md 3.1). Most functions are composites of primitives and get their gradients
for free; softmax, log-softmax, softmax cross-entropy and training-mode batch norm are fused
primitives (``deepgrad/ops/fused.py``). Names and arguments follow ``torch.nn.functional``.

Every function is stable for inputs of magnitude 1000: no inf or nan where the true value is finite.

The package is split by kind, as ``deepgrad/ops`` is; every public name is re-exported here, so
``F.relu`` and ``from deepgrad.nn.functional import relu`` are the way to reach them:

- ``affine``: linear
- ``activation``: relu and its relatives, sigmoid, tanh, gelu, softmax, maxout, apl, ...
- ``noise``: dropout, dropout2d, alpha_dropout
- ``normalization``: batch_norm, layer_norm, instance_norm, group_norm
- ``sparse``: embedding, one_hot
- ``loss``: mse_loss, cross_entropy, nll_loss, kl_div, ...
- ``vision``: pad, interpolate, pixel_shuffle, pixel_unshuffle
- ``attention``: scaled_dot_product_attention, multi_head_attention_forward
- ``conv``, ``pooling``, ``recurrent``: the primitives of ``deepgrad/ops/{conv,pool,rnn}.py``
  under their layer-function names
- ``_utils``: the argument checks and helpers the modules share

Example:
    >>> import deepgrad as dg
    >>> import deepgrad.nn.functional as F
    >>> F.relu(dg.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""

from __future__ import annotations

from deepgrad.nn.functional import activation as _activation
from deepgrad.nn.functional import affine as _affine
from deepgrad.nn.functional import attention as _attention
from deepgrad.nn.functional import conv as _conv
from deepgrad.nn.functional import loss as _loss
from deepgrad.nn.functional import noise as _noise
from deepgrad.nn.functional import normalization as _normalization
from deepgrad.nn.functional import pooling as _pooling
from deepgrad.nn.functional import recurrent as _recurrent
from deepgrad.nn.functional import sparse as _sparse
from deepgrad.nn.functional import vision as _vision
from deepgrad.nn.functional.activation import (
    apl,
    celu,
    centered_softplus,
    elu,
    gelu,
    hardtanh,
    identity,
    leaky_relu,
    log_softmax,
    logsigmoid,
    maxout,
    mish,
    prelu,
    relu,
    relu6,
    rrelu,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
    vleaky_relu,
)
from deepgrad.nn.functional.affine import linear
from deepgrad.nn.functional.attention import (
    multi_head_attention_forward,
    scaled_dot_product_attention,
)
from deepgrad.nn.functional.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from deepgrad.nn.functional.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    gaussian_nll_loss,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from deepgrad.nn.functional.noise import alpha_dropout, dropout, dropout2d
from deepgrad.nn.functional.normalization import batch_norm, group_norm, instance_norm, layer_norm
from deepgrad.nn.functional.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from deepgrad.nn.functional.recurrent import (
    gru_cell,
    gru_layer,
    lstm_cell,
    lstm_layer,
    rnn_cell,
    rnn_layer,
)

# The one private helper that a layer in deepgrad.nn reaches as F._name (nn/sparse.py).
from deepgrad.nn.functional.sparse import _padding_index as _padding_index
from deepgrad.nn.functional.sparse import embedding, one_hot
from deepgrad.nn.functional.vision import interpolate, pad, pixel_shuffle, pixel_unshuffle

# The public names are the submodules' own lists, so a new function is listed once, where it lives.
__all__ = [
    *_activation.__all__,
    *_affine.__all__,
    *_attention.__all__,
    *_conv.__all__,
    *_loss.__all__,
    *_noise.__all__,
    *_normalization.__all__,
    *_pooling.__all__,
    *_recurrent.__all__,
    *_sparse.__all__,
    *_vision.__all__,
]
