"""Linear, TiedLinear, Maxout, Identity, Flatten, Unflatten."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn
from deepgrad.autograd import gradcheck


def _f64(module: nn.Module) -> nn.Module:
    return module.double()


def _x(*shape) -> dg.Tensor:
    return dg.randn(*shape, dtype="float64", requires_grad=True)


# -- Linear -------------------------------------------------------------------------------------
def test_linear_matches_numpy_formula():
    layer = nn.Linear(5, 3)
    x = dg.randn(4, 5)
    expected = x._data @ layer.weight._data.T + layer.bias._data
    assert np.allclose(layer(x)._data, expected, atol=1e-6)
    assert layer(dg.randn(2, 7, 5)).shape == (2, 7, 3)  # any leading dims
    no_bias = nn.Linear(5, 3, bias=False)
    assert no_bias.bias is None and np.allclose(
        no_bias(x)._data, x._data @ no_bias.weight._data.T, atol=1e-6
    )


def functional_call(module: nn.Module, tensors: dict, *args):
    """Call ``module`` with some of its parameters replaced by ``tensors`` (gradcheck passes copies)."""
    saved = {}
    for name, tensor in tensors.items():
        owner = module.get_submodule(name.rpartition(".")[0])
        leaf = name.rpartition(".")[2]
        saved[name] = (owner, leaf, owner._parameters[leaf])
        owner._parameters[leaf] = tensor
    try:
        return module(*args)
    finally:
        for owner, leaf, original in saved.values():
            owner._parameters[leaf] = original


def test_linear_gradcheck_float64():
    dg.manual_seed(0)
    layer = _f64(nn.Linear(4, 3))
    x = _x(2, 4)
    assert gradcheck(
        lambda x, w, b: functional_call(layer, {"weight": w, "bias": b}, x),
        (x, layer.weight, layer.bias),
    )


def test_linear_default_init_is_pytorch_uniform_bound():
    dg.manual_seed(1)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight._data, layer.bias._data
    assert w.min() >= -bound and w.max() <= bound and b.min() >= -bound and b.max() <= bound
    # U(-c, c) has std c / sqrt(3); 120 000 draws put the sample std within 1%
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound / math.sqrt(3)
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound


def test_linear_init_is_seeded():
    dg.manual_seed(7)
    a = nn.Linear(3, 2)
    dg.manual_seed(7)
    b = nn.Linear(3, 2)
    assert np.array_equal(a.weight._data, b.weight._data) and np.array_equal(
        a.bias._data, b.bias._data
    )


def test_linear_arguments_and_errors():
    layer = nn.Linear(3, 2, dtype="float64")
    assert layer.weight.dtype == dg.float64 and layer.bias.dtype == dg.float64
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=True)"
    with pytest.raises(ValueError, match="in_features must be a non-negative int \\(got -1\\)"):
        nn.Linear(-1, 2)
    with pytest.raises(
        TypeError, match=r"Linear: out_features must be a non-negative int \(got float 2.5\)"
    ):
        nn.Linear(2, 2.5)
    message = "linear: input of shape \\(4, 5\\) does not fit weight of shape \\(2, 3\\)"
    with pytest.raises(dg.ShapeError, match=message):
        layer(dg.randn(4, 5, dtype="float64"))


@pytest.mark.parity
def test_linear_parity_with_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Linear(6, 4).double()
    theirs = torch.nn.Linear(6, 4).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight._data.copy()))
        theirs.bias.copy_(torch.from_numpy(ours.bias._data.copy()))
    x_np = np.random.default_rng(0).standard_normal((5, 6))
    x = dg.tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    assert np.allclose(y._data, ty.detach().numpy(), atol=1e-12)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    assert np.allclose(x.grad._data, tx.grad.numpy(), atol=1e-12)
    assert np.allclose(ours.weight.grad._data, theirs.weight.grad.numpy(), atol=1e-12)
    assert np.allclose(ours.bias.grad._data, theirs.bias.grad.numpy(), atol=1e-12)


@pytest.mark.parity
def test_linear_init_distribution_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    dg.manual_seed(0)
    theirs = torch.nn.Linear(250, 4000)
    ours = nn.Linear(250, 4000)
    pairs = (
        (ours.weight._data, theirs.weight.detach().numpy()),
        (ours.bias._data, theirs.bias.detach().numpy()),
    )
    for mine, ref in pairs:
        # Same U(-1/sqrt(250), 1/sqrt(250)): the extremes and the spread agree (std error ~0.7% at n=4000).
        assert abs(np.abs(mine).max() - np.abs(ref).max()) < 0.01 * np.abs(ref).max()
        assert abs(mine.std() - ref.std()) < 0.03 * ref.std()


# -- TiedLinear ---------------------------------------------------------------------------------
def test_tied_linear_shares_the_weight_and_transposes():
    enc = nn.Linear(6, 3)
    dec = nn.TiedLinear(enc)
    assert dec.weight is enc.weight and dec.bias.shape == (6,)
    h = dg.randn(2, 3)
    assert np.allclose(dec(h)._data, h._data @ enc.weight._data + dec.bias._data, atol=1e-6)
    model = nn.Sequential(enc, dec)
    assert len(list(model.parameters())) == 3  # W once, two biases
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(TypeError, match="2-D weight Parameter"):
        nn.TiedLinear(nn.Identity())
    with pytest.raises(dg.ShapeError, match="encoder.out_features=3"):
        dec(dg.randn(2, 6))


def test_tied_weight_gets_the_sum_of_both_gradients():
    dg.manual_seed(3)
    enc = nn.Linear(5, 3).double()
    dec = nn.TiedLinear(enc)
    x = dg.randn(4, 5, dtype="float64")
    ((dec(enc(x).tanh()) - x) ** 2).sum().backward()
    tied_grad = enc.weight.grad._data.copy()

    # The same computation with two independent copies of W: the tied gradient is their sum.
    w_enc = dg.tensor(enc.weight._data.copy(), requires_grad=True)
    w_dec = dg.tensor(enc.weight._data.copy(), requires_grad=True)
    h = (x @ w_enc.mT + enc.bias.detach()).tanh()
    ((h @ w_dec + dec.bias.detach() - x) ** 2).sum().backward()
    assert np.allclose(tied_grad, w_enc.grad._data + w_dec.grad._data, atol=1e-10)
    assert not np.allclose(w_enc.grad._data, 0) and not np.allclose(w_dec.grad._data, 0)


def test_tied_autoencoder_gradcheck_float64():
    dg.manual_seed(4)
    enc = nn.Linear(4, 2).double()
    dec = nn.TiedLinear(enc)
    x = _x(3, 4)
    model = nn.Sequential(enc, nn.Identity(), dec)

    def autoencoder(x, w, b1, b2):
        # One tensor w stands for the tied weight in both layers.
        return functional_call(
            model, {"0.weight": w, "0.bias": b1, "2.weight": w, "2.bias": b2}, x.tanh()
        )

    assert gradcheck(autoencoder, (x, enc.weight, enc.bias, dec.bias))


def test_tied_linear_without_bias():
    enc = nn.Linear(3, 2)
    dec = nn.TiedLinear(enc, bias=False)
    assert dec.bias is None
    h = dg.randn(1, 2)
    assert np.allclose(dec(h)._data, h._data @ enc.weight._data, atol=1e-6)


# -- Maxout -------------------------------------------------------------------------------------
def test_maxout_is_max_over_pieces():
    layer = nn.Maxout(4, 3, pieces=2)
    x = dg.randn(5, 4)
    w, b = layer.weight._data, layer.bias._data
    pieces = np.einsum("ni,jki->njk", x._data, w) + b
    assert np.allclose(layer(x)._data, pieces.max(axis=-1), atol=1e-6)
    assert layer(dg.randn(2, 3, 4)).shape == (2, 3, 3)
    bound = 1 / math.sqrt(4)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound


def test_maxout_gradcheck_float64():
    dg.manual_seed(5)
    layer = nn.Maxout(3, 2, pieces=3).double()
    x = _x(4, 3)
    assert gradcheck(
        lambda x, w, b: functional_call(layer, {"weight": w, "bias": b}, x),
        (x, layer.weight, layer.bias),
    )


def test_maxout_validates():
    with pytest.raises(ValueError, match=r"Maxout: pieces must be a positive int \(got 0\)"):
        nn.Maxout(3, 2, pieces=0)
    assert (
        repr(nn.Maxout(3, 2, 4, bias=False))
        == "Maxout(in_features=3, out_features=2, pieces=4, bias=False)"
    )


# -- shape layers -------------------------------------------------------------------------------
def test_identity_flatten_unflatten():
    x = dg.randn(2, 3, 4, 5)
    assert nn.Identity(54, unused="x")(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)
    assert nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape == (2, 3, 20)
    assert nn.Unflatten(-1, (2, -1))(dg.randn(4, 6)).shape == (4, 2, 3)
    flat = nn.Flatten()(x)
    assert np.array_equal(nn.Unflatten(1, (3, 4, 5))(flat)._data, x._data)
    with pytest.raises(dg.ShapeError, match="start_dim=3, end_dim=1"):
        nn.Flatten(3, 1)(x)
    with pytest.raises(dg.ShapeError, match="do not multiply to the size 6"):
        nn.Unflatten(1, (4, 2))(dg.randn(2, 6))
    with pytest.raises(ValueError, match="at most one -1"):
        nn.Unflatten(1, (-1, -1))


def test_flatten_gradient_flows():
    x = _x(2, 3, 2)
    assert gradcheck(lambda x: nn.Flatten()(x) * 2, (x,))


@pytest.mark.parity
def test_flatten_unflatten_shapes_match_torch():
    torch = pytest.importorskip("torch")
    shape = (2, 3, 4, 5)
    for args in [(), (0, 1), (-2,), (1, 2)]:
        assert nn.Flatten(*args)(dg.zeros(*shape)).shape == tuple(
            torch.nn.Flatten(*args)(torch.zeros(shape)).shape
        )
    ours = nn.Unflatten(1, (2, 30))(dg.zeros(2, 60)).shape
    assert ours == tuple(torch.nn.Unflatten(1, (2, 30))(torch.zeros(2, 60)).shape)
