"""Recurrent layers: fused layers == step-by-step cells, gradients, module assembly, PyTorch parity."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.backend import DTypeError, ShapeError
from deepgrad.ops import rnn as R

RNG = np.random.default_rng(2)
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _p(*shape, scale=0.5):
    return dg.tensor(RNG.standard_normal(shape) * scale, requires_grad=True)


def _fused(kind, x, h0, c0, params, reverse):
    if kind == "lstm":
        out, (h, c) = R.lstm_layer(x, (h0, c0), *params, reverse=reverse)
        return out, h, c
    if kind == "gru":
        return R.gru_layer(x, h0, *params, reverse=reverse)
    return R.rnn_layer(x, h0, *params, nonlinearity=kind[4:], reverse=reverse)


def _composite(kind, x, h0, c0, params, reverse):
    """The same layer, one cell call per time step (the op-by-op reference)."""
    h, c, outs = h0, c0, [None] * x.shape[0]
    for t in range(x.shape[0])[::-1] if reverse else range(x.shape[0]):
        if kind == "lstm":
            h, c = R.lstm_cell(x[t], (h, c), *params)
        elif kind == "gru":
            h = R.gru_cell(x[t], h, *params)
        else:
            h = R.rnn_cell(x[t], h, *params, nonlinearity=kind[4:])
        outs[t] = h
    return (dg.stack(outs), h, c) if kind == "lstm" else (dg.stack(outs), h)


@pytest.mark.parametrize("kind", list(GATES))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_layer_equals_composite_outputs_and_gradients(kind, reverse, bias):
    T, B, I, H = 5, 3, 4, 6
    G = GATES[kind] * H
    x, h0, c0 = _p(T, B, I), _p(B, H), _p(B, H)
    params = [_p(G, I), _p(G, H)] + ([_p(G), _p(G)] if bias else [None, None])
    inputs = [x, h0, c0] + [p for p in params if p is not None]
    fused = _fused(kind, x, h0, c0, params, reverse)
    reference = _composite(kind, x, h0, c0, params, reverse)
    for a, b in zip(fused, reference):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
    seeds = [dg.tensor(RNG.standard_normal(o.shape)) for o in fused]
    g_fused = dg.autograd.grad(list(fused), inputs, seeds, allow_unused=True)
    g_ref = dg.autograd.grad(list(reference), inputs, seeds, allow_unused=True)
    for a, b in zip(g_fused, g_ref):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", list(GATES))
def test_fused_layer_gradcheck_and_gradgradcheck(kind):
    T, B, I, H = 3, 2, 2, 2
    G = GATES[kind] * H
    x, h0, c0 = _p(T, B, I), _p(B, H), _p(B, H)
    w_ih, w_hh, b_ih, b_hh = _p(G, I), _p(G, H), _p(G), _p(G)

    def f(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        return _fused(kind, x, h0, c0, (w_ih, w_hh, b_ih, b_hh), reverse=True)

    args = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    assert gradcheck(f, args)
    small = (x, h0, c0, w_ih, w_hh, b_ih.detach(), b_hh.detach())
    assert gradgradcheck(f, small)


def test_fused_lstm_second_derivative_matches_composite():
    # create_graph=True through the fused layer: d/dw of ||d loss / dx||^2.
    T, B, I, H = 4, 2, 3, 3
    x, h0, c0 = _p(T, B, I), _p(B, H), _p(B, H)
    params = [_p(4 * H, I), _p(4 * H, H), _p(4 * H), _p(4 * H)]

    def penalty(layer):
        out = layer("lstm", x, h0, c0, params, False)[0]
        (gx,) = dg.autograd.grad((out * out).sum(), x, create_graph=True)
        return dg.autograd.grad((gx * gx).sum(), params)

    for a, b in zip(penalty(_fused), penalty(_composite)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


# -- modules ---------------------------------------------------------------------------------------
def _module_reference(module, x, states):
    """A multi-layer, bidirectional module rebuilt from the cells (independent of the fused path)."""
    kind = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}[
        module.mode
    ]
    if module.batch_first:
        x = x.transpose(0, 1)
    directions = 2 if module.bidirectional else 1
    finals = [[] for _ in states]
    for layer in range(module.num_layers):
        outs = []
        for d, suffix in enumerate(["", "_reverse"][:directions]):
            k = layer * directions + d
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            params = [getattr(module, f"{n}_l{layer}{suffix}", None) for n in names]
            result = _composite(
                kind, x, states[0][k], states[1][k] if len(states) > 1 else None, params, d == 1
            )
            outs.append(result[0])
            for kept, value in zip(finals, result[1:]):
                kept.append(value)
        x = dg.cat(outs, dim=2) if directions == 2 else outs[0]
    if module.batch_first:
        x = x.transpose(0, 1)
    return x, [dg.stack(f) for f in finals]


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
        lambda: nn.GRU(3, 4, num_layers=2, bidirectional=True),
        lambda: nn.RNN(3, 4, num_layers=3, nonlinearity="relu", batch_first=True),
        lambda: nn.LSTM(3, 4, num_layers=2, bias=False),
        lambda: nn.RNN(3, 4, bidirectional=True, bias=False),
    ],
)
def test_module_equals_cell_reference(make):
    module = make().double()
    L = module.num_layers * (2 if module.bidirectional else 1)
    B, T = 2, 5
    x = _p(B, T, 3) if module.batch_first else _p(T, B, 3)
    states = [_p(L, B, 4)] + ([_p(L, B, 4)] if module.mode == "LSTM" else [])
    if module.mode == "LSTM":
        output, (h_n, c_n) = module(x, tuple(states))
        finals = [h_n, c_n]
    else:
        output, h_n = module(x, states[0])
        finals = [h_n]
    ref_out, ref_finals = _module_reference(module, x, states)
    np.testing.assert_allclose(
        output.detach().numpy(), ref_out.detach().numpy(), rtol=1e-12, atol=1e-12
    )
    for a, b in zip(finals, ref_finals):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
    wanted = [x] + states + list(module.parameters())
    seeds = [dg.tensor(RNG.standard_normal(o.shape)) for o in [output] + finals]
    g = dg.autograd.grad([output] + finals, wanted, seeds)
    g_ref = dg.autograd.grad([ref_out] + ref_finals, wanted, seeds)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_module_gradcheck_through_initial_states():
    lstm = nn.LSTM(2, 2, num_layers=2, bidirectional=True).double()
    x, h0, c0 = _p(3, 1, 2), _p(4, 1, 2), _p(4, 1, 2)

    def f(x, h0, c0):
        out, (h, c) = lstm(x, (h0, c0))
        return out, h, c

    assert gradcheck(f, (x, h0, c0))


def test_parameter_names_shapes_and_init():
    dg.manual_seed(0)
    lstm = nn.LSTM(5, 8, num_layers=2, bidirectional=True)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert names[4] == "weight_ih_l0_reverse" and len(names) == 16
    assert lstm.weight_ih_l1.shape == (32, 16) and lstm.weight_hh_l1_reverse.shape == (32, 8)
    bound = 1 / math.sqrt(8)
    values = np.concatenate([p.detach().numpy().ravel() for p in lstm.parameters()])
    assert values.min() >= -bound and values.max() <= bound and values.max() > 0.9 * bound
    assert len(lstm.all_weights) == 4 and len(lstm.all_weights[0]) == 4
    gru = nn.GRU(5, 8, bias=False)
    assert [n for n, _ in gru.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert nn.RNN(5, 8).weight_ih_l0.shape == (8, 5)
    assert "bidirectional=True" in repr(lstm) and "nonlinearity='relu'" in repr(
        nn.RNN(2, 2, nonlinearity="relu")
    )


def test_default_states_are_zeros_and_unbatched_input():
    dg.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2)
    x = dg.randn(6, 2, 3)
    out, (h, c) = lstm(x)
    out2, (_h2, _c2) = lstm(x, (dg.zeros(2, 2, 4), dg.zeros(2, 2, 4)))
    np.testing.assert_array_equal(out.detach().numpy(), out2.detach().numpy())
    assert h.shape == c.shape == (2, 2, 4)
    single, (hs, _cs) = lstm(x[:, 0])
    assert single.shape == (6, 4) and hs.shape == (2, 4)
    np.testing.assert_allclose(
        single.detach().numpy(), out.detach().numpy()[:, 0], rtol=1e-6, atol=1e-7
    )
    gru = nn.GRU(3, 4, batch_first=True)
    out, h = gru(dg.randn(2, 7, 3))
    assert out.shape == (2, 7, 4) and h.shape == (1, 2, 4)
    # The last output of a forward layer is its final state.
    np.testing.assert_array_equal(out.detach().numpy()[:, -1], h.detach().numpy()[0])


def test_dropout_between_layers():
    dg.manual_seed(0)
    rnn = nn.GRU(3, 16, num_layers=2, dropout=0.5)
    x = dg.randn(4, 2, 3)
    dg.manual_seed(1)
    a = rnn(x)[0].detach().numpy()
    dg.manual_seed(1)
    b = rnn(x)[0].detach().numpy()
    dg.manual_seed(2)
    c = rnn(x)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    rnn.eval()
    no_drop = nn.GRU(3, 16, num_layers=2)
    no_drop.load_state_dict(rnn.state_dict())
    np.testing.assert_array_equal(rnn(x)[0].detach().numpy(), no_drop(x)[0].detach().numpy())


def test_recurrent_errors():
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ShapeError, match=r"LSTM: input must be \(T, B, input_size\).*input_size=3"):
        lstm(dg.randn(5, 2, 4))
    with pytest.raises(ShapeError, match=r"h0 must have shape .* = \(2, 2, 4\)"):
        lstm(dg.randn(5, 2, 3), (dg.zeros(1, 2, 4), dg.zeros(2, 2, 4)))
    with pytest.raises(DTypeError, match="float64 but the parameters are float32"):
        lstm(dg.randn(5, 2, 3, dtype="float64"))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h0, c0\)"):
        lstm(dg.randn(5, 2, 3), dg.zeros(2, 2, 4))
    with pytest.raises(
        ValueError, match=r"^RNN: nonlinearity must be 'tanh' or 'relu' \(got 'sigmoid'\)\.$"
    ):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(
        ValueError, match=r"^RNNCell: nonlinearity must be 'tanh' or 'relu' \(got 'gelu'\)\.$"
    ):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(
        ValueError, match=r"^GRU: dropout must be in \[0, 1\] \(got 1\.5\); it is the dropout"
    ):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match=r"^LSTM: hidden_size must be a positive int \(got 0\)\.$"):
        nn.LSTM(3, 0)
    with pytest.raises(
        TypeError, match=r"^GRU: num_layers must be a positive int \(got float 2\.0\)\.$"
    ):
        nn.GRU(3, 4, num_layers=2.0)
    with pytest.raises(
        TypeError, match=r"^LSTMCell: input_size must be a positive int \(got str '3'\)\.$"
    ):
        nn.LSTMCell("3", 4)
    x1, h1, w_ih, w_hh = dg.randn(2, 3), dg.zeros(2, 4), dg.randn(4, 3), dg.randn(4, 4)
    with pytest.raises(
        ValueError, match=r"^rnn_cell: nonlinearity must be 'tanh' or 'relu' \(got 'sigmoid'\)\.$"
    ):
        R.rnn_cell(x1, h1, w_ih, w_hh, nonlinearity="sigmoid")  # was silently relu
    with pytest.raises(
        ValueError, match=r"^rnn_layer: nonlinearity must be 'tanh' or 'relu' \(got 'elu'\)\.$"
    ):
        R.rnn_layer(dg.randn(5, 2, 3), h1, w_ih, w_hh, nonlinearity="elu")
    with pytest.raises(ShapeError, match="LSTMCell: input"):
        nn.LSTMCell(3, 4)(dg.randn(2, 5))
    with pytest.raises(ShapeError, match="hx must have shape"):
        nn.GRUCell(3, 4)(dg.randn(2, 3), dg.zeros(3, 4))


def test_cells():
    dg.manual_seed(0)
    cell = nn.LSTMCell(3, 5)
    x = dg.randn(2, 3)
    h, c = cell(x)
    assert h.shape == c.shape == (2, 5)
    h1, _c1 = cell(x[0])
    np.testing.assert_allclose(h1.detach().numpy(), h.detach().numpy()[0], rtol=1e-6)
    assert nn.GRUCell(3, 5, bias=False)(x).shape == (2, 5)
    r = nn.RNNCell(3, 5, nonlinearity="relu")
    assert float(r(x).detach().numpy().min()) >= 0


# -- PyTorch parity ---------------------------------------------------------------------------------
def _copy(ours, theirs):
    for name, p in theirs.named_parameters():
        getattr(ours, name).data = dg.tensor(p.detach().numpy().copy())


@pytest.mark.parity
@pytest.mark.parametrize(
    "cls, kwargs",
    [
        ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
        ("LSTM", {"num_layers": 1}),
        ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
        ("GRU", {"num_layers": 3, "bias": False}),
        ("RNN", {"num_layers": 2, "bidirectional": True, "nonlinearity": "relu"}),
        ("RNN", {"num_layers": 2, "batch_first": True}),
    ],
)
def test_recurrent_modules_match_torch(cls, kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    I, H, T, B = 5, 7, 6, 3
    theirs = getattr(torch.nn, cls)(I, H, **kwargs)
    ours = getattr(nn, cls)(I, H, **kwargs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    _copy(ours, theirs)
    L = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x = RNG.standard_normal((B, T, I) if kwargs.get("batch_first") else (T, B, I)).astype(
        np.float32
    )
    states = [
        RNG.standard_normal((L, B, H)).astype(np.float32) for _ in range(2 if cls == "LSTM" else 1)
    ]
    xd = dg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    sd = [dg.tensor(s, requires_grad=True) for s in states]
    st = [torch.tensor(s, requires_grad=True) for s in states]
    if cls == "LSTM":
        od, (hd, cd) = ours(xd, tuple(sd))
        ot, (ht, ct) = theirs(xt, tuple(st))
        pairs = [(od, ot), (hd, ht), (cd, ct)]
    else:
        od, hd = ours(xd, sd[0])
        ot, ht = theirs(xt, st[0])
        pairs = [(od, ot), (hd, ht)]
    for a, b in pairs:
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-5)
    seeds = [RNG.standard_normal(tuple(b.shape)).astype(np.float32) for _, b in pairs]
    sum((a * dg.tensor(s)).sum() for (a, _), s in zip(pairs, seeds)).backward()
    sum((b * torch.tensor(s)).sum() for (_, b), s in zip(pairs, seeds)).backward()
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for a, b in zip(sd, st):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(
            getattr(ours, name).grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=name
        )


@pytest.mark.parity
@pytest.mark.parametrize(
    "cls, kwargs",
    [
        ("RNNCell", {"nonlinearity": "tanh"}),
        ("RNNCell", {"nonlinearity": "relu"}),
        ("LSTMCell", {}),
        ("GRUCell", {}),
        ("GRUCell", {"bias": False}),
    ],
)
def test_cells_match_torch(cls, kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls)(4, 6, **kwargs)
    ours = getattr(nn, cls)(4, 6, **kwargs)
    _copy(ours, theirs)
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    h = RNG.standard_normal((3, 6)).astype(np.float32)
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hd, ht = dg.tensor(h, requires_grad=True), torch.tensor(h, requires_grad=True)
    if cls == "LSTMCell":
        od = sum(ours(xd, (hd, hd * 0.5)))
        ot = sum(theirs(xt, (ht, ht * 0.5)))
    else:
        od, ot = ours(xd, hd), theirs(xt, ht)
    np.testing.assert_allclose(od.detach().numpy(), ot.detach().numpy(), rtol=1e-5, atol=1e-6)
    (od * od).sum().backward()
    (ot * ot).sum().backward()
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(hd.grad.numpy(), ht.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(
            getattr(ours, name).grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5
        )
