"""Every layer of deepgrad.nn that ONNX can express: exported, run in onnxruntime, compared."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_helpers import check_export, op_types

import deepgrad as dg
from deepgrad import nn


def _x(*shape: int) -> tuple:
    return (dg.randn(*shape),)


def _batches(make, *shape: int) -> list[tuple]:
    """Examples of batch 3 (traced) and 5 (checks the dynamic batch axis)."""
    return [make(3, *shape), make(5, *shape)]


ACTIVATIONS = [
    nn.Identity(),
    nn.Sigmoid(),
    nn.Tanh(),
    nn.ReLU(),
    nn.ReLU6(),
    nn.Softplus(),
    nn.Softplus(beta=2.0, threshold=3.0),
    nn.CenteredSoftplus(),
    nn.LogSigmoid(),
    nn.LeakyReLU(0.1),
    nn.VLReLU(),
    nn.RReLU(0.1, 0.5),
    nn.PReLU(6),
    nn.ELU(),
    nn.SELU(),
    nn.CELU(0.5),
    nn.GELU(),
    nn.GELU(approximate="tanh"),
    nn.SiLU(),
    nn.Mish(),
    nn.Hardtanh(-0.5, 0.5),
    nn.Softsign(),
    nn.Softmax(dim=1),
    nn.LogSoftmax(dim=-1),
    nn.Maxout(6, 3, pieces=2),
    nn.APL(6, hinges=2),
]


@pytest.mark.parametrize("layer", ACTIVATIONS, ids=lambda m: repr(m))
def test_activations(layer):
    dg.manual_seed(0)
    x = [(dg.randn(3, 6) * 3,), (dg.randn(5, 6) * 3,)]
    check_export(layer, *x)


LAYERS = {
    "linear": (nn.Linear(6, 4), _batches(_x, 6)),
    "linear_3d": (nn.Linear(6, 4), _batches(_x, 2, 6)),
    "linear_no_bias": (nn.Linear(6, 4, bias=False), _batches(_x, 2, 6)),
    "conv1d": (nn.Conv1d(2, 4, 3, stride=2, padding=1), _batches(_x, 2, 9)),
    "conv2d": (nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2), _batches(_x, 4, 7, 6)),
    "conv2d_same": (nn.Conv2d(2, 3, (3, 2), padding="same", bias=False), _batches(_x, 2, 5, 5)),
    "conv_transpose2d": (
        nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),
        _batches(_x, 4, 5, 4),
    ),
    "conv_transpose1d": (nn.ConvTranspose1d(3, 2, 4, stride=2), _batches(_x, 3, 6)),
    "max_pool2d": (nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), _batches(_x, 2, 8, 7)),
    "max_pool2d_dilated": (nn.MaxPool2d(2, dilation=2), _batches(_x, 2, 7, 7)),
    "max_pool1d": (nn.MaxPool1d(2), _batches(_x, 2, 9)),
    "avg_pool2d": (nn.AvgPool2d(2), _batches(_x, 2, 6, 6)),
    "avg_pool2d_pad": (
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        _batches(_x, 2, 8, 7),
    ),
    "avg_pool1d": (nn.AvgPool1d(3, stride=2, padding=1), _batches(_x, 2, 9)),
    "adaptive_avg_pool2d_1": (nn.AdaptiveAvgPool2d(1), _batches(_x, 3, 5, 4)),
    "adaptive_avg_pool2d": (nn.AdaptiveAvgPool2d((3, 2)), _batches(_x, 3, 7, 5)),
    "batch_norm1d": (nn.BatchNorm1d(4), _batches(_x, 4)),
    "batch_norm1d_3d": (nn.BatchNorm1d(4, affine=False), _batches(_x, 4, 5)),
    "batch_norm2d": (nn.BatchNorm2d(3), _batches(_x, 3, 4, 4)),
    "batch_norm2d_batch_stats": (
        nn.BatchNorm2d(3, track_running_stats=False),
        _batches(_x, 3, 4, 4),
    ),
    "layer_norm": (nn.LayerNorm((4, 5)), _batches(_x, 4, 5)),
    "layer_norm_plain": (nn.LayerNorm(5, elementwise_affine=False), _batches(_x, 2, 5)),
    "group_norm": (nn.GroupNorm(2, 4), _batches(_x, 4, 3)),
    "dropout": (
        nn.Sequential(nn.Dropout(0.5), nn.Dropout2d(0.3), nn.AlphaDropout(0.2)),
        _batches(_x, 4, 3, 3),
    ),
    "flatten": (nn.Flatten(), _batches(_x, 2, 3, 4)),
    "unflatten": (nn.Unflatten(1, (2, 3)), _batches(_x, 6)),
    "zero_pad": (nn.ZeroPad2d((1, 2, 0, 1)), _batches(_x, 2, 3, 3)),
    "pixel_shuffle": (nn.PixelShuffle(2), _batches(_x, 8, 2, 3)),
    "upsample": (nn.Upsample(scale_factor=2), _batches(_x, 2, 3, 3)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers(name):
    dg.manual_seed(1)
    layer, examples = LAYERS[name]
    for module in layer.modules():  # batch norm: running statistics that are not 0 and 1
        if getattr(module, "running_mean", None) is not None:
            module.running_mean.copy_(dg.randn(module.num_features))
            module.running_var.copy_(dg.rand(module.num_features) + 0.5)
    check_export(layer, *examples)


def test_batch_norm_is_one_node_with_named_statistics():
    proto = check_export(nn.BatchNorm2d(3), *_batches(_x, 3, 4, 4))
    assert op_types(proto) == ["BatchNormalization", "Identity"]
    names = {t.name for t in proto.graph.initializer}
    assert {"running_mean", "running_var", "weight", "bias"} <= names


def test_embedding():
    emb = nn.Embedding(10, 4, padding_idx=0)
    ids = [(dg.randint(0, 10, (3, 5)),), (dg.randint(0, 10, (6, 5)),)]
    proto = check_export(emb, *ids)
    assert "Gather" in op_types(proto) and "Where" not in op_types(proto)


RECURRENT = {
    "rnn": dict(cls=nn.RNN),
    "rnn_relu_2_layers": dict(cls=nn.RNN, nonlinearity="relu", num_layers=2),
    "lstm": dict(cls=nn.LSTM),
    "lstm_bi_2_layers": dict(cls=nn.LSTM, bidirectional=True, num_layers=2),
    "lstm_batch_first_no_bias": dict(cls=nn.LSTM, batch_first=True, bias=False),
    "gru": dict(cls=nn.GRU),
    "gru_bi_batch_first": dict(cls=nn.GRU, bidirectional=True, batch_first=True, num_layers=2),
}


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent(name):
    options = dict(RECURRENT[name])
    cls = options.pop("cls")
    dg.manual_seed(2)
    rnn = cls(3, 5, **options)
    shape = (3, 4, 3) if options.get("batch_first") else (4, 3, 3)
    other = (6, 4, 3) if options.get("batch_first") else (4, 6, 3)
    proto = check_export(rnn, (dg.randn(*shape),), dynamic=False)
    assert cls.__name__ in op_types(proto)
    # the batch is dynamic: axis 0 with batch_first, else 1 (sequence first)
    axis = 0 if options.get("batch_first") else 1
    proto = dg.onnx.export(rnn, dg.randn(*shape), dynamic_axes={"input_0": {axis: "batch"}})
    x = dg.randn(*other)
    with dg.no_grad():
        expected = rnn(x)
    from onnx_helpers import run_onnx

    got = run_onnx(proto, {"input_0": x.numpy()})
    flat = [expected[0]] + (list(expected[1]) if cls is nn.LSTM else [expected[1]])
    for e, g in zip(flat, got):
        np.testing.assert_allclose(g, e.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_recurrent_with_initial_state_and_unbatched(cls):
    dg.manual_seed(3)
    rnn = cls(3, 4, num_layers=2, bidirectional=True)
    h = dg.randn(4, 2, 4)
    state = (h, dg.randn(4, 2, 4)) if cls is nn.LSTM else h
    check_export(rnn, (dg.randn(5, 2, 3), state), dynamic=False)
    check_export(rnn, (dg.randn(5, 3),), dynamic=False)


@pytest.mark.parametrize("cell", [nn.RNNCell(3, 4), nn.LSTMCell(3, 4), nn.GRUCell(3, 4)])
def test_cells(cell):
    h = dg.randn(2, 4)
    state = (h, dg.randn(2, 4)) if isinstance(cell, nn.LSTMCell) else h
    check_export(cell, (dg.randn(2, 3), state), dynamic=False)


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_attention(causal):
    dg.manual_seed(4)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = mha

        def forward(self, x):
            mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1]) if causal else None
            return self.mha(x, x, x, attn_mask=mask, need_weights=False)[0]

    check_export(SelfAttention(), (dg.randn(3, 4, 8),), (dg.randn(5, 4, 8),))


def test_transformer_encoder_layer():
    dg.manual_seed(5)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    check_export(layer, (dg.randn(3, 4, 8),), (dg.randn(2, 4, 8),))
