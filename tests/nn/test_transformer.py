"""Transformer layers and stacks: PyTorch parity of outputs and of every parameter's gradient with
copied weights (post- and pre-norm, relu/gelu/callable activations, masks), deep-copied layers,
dropout only in training, errors, and a short training run."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim

RNG = np.random.default_rng(5)


def _a(*shape):
    return RNG.standard_normal(shape)


def _copy_to_torch(module, torch_module):
    torch = pytest.importorskip("torch")
    state = {k: torch.tensor(v.detach().numpy()) for k, v in module.state_dict().items()}
    result = torch_module.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys
    return torch_module


def _compare_grads(module, torch_module, atol=1e-10):
    theirs = dict(torch_module.named_parameters())
    assert set(theirs) == {n for n, _ in module.named_parameters()}
    for name, p in module.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), theirs[name].grad.numpy(), atol=atol, err_msg=name
        )


LAYER_CONFIGS = [
    dict(norm_first=False, activation="relu"),
    dict(norm_first=True, activation="gelu"),
    dict(norm_first=False, activation="gelu", bias=False),
]


@pytest.mark.parity
@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=str)
def test_encoder_matches_torch(config):
    torch = pytest.importorskip("torch")
    kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True, **config)
    model = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(**kw), 2, norm=nn.LayerNorm(8)
    ).double()
    tlayer = torch.nn.TransformerEncoderLayer(**kw)
    tmodel = torch.nn.TransformerEncoder(
        tlayer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False
    )
    tmodel = _copy_to_torch(model, tmodel.double())
    x = _a(3, 5, 8)
    padding = RNG.random((3, 5)) < 0.3
    padding[:, 0] = False
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype="float64")
    fpad = np.where(padding, -np.inf, 0.0)  # one mask type for both, as PyTorch asks
    y = model(dg.tensor(x), mask=mask, src_key_padding_mask=dg.tensor(fpad))
    ty = tmodel(
        torch.tensor(x), mask=torch.tensor(mask.numpy()), src_key_padding_mask=torch.tensor(fpad)
    )
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-10)
    g = _a(*y.shape)
    (y * dg.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    _compare_grads(model, tmodel)


@pytest.mark.parity
@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=str)
def test_decoder_matches_torch(config):
    torch = pytest.importorskip("torch")
    kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, **config)
    model = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(**kw), 2, norm=nn.LayerNorm(8)
    ).double()
    tmodel = _copy_to_torch(
        model,
        torch.nn.TransformerDecoder(
            torch.nn.TransformerDecoderLayer(**kw), 2, norm=torch.nn.LayerNorm(8)
        ).double(),
    )
    tgt, memory = _a(4, 2, 8), _a(6, 2, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype="float64")
    memory_padding = np.zeros((2, 6), dtype=bool)
    memory_padding[1, 4:] = True
    y = model(
        dg.tensor(tgt),
        dg.tensor(memory),
        tgt_mask=mask,
        memory_key_padding_mask=dg.tensor(memory_padding),
        tgt_is_causal=True,
    )
    ty = tmodel(torch.tensor(tgt), torch.tensor(memory), tgt_mask=torch.tensor(mask.numpy()),
                memory_key_padding_mask=torch.tensor(memory_padding),
                tgt_is_causal=True)  # fmt: skip
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-10)
    g = _a(*y.shape)
    (y * dg.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    _compare_grads(model, tmodel)


@pytest.mark.parity
def test_transformer_matches_torch_with_copied_weights():
    torch = pytest.importorskip("torch")
    model = nn.Transformer(8, 2, 2, 1, 16, dropout=0.0, batch_first=True).double()
    tmodel = _copy_to_torch(
        model, torch.nn.Transformer(8, 2, 2, 1, 16, dropout=0.0, batch_first=True).double()
    )
    src, tgt = _a(2, 6, 8), _a(2, 4, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype="float64")
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    np.testing.assert_array_equal(mask.numpy(), tmask.numpy())
    y = model(dg.tensor(src), dg.tensor(tgt), tgt_mask=mask)
    ty = tmodel(torch.tensor(src), torch.tensor(tgt), tgt_mask=tmask)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-10)
    y.sum().backward()
    ty.sum().backward()
    _compare_grads(model, tmodel)


def test_encoder_layers_are_independent_deep_copies():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    encoder = nn.TransformerEncoder(layer, num_layers=3)
    weights = [lay.self_attn.in_proj_weight for lay in encoder.layers]
    assert len({id(w) for w in weights}) == 3 and all(
        w is not layer.self_attn.in_proj_weight for w in weights
    )
    np.testing.assert_array_equal(weights[0].detach().numpy(), weights[2].detach().numpy())
    with dg.no_grad():
        weights[0].add_(1.0)
    assert not np.allclose(weights[0].detach().numpy(), weights[1].detach().numpy())
    assert len(encoder.state_dict()) == 3 * len(layer.state_dict())
    assert "layers.2.self_attn.out_proj.weight" in encoder.state_dict()


def test_callable_and_module_activations():
    calls = []

    def activation(x):
        calls.append(x.shape)
        return F.relu(x)

    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, activation=activation, dropout=0.0)
    layer(dg.randn(3, 2, 4))
    assert calls == [(3, 2, 6)]
    gelu_layer = nn.TransformerEncoderLayer(
        4, 2, dim_feedforward=6, activation=nn.GELU(), dropout=0.0
    )
    assert "activation" in dict(gelu_layer.named_modules())
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu' or a callable"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2), 0)


def test_dropout_acts_in_training_only():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.3)
    x = dg.randn(5, 2, 8)
    layer.train()
    assert not np.allclose(layer(x).detach().numpy(), layer(x).detach().numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())


def test_causal_encoder_ignores_the_future_and_is_causal_needs_no_mask():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    x = dg.randn(1, 6, 8)
    x_changed = dg.tensor(
        np.concatenate([x.numpy()[:, :4], _a(1, 2, 8).astype(np.float32)], axis=1)
    )
    y, y_changed = (layer(t, is_causal=True).detach().numpy() for t in (x, x_changed))
    np.testing.assert_allclose(y[:, :4], y_changed[:, :4], atol=1e-6)
    assert not np.allclose(y[:, 4:], y_changed[:, 4:])


def test_a_small_causal_transformer_learns_to_copy_the_previous_token():
    dg.manual_seed(0)
    vocab, length = 5, 6
    embed = nn.Embedding(vocab, 16)
    encoder = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True), 1
    )
    head = nn.Linear(16, vocab)
    position = nn.Parameter(dg.randn(length, 16) * 0.1)
    params = [*embed.parameters(), *encoder.parameters(), *head.parameters(), position]
    opt = optim.Adam(params, lr=0.01)
    mask = nn.Transformer.generate_square_subsequent_mask(length)
    rng = np.random.default_rng(0)
    for _ in range(150):
        tokens = rng.integers(0, vocab, (16, length))
        logits = head(encoder(embed(dg.tensor(tokens)) + position, mask=mask))
        loss = F.cross_entropy(
            logits[:, 1:].reshape(-1, vocab), dg.tensor(tokens[:, :-1].reshape(-1))
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2
