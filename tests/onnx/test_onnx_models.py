"""Every model of deepgrad.models, exported and run in onnxruntime with a dynamic batch axis."""

from __future__ import annotations

import pytest
from onnx_helpers import check_export, op_types

import deepgrad as dg
from deepgrad import models


def _x(*shape: int) -> tuple:
    return (dg.randn(*shape),)


def _ids(batch: int, length: int, vocab: int) -> tuple:
    return (dg.randint(0, vocab, (batch, length)),)


def _gan() -> models.GAN:
    return models.GAN(8, (1, 4, 4), hidden=(16, 32))


# name -> (model factory, example of the traced batch, example of another batch size)
MODELS = {
    "MLP": (lambda: models.MLP([12, 16, 8, 3], batch_norm=True, dropout=0.2), _x(4, 12), _x(7, 12)),
    "mnist_mlp": (models.mnist_mlp, _x(2, 784), _x(3, 784)),
    "LeNet5": (models.LeNet5, _x(2, 1, 28, 28), _x(3, 1, 28, 28)),
    "LeNet5_avg_tanh": (
        lambda: models.LeNet5(activation="tanh", pool="avg"),
        _x(2, 1, 28, 28),
        _x(3, 1, 28, 28),
    ),
    "ConvNet": (
        lambda: models.ConvNet(channels=(4, 8), hidden=16, batch_norm=True),
        _x(2, 1, 28, 28),
        _x(3, 1, 28, 28),
    ),
    "Autoencoder": (lambda: models.Autoencoder(20, 6), _x(4, 20), _x(5, 20)),
    "Autoencoder_untied": (
        lambda: models.Autoencoder(20, 6, activation="relu", output="identity", tied=False),
        _x(4, 20),
        _x(5, 20),
    ),
    "DenoisingAutoencoder": (lambda: models.DenoisingAutoencoder(20, 6), _x(4, 20), _x(5, 20)),
    "SparseAutoencoder": (lambda: models.SparseAutoencoder(20, 6), _x(4, 20), _x(5, 20)),
    "StackedAutoencoder": (lambda: models.StackedAutoencoder((20, 10, 5)), _x(4, 20), _x(5, 20)),
    # eval mode: z = mu (no sampling), so the outputs (logits, mu, logvar) are deterministic
    "VAE": (lambda: models.VAE(20, 12, 4), _x(4, 20), _x(5, 20)),
    "VAE.decoder": (lambda: models.VAE(20, 12, 4).decoder, _x(4, 4), _x(5, 4)),
    "GAN.generator": (lambda: _gan().generator, _x(4, 8), _x(5, 8)),
    "GAN.discriminator": (lambda: _gan().discriminator, _x(4, 1, 4, 4), _x(5, 1, 4, 4)),
    "GAN": (_gan, _x(4, 8), _x(5, 8)),
    "DCGAN.generator": (lambda: models.DCGAN(8, channels=4).generator, _x(2, 8), _x(3, 8)),
    "DCGAN.discriminator": (
        lambda: models.DCGAN(8, channels=4).discriminator,
        _x(2, 1, 28, 28),
        _x(3, 1, 28, 28),
    ),
    "ResNet": (
        lambda: models.ResNet(blocks=(1, 1, 1), channels=(4, 8, 8)),
        _x(2, 1, 28, 28),
        _x(3, 1, 28, 28),
    ),
    "ResNet_plain": (
        lambda: models.ResNet(blocks=(1, 1, 1), channels=(4, 8, 8), plain=True),
        _x(2, 1, 12, 12),
        _x(3, 1, 12, 12),
    ),
    "PixelCNN": (lambda: models.PixelCNN(channels=8, blocks=2), _x(2, 1, 8, 8), _x(3, 1, 8, 8)),
    "PixelCNN_gated": (
        lambda: models.PixelCNN(channels=8, blocks=2, block="gated"),
        _x(2, 1, 8, 8),
        _x(3, 1, 8, 8),
    ),
    "WaveNet": (
        lambda: models.WaveNet(residual_channels=4, skip_channels=6),
        _x(2, 1, 20),
        _x(3, 1, 20),
    ),
    "Ensemble": (
        lambda: models.Ensemble([models.MLP([12, 8, 3]), models.MLP([12, 6, 3])]),
        _x(4, 12),
        _x(7, 12),
    ),
    "SequenceClassifier_embedding": (
        lambda: models.SequenceClassifier(5, 6, 3, vocab_size=9),
        _ids(3, 5, 9),
        _ids(4, 5, 9),
    ),
}
for _cell in ("rnn", "lstm", "gru"):
    for _pooling in ("last", "mean", "max"):
        MODELS[f"SequenceClassifier_{_cell}_{_pooling}"] = (
            lambda c=_cell, p=_pooling: models.SequenceClassifier(
                5, 6, 3, cell=c, pooling=p, bidirectional=True, num_layers=2
            ),
            _x(4, 7, 5),
            _x(6, 7, 5),
        )
    MODELS[f"CharLM_{_cell}"] = (
        lambda c=_cell: models.CharLM(11, 6, 8, cell=c, num_layers=2),
        _ids(3, 5, 11),
        _ids(4, 5, 11),
    )


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_exports(name):
    dg.manual_seed(0)
    make, first, other = MODELS[name]
    check_export(make(), first, other)


def test_every_model_class_is_covered():
    exported = {name.split("_")[0].split(".")[0] for name in MODELS}
    classes = {
        name
        for name in models.__all__
        if isinstance(getattr(models, name), type)
        and issubclass(getattr(models, name), dg.nn.Module)
    }
    assert classes <= exported, classes - exported


def test_sequence_models_use_onnx_recurrent_operators():
    dg.manual_seed(0)
    proto = check_export(models.CharLM(11, 6, 8, cell="lstm"), _ids(3, 5, 11), _ids(2, 5, 11))
    assert "LSTM" in op_types(proto) and "Gather" in op_types(proto)
