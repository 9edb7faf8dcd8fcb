"""Every model class of deepgrad.models trains the same compiled as eagerly (issue 14's check).

Each case builds a small model and an optimizer under one seed, runs a few training steps
(forward, loss, ``zero_grad``, ``backward``, optimizer step) eagerly and through
``deepgrad.compile`` from the same start and the same random draws, and compares the losses,
the parameters, their gradients and the buffers: float64 to 1e-10, float32 to 1e-5.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
from helpers import assert_same, run_both

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import models
from deepgrad.compile import GraphBreakWarning
from deepgrad.compile.passes import numba_codegen

DTYPES = {"float64": dg.float64, "float32": dg.float32}
TOL = {"float64": 1e-10, "float32": 1e-5}
STEPS = 3


def _normal(rng: np.random.Generator, shape: tuple, dtype: str) -> dg.Tensor:
    return dg.tensor(rng.standard_normal(shape).astype(dtype))


def _uniform(rng: np.random.Generator, shape: tuple, dtype: str) -> dg.Tensor:
    return dg.tensor(rng.random(shape).astype(dtype))


def _binary(rng: np.random.Generator, shape: tuple, dtype: str) -> dg.Tensor:
    return dg.tensor((rng.random(shape) < 0.5).astype(dtype))


def _labels(rng: np.random.Generator, shape: tuple, classes: int) -> dg.Tensor:
    return dg.tensor(rng.integers(0, classes, shape))


def _classify(shape: tuple, classes: int, target_shape: tuple | None = None):
    """Batches (x, y): x ~ N(0, 1) of ``shape``, y class indices of ``target_shape`` (default (N,))."""

    def make(dtype: str, rng: np.random.Generator) -> tuple:
        return _normal(rng, shape, dtype), _labels(rng, target_shape or shape[:1], classes)

    return make


def _tokens(batch: int, length: int, vocab: int, classes: int | None = None):
    """Batches (ids, y): y is the next ids (a language model) or one class per sequence."""

    def make(dtype: str, rng: np.random.Generator) -> tuple:
        ids = _labels(rng, (batch, length), vocab)
        target = _labels(rng, (batch, length) if classes is None else (batch,), classes or vocab)
        return ids, target

    return make


def _reconstruct(shape: tuple, source=_uniform):
    def make(dtype: str, rng: np.random.Generator) -> tuple:
        return (source(rng, shape, dtype),)

    return make


def _supervised(make_model: Callable[[], dg.nn.Module], loss: str = "cross_entropy", opt="sgd"):
    """build(dtype) -> (step, modules) for ``loss(model(x), y)``; ``loss`` may name a model method."""

    def build(dtype: str):
        model = make_model().to(DTYPES[dtype])
        optimizer = _optimizer(model.parameters(), opt)

        def step(x, y):
            optimizer.zero_grad()
            out = model(x)
            value = (
                getattr(model, loss)(out, y) if hasattr(model, loss) else getattr(F, loss)(out, y)
            )
            value.backward()
            optimizer.step()
            return value

        return step, [model]

    return build


def _self_supervised(make_model: Callable[[], dg.nn.Module], opt: str = "adam"):
    """build(dtype) -> (step, modules) for ``model.loss(model(x), x)`` (autoencoders, VAE, PixelCNN)."""

    def build(dtype: str):
        model = make_model().to(DTYPES[dtype])
        optimizer = _optimizer(model.parameters(), opt)

        def step(x):
            optimizer.zero_grad()
            value = model.loss(model(x), x)
            value.backward()
            optimizer.step()
            return value

        return step, [model]

    return build


def _adversarial(make_gan: Callable[[], models.GAN]):
    """build(dtype) -> (step, modules): a discriminator update, then a generator update."""

    def build(dtype: str):
        gan = make_gan().to(DTYPES[dtype])
        d_opt = dg.optim.Adam(gan.discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
        g_opt = dg.optim.SGD(gan.generator.parameters(), lr=1e-2, momentum=0.9)

        def step(real):
            n = real.shape[0]
            d_opt.zero_grad()
            fake = gan.generator(gan.noise(n)).detach()
            d_loss = gan.discriminator_loss(gan.discriminator(real), gan.discriminator(fake))
            d_loss.backward()
            d_opt.step()
            g_opt.zero_grad()
            g_loss = gan.generator_loss(gan.discriminator(gan.generator(gan.noise(n))))
            g_loss.backward()
            g_opt.step()
            return d_loss, g_loss

        return step, [gan]

    return build


def _optimizer(params, kind: str):
    if kind == "adam":
        return dg.optim.Adam(params, lr=1e-2)
    return dg.optim.SGD(params, lr=0.05, momentum=0.9)


def _gan() -> models.GAN:
    return models.GAN(8, (1, 4, 4), hidden=(16, 32))


def _dcgan() -> models.GAN:
    return models.DCGAN(8, channels=4)


# name (its class first) -> (build(dtype) -> (step, modules), batch(dtype, rng) -> arguments)
CASES: dict[str, tuple[Callable, Callable]] = {
    "MLP": (
        _supervised(lambda: models.MLP([12, 16, 8, 3], batch_norm=True, dropout=0.2)),
        _classify((4, 12), 3),
    ),
    "LeNet5": (_supervised(models.LeNet5, opt="adam"), _classify((2, 1, 28, 28), 10)),
    "ConvNet": (
        _supervised(lambda: models.ConvNet(channels=(4, 8), hidden=16, batch_norm=True)),
        _classify((2, 1, 28, 28), 10),
    ),
    "Autoencoder": (_self_supervised(lambda: models.Autoencoder(20, 6)), _reconstruct((4, 20))),
    "Autoencoder_untied": (
        _self_supervised(
            lambda: models.Autoencoder(20, 6, activation="relu", output="identity", tied=False)
        ),
        _reconstruct((4, 20), _normal),
    ),
    "DenoisingAutoencoder_mask": (
        _self_supervised(lambda: models.DenoisingAutoencoder(20, 6, noise=0.3)),
        _reconstruct((4, 20)),
    ),
    "DenoisingAutoencoder_gaussian": (
        _self_supervised(lambda: models.DenoisingAutoencoder(20, 6, corruption="gaussian")),
        _reconstruct((4, 20)),
    ),
    "SparseAutoencoder": (
        _self_supervised(lambda: models.SparseAutoencoder(20, 6)),
        _reconstruct((4, 20)),
    ),
    "StackedAutoencoder": (
        _self_supervised(lambda: models.StackedAutoencoder((20, 10, 5))),
        _reconstruct((4, 20)),
    ),
    "VAE": (_self_supervised(lambda: models.VAE(20, 12, 4)), _reconstruct((4, 20))),
    "GAN": (_adversarial(_gan), _reconstruct((4, 1, 4, 4), _normal)),
    "DCGAN": (_adversarial(_dcgan), _reconstruct((2, 1, 28, 28), _normal)),
    "SequenceClassifier_embedding": (
        _supervised(lambda: models.SequenceClassifier(5, 6, 3, vocab_size=9)),
        _tokens(3, 5, 9, classes=3),
    ),
    "CharLM_lstm": (
        _supervised(lambda: models.CharLM(11, 6, 8, cell="lstm", num_layers=2), loss="loss"),
        _tokens(3, 5, 11),
    ),
    "CharLM_gru": (
        _supervised(lambda: models.CharLM(11, 6, 8, cell="gru"), loss="loss", opt="adam"),
        _tokens(3, 5, 11),
    ),
    "ResNet": (
        _supervised(lambda: models.ResNet(blocks=(1, 1, 1), channels=(4, 8, 8)), opt="adam"),
        _classify((2, 1, 12, 12), 10),
    ),
    "PixelCNN": (
        _self_supervised(lambda: models.PixelCNN(channels=8, blocks=2)),
        _reconstruct((2, 1, 8, 8), _binary),
    ),
    "PixelCNN_gated": (
        _self_supervised(lambda: models.PixelCNN(channels=8, blocks=2, block="gated")),
        _reconstruct((2, 1, 8, 8), _binary),
    ),
    "WaveNet": (
        _supervised(lambda: models.WaveNet(residual_channels=4, skip_channels=6), opt="adam"),
        _classify((2, 1, 20), 2, target_shape=(2, 20)),
    ),
    "Ensemble": (
        _supervised(
            lambda: models.Ensemble([models.MLP([12, 8, 3]), models.MLP([12, 6, 3])]),
            loss="nll_loss",
        ),
        _classify((4, 12), 3),
    ),
}
for _cell in ("rnn", "lstm", "gru"):
    CASES[f"SequenceClassifier_{_cell}"] = (
        _supervised(
            lambda c=_cell: models.SequenceClassifier(
                5, 6, 3, cell=c, pooling="mean", bidirectional=True
            ),
            opt="adam",
        ),
        _classify((3, 4, 5), 3),
    )


def _batches(make_batch: Callable, dtype: str, n: int = STEPS) -> list[tuple]:
    rng = np.random.default_rng(7)
    return [make_batch(dtype, rng) for _ in range(n)]


@pytest.mark.parametrize("codegen", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", sorted(TOL))
@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_training_steps_equal_eager(name, dtype, codegen):
    if codegen == "numba" and not numba_codegen.available():
        pytest.skip("numba not installed")
    build, make_batch = CASES[name]
    with numba_codegen.use_codegen(codegen):  # the CPU code of the fused groups, forced
        results = run_both(lambda: build(dtype), _batches(make_batch, dtype))
    assert_same(results, rtol=TOL[dtype], atol=TOL[dtype])
    fn = results["compiled"][2]
    assert len(fn.programs) == 1, "one signature: traced once, then run as a program"


def test_every_model_class_is_covered():
    covered = {name.split("_")[0] for name in CASES}
    classes = {
        name
        for name in models.__all__
        if isinstance(getattr(models, name), type)
        and issubclass(getattr(models, name), dg.nn.Module)
    }
    assert classes <= covered, classes - covered


def test_gan_train_step_reads_losses_into_python_and_falls_back_to_eager():
    """``GAN.train_step`` returns floats (``d_loss.item()``): a graph break that names its line."""
    real = _batches(_reconstruct((4, 1, 4, 4), _normal), "float64", n=2)
    states = {}
    for mode in ("eager", "compiled"):
        dg.manual_seed(0)
        gan = _gan().to(dg.float64)
        opt = dg.optim.Adam(gan.parameter_groups(lr=1e-3))
        fn = dg.compile(gan.train_step) if mode == "compiled" else gan.train_step
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            logs = [fn(x, opt) for (x,) in real]
        states[mode] = (logs, [p._data.copy() for p in gan.parameters()])
    breaks = [w for w in caught if issubclass(w.category, GraphBreakWarning)]
    assert len(breaks) == 1, [str(w.message) for w in caught]
    assert "gan.py" in str(breaks[0].message) and ".item()" in str(breaks[0].message)
    assert fn.eager_reason is not None and not fn.programs
    assert states["compiled"][0] == states["eager"][0]
    for a, b in zip(states["eager"][1], states["compiled"][1]):
        np.testing.assert_array_equal(b, a)


def _bound_loss_step(model: dg.nn.Module, opt, loss_fn: Callable) -> Callable:
    def step(x, y):
        opt.zero_grad()
        value = loss_fn(model(x), y)
        value.backward()
        opt.step()
        return value

    return step


def test_nll_loss_bound_before_compile_compiles():
    """``loss_fn = F.nll_loss`` bound before ``compile`` still compiles: its eager island is the
    helper it calls after its checks (``_nll_loss_indices``), found at call time like
    ``cross_entropy``'s. Results equal eager."""
    make_batch = CASES["Ensemble"][1]
    batches = _batches(make_batch, "float64")
    states = {}
    for mode in ("eager", "compiled"):
        dg.manual_seed(0)
        model = models.Ensemble([models.MLP([12, 8, 3]), models.MLP([12, 6, 3])]).to(dg.float64)
        step = _bound_loss_step(model, dg.optim.SGD(model.parameters(), lr=0.05), F.nll_loss)
        fn = dg.compile(step) if mode == "compiled" else step
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            losses = [fn(x, y)._data.copy() for x, y in batches]
        states[mode] = (losses, [p._data.copy() for p in model.parameters()])
    assert not [w for w in caught if issubclass(w.category, GraphBreakWarning)]
    assert fn.eager_reason is None and len(fn.programs) == 1
    for a, b in zip(
        states["eager"][0] + states["eager"][1], states["compiled"][0] + states["compiled"][1]
    ):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
