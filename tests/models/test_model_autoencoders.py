"""Autoencoders: tied weights, denoising corruption, the sparsity penalty, greedy layer-wise
pre-training of a stack, gradients, and reconstruction after a short training run."""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import directional_gradcheck, mnist_arrays

import deepgrad as dg
from deepgrad import nn
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.models import Autoencoder, DenoisingAutoencoder, SparseAutoencoder, StackedAutoencoder
from deepgrad.optim import Adam
from deepgrad.train import Trainer


def test_tied_autoencoder_shares_one_matrix():
    ae = Autoencoder(20, 6)
    x = dg.rand(4, 20)
    assert ae.encode(x).shape == (4, 6) and ae(x).shape == (4, 20)
    assert ae.decoder.weight is ae.encoder.weight
    # W once, the encoder bias, the decoder bias
    assert sum(p.numel() for p in ae.parameters()) == 20 * 6 + 6 + 20
    untied = Autoencoder(20, 6, tied=False)
    assert sum(p.numel() for p in untied.parameters()) == 2 * 20 * 6 + 6 + 20


def test_tied_decoder_is_the_transposed_encoder():
    ae = Autoencoder(5, 3, output="identity")
    h = dg.rand(2, 3)
    w, b = ae.encoder.weight.detach().numpy(), ae.decoder.bias.detach().numpy()
    np.testing.assert_allclose(ae.decode(h).detach().numpy(), h.numpy() @ w + b, rtol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Autoencoder(6, 3, activation="tanh", output="identity"),
        lambda: Autoencoder(6, 3, loss="bce"),
        lambda: Autoencoder(6, 3, tied=False),
        lambda: SparseAutoencoder(6, 3, rho=0.2, beta=2.0),
        lambda: StackedAutoencoder([6, 4, 2]),
    ],
)
def test_gradients_match_finite_differences_in_float64(make):
    dg.manual_seed(0)
    ae = make().double()
    x = dg.rand(5, 6, dtype=dg.float64)
    directional_gradcheck(lambda: ae.loss(ae(x), x), list(ae.parameters()))


def test_mask_corruption_zeroes_about_the_given_fraction_and_only_in_training():
    dae = DenoisingAutoencoder(1000, 4, noise=0.3, generator=dg.Generator().manual_seed(0))
    x = dg.ones(20, 1000)
    corrupted = dae.corrupt(x).numpy()
    assert set(np.unique(corrupted)) <= {0.0, 1.0}
    assert (corrupted == 0).mean() == pytest.approx(0.3, abs=0.01)
    dae.eval()
    np.testing.assert_array_equal(
        dae(x).detach().numpy(), Autoencoder.forward(dae, x).detach().numpy()
    )


def test_gaussian_corruption_adds_noise_of_the_given_std():
    dae = DenoisingAutoencoder(
        1000, 4, corruption="gaussian", noise=0.2, generator=dg.Generator().manual_seed(0)
    )
    x = dg.zeros(20, 1000)
    assert dae.corrupt(x).numpy().std() == pytest.approx(0.2, rel=0.02)


def test_denoising_training_mode_reconstructs_from_the_corrupted_input():
    gen = dg.Generator()
    dae = DenoisingAutoencoder(30, 5, noise=0.5, generator=gen)
    x = dg.rand(4, 30)
    gen.manual_seed(3)
    expected = dae.decode(dae.encode(dae.corrupt(x)))
    gen.manual_seed(3)
    np.testing.assert_allclose(dae(x).detach().numpy(), expected.detach().numpy(), rtol=1e-6)


def test_sparsity_penalty_is_the_kl_divergence_of_mean_activations():
    sae = SparseAutoencoder(10, 4, rho=0.1, beta=3.0)
    x = dg.rand(8, 10)
    x_hat = sae(x)
    rho_hat = sae.encode(x).detach().numpy().mean(axis=0)
    kl = (0.1 * np.log(0.1 / rho_hat) + 0.9 * np.log(0.9 / (1 - rho_hat))).sum()
    assert float(sae.sparsity_penalty()) == pytest.approx(kl, rel=1e-5)
    assert float(sae.loss(x_hat, x)) == pytest.approx(
        float(sae.reconstruction_loss(x_hat, x)) + 3.0 * kl, rel=1e-5
    )
    # no penalty when every unit's mean activation is the target
    assert float(sae.sparsity_penalty(dg.full((8, 4), 0.1))) == pytest.approx(0.0, abs=1e-6)


_MASK_FIX = "with corruption='mask' it is the probability of zeroing each input"
_LOSS_FIX = "'mse' for any inputs, 'bce' for inputs in \\[0, 1\\] with a sigmoid output"


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: Autoencoder(0, 3),
            ValueError,
            r"^Autoencoder: in_features must be a positive int \(got 0\)\.$",
        ),
        (
            lambda: Autoencoder(4, 3.0),
            TypeError,
            r"^Autoencoder: code_size must be a positive int \(got float 3\.0\)\.$",
        ),
        (
            lambda: Autoencoder(4, 3, loss="l1"),
            ValueError,
            rf"^Autoencoder: loss must be 'mse' or 'bce' \(got 'l1'\); {_LOSS_FIX}\.$",
        ),
        (
            lambda: DenoisingAutoencoder(4, 3, corruption="salt"),
            ValueError,
            r"^DenoisingAutoencoder: corruption must be 'mask' or 'gaussian' \(got 'salt'\)\.$",
        ),
        (
            lambda: DenoisingAutoencoder(4, 3, noise=1.0),
            ValueError,
            rf"^DenoisingAutoencoder: noise must be in \[0, 1\) \(got 1\.0\); {_MASK_FIX}\.$",
        ),
        (
            lambda: DenoisingAutoencoder(4, 3, corruption="gaussian", noise=-0.1),
            ValueError,
            (
                r"^DenoisingAutoencoder: noise must be >= 0 \(got -0\.1\); "
                r"it is the Gaussian noise's std\.$"
            ),
        ),
        (
            lambda: DenoisingAutoencoder(4, 3, noise="0.3"),
            TypeError,
            r"^DenoisingAutoencoder: noise must be a number \(got str '0\.3'\)",
        ),
        (
            lambda: SparseAutoencoder(4, 3, activation="relu"),
            ValueError,
            "activation must be 'sigmoid'",
        ),
        (
            lambda: SparseAutoencoder(4, 3, rho=0.0),
            ValueError,
            (
                r"^SparseAutoencoder: rho must be in \(0, 1\) \(got 0\.0\); "
                r"it is the target mean activation of each code unit, e\.g\. 0\.05\.$"
            ),
        ),
        (
            lambda: SparseAutoencoder(4, 3, beta=-1),
            ValueError,
            (
                r"^SparseAutoencoder: beta must be >= 0 \(got -1\); "
                r"it weights the sparsity penalty; 0 turns it off\.$"
            ),
        ),
        (lambda: StackedAutoencoder([4]), ValueError, "at least two"),
        (
            lambda: StackedAutoencoder([4, 2], noise=1),
            ValueError,
            (
                r"^StackedAutoencoder: noise must be in \[0, 1\) \(got 1\); "
                r"it is the probability of zeroing each layer's input"
            ),
        ),
        (
            lambda: StackedAutoencoder([4, 2]).pretrain([], epochs=0),
            ValueError,
            r"^StackedAutoencoder\.pretrain: epochs must be a positive int \(got 0\)\.$",
        ),
        (
            lambda: StackedAutoencoder([4, 2]).pretrain([], optimizer="rmsprop"),
            ValueError,
            (
                r"^StackedAutoencoder\.pretrain: optimizer must be 'adam' or 'sgd' "
                r"\(got 'rmsprop'\)\.$"
            ),
        ),
        (
            lambda: StackedAutoencoder([4, 2]).classifier(1),
            ValueError,
            r"^StackedAutoencoder\.classifier: num_classes must be an int >= 2 \(got 1\)\.$",
        ),
        (
            lambda: StackedAutoencoder([4, 2]).classifier(True),
            TypeError,
            (
                r"^StackedAutoencoder\.classifier: num_classes must be an int >= 2 "
                r"\(got bool True\)\.$"
            ),
        ),
    ],
)
def test_bad_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def _loader(x, batch_size=50):
    return DataLoader(
        TensorDataset(x, x),
        batch_size=batch_size,
        shuffle=True,
        generator=dg.Generator().manual_seed(0),
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: Autoencoder(784, 32),
        lambda: DenoisingAutoencoder(784, 32, noise=0.3, generator=dg.Generator().manual_seed(0)),
    ],
)
def test_autoencoder_reconstructs_digits_better_than_the_mean_image(make):
    x, _, xt, _ = mnist_arrays(1000, 300)
    baseline = float(((xt - x.mean(axis=0)) ** 2).mean())  # predicting the mean training digit
    dg.manual_seed(0)
    ae = make()
    trainer = Trainer(ae, ae.loss, Adam(ae.parameters(), lr=1e-2), progress=False)
    trainer.fit(_loader(x), epochs=8)
    error = trainer.evaluate(DataLoader(TensorDataset(xt, xt), batch_size=300))["loss"]
    assert error < 0.75 * baseline


def test_sparse_autoencoder_keeps_its_units_mostly_off_and_still_reconstructs():
    x, _, xt, _ = mnist_arrays(1000, 300)
    baseline = float(((xt - x.mean(axis=0)) ** 2).mean())
    dg.manual_seed(0)
    sae = SparseAutoencoder(784, 64, rho=0.05)
    trainer = Trainer(sae, sae.loss, Adam(sae.parameters(), lr=1e-2), progress=False)
    trainer.fit(_loader(x), epochs=8)
    sae.eval()
    with dg.no_grad():
        codes = sae.encode(dg.tensor(xt)).numpy()
        error = float(sae.reconstruction_loss(sae(dg.tensor(xt)), dg.tensor(xt)))
    # sigmoid units start around 0.5 on average; the penalty pulls the mean toward rho
    assert codes.mean() < 0.2
    assert error < baseline


def test_greedy_pretraining_trains_each_layer_alone_on_the_codes_below():
    x, _, _, _ = mnist_arrays(300, 1)
    dg.manual_seed(0)
    stack = StackedAutoencoder([784, 64, 16])
    first = [p.detach().numpy().copy() for p in stack.layers[0].parameters()]
    codes_before = stack.encode(dg.tensor(x), depth=1).detach().numpy()
    histories = stack.pretrain(_loader(x), epochs=3, lr=1e-2)
    assert len(histories) == 2
    for history in histories:
        losses = history["loss"]
        assert losses[-1] < losses[0]
    # layer 1 learned (in its own turn); layer 2 learned to reconstruct layer 1's final codes
    assert any(
        not np.array_equal(a, p.detach().numpy())
        for a, p in zip(first, stack.layers[0].parameters())
    )
    codes = stack.encode(dg.tensor(x), depth=1)
    assert not np.allclose(codes.detach().numpy(), codes_before)
    layer2 = stack.layers[1]
    error = float(layer2.loss(layer2(codes), codes))
    assert error < histories[1]["loss"][0]


def test_pretraining_layer_two_leaves_layer_one_fixed(monkeypatch):
    x, _, _, _ = mnist_arrays(100, 1)
    stack = StackedAutoencoder([784, 32, 8])
    snapshots = []
    original = StackedAutoencoder.encode

    def watching_encode(self, inputs, depth=None):
        if depth == 1:  # called while layer 2 trains: record layer 1 as it is then
            snapshots.append(self.layers[0].encoder.weight.detach().numpy().copy())
        return original(self, inputs, depth)

    monkeypatch.setattr(StackedAutoencoder, "encode", watching_encode)
    stack.pretrain(_loader(x, 25), epochs=2, lr=1e-2)
    assert len(snapshots) == 8
    assert all(np.array_equal(s, snapshots[0]) for s in snapshots)


def test_stack_encodes_decodes_and_gives_a_classifier_on_the_pretrained_encoder():
    stack = StackedAutoencoder([20, 8, 4], noise=0.2)
    x = dg.rand(3, 20)
    assert stack.encode(x).shape == (3, 4) and stack(x).shape == (3, 20)
    assert stack.layers[0].noise == 0.2
    clf = stack.classifier(5)
    assert clf(x).shape == (3, 5)
    assert clf[1] is stack.layers[0].encoder and clf[3] is stack.layers[1].encoder
    linears = [m for m in clf if isinstance(m, nn.Linear)]
    assert len(linears) == 3


def test_fine_tuning_the_pretrained_stack_end_to_end_lowers_its_error():
    x, _, _, _ = mnist_arrays(300, 1)
    dg.manual_seed(0)
    stack = StackedAutoencoder([784, 64, 16])
    stack.pretrain(_loader(x), epochs=2, lr=1e-2)
    trainer = Trainer(stack, stack.loss, Adam(stack.parameters(), lr=3e-3), progress=False)
    before = trainer.evaluate(DataLoader(TensorDataset(x, x), batch_size=300))["loss"]
    trainer.fit(_loader(x), epochs=3)
    assert trainer.evaluate(DataLoader(TensorDataset(x, x), batch_size=300))["loss"] < before
