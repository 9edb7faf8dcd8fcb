"""VAE (reparameterization, ELBO, sampling) and GAN (non-saturating losses, alternating updates,
DCGAN variant, GANTrainer): formulas, gradients and short training runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from model_helpers import directional_gradcheck, mnist_arrays

import deepgrad as dg
from deepgrad import nn
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.models import DCGAN, GAN, VAE, GANTrainer
from deepgrad.models.gan import DCDiscriminator, DCGenerator, GANUpdater
from deepgrad.optim import Adam
from deepgrad.train import Callback, GradientClipping, Trainer


def _softplus(z):
    return np.logaddexp(0.0, z)


# -- VAE ------------------------------------------------------------------------------------------
def test_vae_shapes_and_samples_in_the_unit_interval():
    vae = VAE(12, hidden=8, latent_dim=3)
    logits, mu, logvar = vae(dg.rand(5, 12))
    assert logits.shape == (5, 12) and mu.shape == (5, 3) and logvar.shape == (5, 3)
    samples = vae.sample(7, generator=dg.Generator().manual_seed(0)).numpy()
    assert samples.shape == (7, 12) and samples.min() >= 0 and samples.max() <= 1
    assert vae(dg.rand(2, 1, 3, 4))[0].shape == (2, 12)


def test_vae_loss_is_the_negative_elbo():
    dg.manual_seed(0)
    vae = VAE(6, hidden=4, latent_dim=2, beta=2.0)
    x = dg.rand(3, 6)
    logits, mu, logvar = (t.detach() for t in vae(x))
    l, m, v, xs = logits.numpy(), mu.numpy(), logvar.numpy(), x.numpy()
    bce = (xs * _softplus(-l) + (1 - xs) * _softplus(l)).sum() / 3
    kl = -0.5 * (1 + v - m**2 - np.exp(v)).sum() / 3
    assert float(vae.loss((logits, mu, logvar), x)) == pytest.approx(bce + 2.0 * kl, rel=1e-5)
    assert float(VAE.kl_divergence(dg.zeros(4, 2), dg.zeros(4, 2))) == 0.0


def test_reparameterization_draws_around_mu_in_training_and_is_mu_in_eval():
    vae = VAE(4, hidden=4, latent_dim=1000, generator=dg.Generator().manual_seed(0))
    mu, logvar = dg.full((1, 1000), 2.0), dg.full((1, 1000), math.log(0.25))
    z = vae.reparameterize(mu, logvar).numpy()
    assert z.mean() == pytest.approx(2.0, abs=0.05) and z.std() == pytest.approx(0.5, rel=0.1)
    vae.eval()
    assert np.array_equal(vae.reparameterize(mu, logvar).numpy(), mu.numpy())


def test_vae_gradients_match_finite_differences_in_float64():
    gen = dg.Generator()
    vae = VAE(6, hidden=5, latent_dim=2, activation="tanh", generator=gen).double()
    x = dg.rand(4, 6, dtype=dg.float64)

    def loss():
        gen.manual_seed(0)  # the same eps every evaluation
        return vae.loss(vae(x), x)

    directional_gradcheck(loss, list(vae.parameters()))


def test_bad_vae_arguments_are_refused():
    with pytest.raises(ValueError, match=r"^VAE: latent_dim must be a positive int \(got 0\)\.$"):
        VAE(4, 2, latent_dim=0)
    message = r"^VAE: hidden must be a positive int \(got float 2\.0\)\.$"
    with pytest.raises(TypeError, match=message):
        VAE(4, hidden=2.0)
    message = (
        r"^VAE: beta must be >= 0 \(got -1\.0\); "
        r"it weights the KL term; 1 is the plain VAE, > 1 a beta-VAE\.$"
    )
    with pytest.raises(ValueError, match=message):
        VAE(4, 2, 1, beta=-1.0)
    with pytest.raises(ValueError, match=r"^VAE\.sample: n must be a positive int \(got 0\)\.$"):
        VAE(4, 2, 1).sample(0)


def test_vae_learns_a_bound_well_below_the_uniform_one():
    x, _, xt, _ = mnist_arrays(1000, 300)
    dg.manual_seed(0)
    vae = VAE(784, hidden=128, latent_dim=8, generator=dg.Generator().manual_seed(0))
    trainer = Trainer(vae, vae.loss, Adam(vae.parameters(), lr=1e-3), progress=False)
    trainer.fit(DataLoader(TensorDataset(x, x), batch_size=50, shuffle=True), epochs=5)
    # all-0.5 pixels (zero logits) cost 784 ln 2 nats per image; a VAE that learned digits needs far less
    assert trainer.evaluate(DataLoader(TensorDataset(xt, xt), batch_size=300))[
        "loss"
    ] < 0.6 * 784 * math.log(2)


# -- GAN ------------------------------------------------------------------------------------------
def _small_gan(**kwargs):
    return GAN(
        latent_dim=4,
        image_shape=(1, 3, 3),
        hidden=(8, 8),
        rng=dg.Generator().manual_seed(0),
        **kwargs,
    )


def test_gan_shapes():
    gan = _small_gan()
    assert any(isinstance(m, nn.BatchNorm1d) for m in gan.generator.modules())
    assert not any(
        isinstance(m, nn.BatchNorm1d) for m in _small_gan(batch_norm=False).generator.modules()
    )
    assert gan(dg.randn(5, 4)).shape == (5, 1, 3, 3)
    assert gan.discriminator(dg.rand(5, 1, 3, 3)).shape == (5,)
    samples = gan.sample(6).numpy()
    assert samples.shape == (6, 1, 3, 3) and samples.min() >= 0 and samples.max() <= 1


def test_losses_are_the_non_saturating_ones():
    gan = _small_gan()
    real, fake = dg.tensor([2.0, -1.0, 0.5]), dg.tensor([-3.0, 0.0])
    expected_d = _softplus(-real.numpy()).mean() + _softplus(fake.numpy()).mean()
    assert float(gan.discriminator_loss(real, fake)) == pytest.approx(expected_d, rel=1e-6)
    # -log sigmoid(D(G(z))), not log(1 - sigmoid(D(G(z))))
    assert float(gan.generator_loss(fake)) == pytest.approx(
        _softplus(-fake.numpy()).mean(), rel=1e-6
    )
    # one-sided label smoothing: real samples are scored against 0.9
    smooth = _small_gan(real_label=0.9)
    r = real.numpy()
    expected = (0.9 * _softplus(-r) + 0.1 * _softplus(r)).mean() + _softplus(fake.numpy()).mean()
    assert float(smooth.discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-6)


def test_each_update_moves_only_its_own_network():
    gan = _small_gan()
    opt = Adam(gan.parameter_groups(1e-2), betas=(0.5, 0.999))
    g0 = [p.detach().numpy().copy() for p in gan.generator.parameters()]
    d0 = [p.detach().numpy().copy() for p in gan.discriminator.parameters()]
    real = dg.rand(8, 1, 3, 3)
    # with the generator's rate at 0, a round may change D only; with D's rate at 0, G only
    opt.param_groups[0]["lr"] = 0.0
    gan.train_step(real, opt)
    assert all(
        np.array_equal(a, p.detach().numpy()) for a, p in zip(g0, gan.generator.parameters())
    )
    assert any(
        not np.array_equal(a, p.detach().numpy())
        for a, p in zip(d0, gan.discriminator.parameters())
    )
    d1 = [p.detach().numpy().copy() for p in gan.discriminator.parameters()]
    opt.param_groups[0]["lr"], opt.param_groups[1]["lr"] = 1e-2, 0.0
    gan.train_step(real, opt)
    assert all(
        np.array_equal(a, p.detach().numpy()) for a, p in zip(d1, gan.discriminator.parameters())
    )
    assert any(
        not np.array_equal(a, p.detach().numpy()) for a, p in zip(g0, gan.generator.parameters())
    )
    assert all(p.requires_grad for p in gan.parameters())


def test_generator_update_does_not_change_the_discriminator_even_at_the_same_rate():
    gan = _small_gan(dropout=0.0)
    opt = Adam(gan.parameter_groups(1e-2), betas=(0.5, 0.999))
    calls = []
    original = opt.step

    def step():
        calls.append([p.detach().numpy().copy() for p in gan.discriminator.parameters()])
        original()
        calls[-1] = (calls[-1], [p.detach().numpy().copy() for p in gan.discriminator.parameters()])

    opt.step = step
    gan.train_step(dg.rand(8, 1, 3, 3), opt)
    (d_before, d_after), (g_before, g_after) = calls
    assert any(not np.array_equal(a, b) for a, b in zip(d_before, d_after))  # the D step moved D
    assert all(np.array_equal(a, b) for a, b in zip(g_before, g_after))  # the G step did not


def test_gan_gradients_match_finite_differences_in_float64():
    gan = _small_gan(dropout=0.0).double()
    z = dg.randn(5, 4, dtype=dg.float64)
    real = dg.rand(5, 1, 3, 3, dtype=dg.float64)
    directional_gradcheck(
        lambda: gan.generator_loss(gan.discriminator(gan(z))), list(gan.generator.parameters())
    )
    directional_gradcheck(
        lambda: gan.discriminator_loss(gan.discriminator(real), gan.discriminator(gan(z).detach())),
        list(gan.discriminator.parameters()),
    )


def test_discriminator_is_not_trivially_winning_after_a_short_training():
    x, _, _, _ = mnist_arrays(1000, 1, flat=False)
    dg.manual_seed(0)
    gan = GAN(latent_dim=32, hidden=(128, 256), rng=dg.Generator().manual_seed(0))
    opt = Adam(gan.parameter_groups(2e-4), betas=(0.5, 0.999))
    loader = DataLoader(
        TensorDataset(x), batch_size=50, shuffle=True, generator=dg.Generator().manual_seed(0)
    )
    stats = []
    for _ in range(3):  # 60 rounds
        stats += [gan.train_step(batch, opt) for (batch,) in loader]
    last = stats[-10:]
    # a D that wins outright gives fakes ~0 and a loss ~0; here G still fools it part of the time
    assert np.mean([s["d_fake"] for s in last]) > 0.02
    assert np.mean([s["d_loss"] for s in last]) > 0.1
    assert np.mean([s["g_loss"] for s in last]) < 6.0
    assert np.mean([s["d_real"] for s in last]) > np.mean(
        [s["d_fake"] for s in last]
    )  # D did learn


def test_dcgan_generates_28x28_images_and_trains_one_round():
    dg.manual_seed(0)
    gan = DCGAN(latent_dim=8, channels=4)
    assert gan.sample(2).shape == (2, 1, 28, 28)
    opt = Adam(gan.parameter_groups(1e-3), betas=(0.5, 0.999))
    stats = gan.train_step(dg.rand(4, 784), opt)
    assert all(math.isfinite(v) for v in stats.values())


def test_gan_trainer_logs_both_players_and_validates_on_real_data():
    x, _, xt, _ = mnist_arrays(120, 60, flat=False)
    gan = GAN(latent_dim=8, hidden=(16, 16))
    trainer = GANTrainer(gan, Adam(gan.parameter_groups(2e-4), betas=(0.5, 0.999)), progress=False)
    history = trainer.fit(
        DataLoader(TensorDataset(x, x), batch_size=40), DataLoader(TensorDataset(xt, xt), 60), 2
    )
    record = history.epochs[-1]
    assert {"loss", "d_loss", "d_real", "d_fake", "val_d_real", "val_d_fake"} <= set(record)
    assert 0 < record["val_d_real"] < 1 and trainer.global_step == 6
    with pytest.raises(TypeError, match="must be a GAN"):
        GANTrainer(VAE(4, 2, 1), Adam(VAE(4, 2, 1).parameters()))


class _StepLogs(Callback):
    def __init__(self):
        self.logs = []

    def on_batch_end(self, trainer, logs):
        self.logs.append(dict(logs))


def _gan_run(tmp_path, seed, epochs, resume=False, d_steps=2):
    dg.manual_seed(seed)
    gan = GAN(
        latent_dim=4, image_shape=(1, 3, 3), hidden=(8, 8)
    )  # noise from the default generator
    recorder = _StepLogs()
    trainer = GANTrainer(
        gan,
        Adam(gan.parameter_groups(1e-3), betas=(0.5, 0.999)),
        callbacks=[recorder],
        progress=False,
        d_steps=d_steps,
    )
    x = dg.tensor(np.random.default_rng(0).random((30, 1, 3, 3)).astype("float32"))
    train = DataLoader(TensorDataset(x, x), batch_size=12, shuffle=True)
    resume_from = tmp_path / "gan.safetensors" if resume else None
    history = trainer.fit(train, epochs=epochs, resume_from=resume_from)
    return trainer, history, recorder.logs


def test_gan_trainer_steps_through_its_updater_and_resumes_exactly(tmp_path):
    trainer, history, logs = _gan_run(tmp_path, seed=0, epochs=3)
    assert isinstance(trainer.updater, GANUpdater) and trainer.d_steps == 2
    assert [log["size"] for log in logs[:3]] == [12, 12, 6]
    assert {"loss", "d_loss", "d_real", "d_fake"} <= set(logs[0])
    record = history.epochs[-1]
    assert list(record) == ["epoch", "loss", "d_loss", "d_real", "d_fake", "lr", "time"]
    assert record["d_loss"] == pytest.approx(
        sum(log["d_loss"] * log["size"] for log in logs[-3:]) / 30
    )
    np.testing.assert_array_equal(history.step_column("loss"), [log["loss"] for log in logs])
    expected = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}

    interrupted, _, _ = _gan_run(tmp_path, seed=0, epochs=2)
    interrupted.save_checkpoint(tmp_path / "gan.safetensors")
    resumed, resumed_history, _ = _gan_run(tmp_path, seed=7, epochs=3, resume=True)
    for key, value in resumed.model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), expected[key], err_msg=key)
    assert resumed_history.epochs[-1]["d_loss"] == record["d_loss"]


def test_gan_trainer_refuses_callbacks_that_act_between_backward_and_step():
    gan = _small_gan()
    with pytest.raises(
        ValueError, match="on_backward_end hook of GradientClipping would never run"
    ):
        GANTrainer(gan, Adam(gan.parameters()), callbacks=[GradientClipping(1.0)])
    message = r"^GANUpdater: d_steps must be a positive int \(got 0\)\.$"
    with pytest.raises(ValueError, match=message):
        GANUpdater(0)
    message = r"^GANTrainer: d_steps must be a positive int \(got float 1\.0\)\.$"
    with pytest.raises(TypeError, match=message):
        GANTrainer(gan, Adam(gan.parameters()), d_steps=1.0)


def test_bad_gan_arguments_are_refused():
    with pytest.raises(ValueError, match=r"^GAN: latent_dim must be a positive int \(got 0\)\.$"):
        GAN(latent_dim=0)
    message = r"^GAN: dropout must be in \[0, 1\) \(got 1\.0\); it is the probability"
    with pytest.raises(ValueError, match=message):
        GAN(dropout=1.0)
    message = (
        r"^GAN: real_label must be in \(0\.5, 1\] \(got 0\.3\); it is D's target for real samples; "
        r"1 is plain, 0\.9 smooths the labels\.$"
    )
    with pytest.raises(ValueError, match=message):
        GAN(real_label=0.3)
    with pytest.raises(TypeError, match=r"^GAN: real_label must be a number \(got str '1'\)"):
        GAN(real_label="1")
    with pytest.raises(ValueError, match=r"^GAN\.sample: n must be a positive int \(got 0\)\.$"):
        _small_gan().sample(0)
    message = r"^DCGenerator: channels must be a positive int \(got 0\)\.$"
    with pytest.raises(ValueError, match=message):
        DCGenerator(channels=0)
    message = r"^DCDiscriminator: in_channels must be a positive int \(got bool True\)"
    with pytest.raises(TypeError, match=message):
        DCDiscriminator(in_channels=True)
