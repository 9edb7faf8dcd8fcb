"""F.scaled_dot_product_attention, F.multi_head_attention_forward and nn.MultiheadAttention:
float64 gradient checks, mask conventions, fully masked rows, dropout, errors, and PyTorch parity
of outputs, attention weights and gradients with the same weights (marked ``parity``)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradcheck
from deepgrad.backend import ShapeError

RNG = np.random.default_rng(7)


def _a(*shape):
    return RNG.standard_normal(shape)


def _t(array, requires_grad=False):
    return dg.tensor(array, requires_grad=requires_grad)


# -- scaled_dot_product_attention ------------------------------------------------------------
def _naive_attention(q, k, v, allowed, scale=None):
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = np.where(allowed, q @ np.swapaxes(k, -1, -2) * scale, -np.inf)
    w = np.exp(scores - scores.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)) @ v


def test_sdpa_bool_float_and_causal_masks_agree_with_a_naive_reference():
    q, k, v = _a(2, 3, 4, 5), _a(2, 3, 6, 5), _a(2, 3, 6, 2)
    allowed = RNG.random((4, 6)) < 0.7
    allowed[:, 0] = True
    causal = np.tril(np.ones((4, 6), dtype=bool))
    out = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=_t(allowed))
    np.testing.assert_allclose(out.numpy(), _naive_attention(q, k, v, allowed), atol=1e-12)
    additive = np.where(allowed, 0.0, -np.inf)
    out = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=_t(additive), scale=0.3)
    np.testing.assert_allclose(out.numpy(), _naive_attention(q, k, v, allowed, 0.3), atol=1e-12)
    out = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), is_causal=True)
    np.testing.assert_allclose(out.numpy(), _naive_attention(q, k, v, causal), atol=1e-12)
    both = F.scaled_dot_product_attention(
        _t(q), _t(k), _t(v), attn_mask=_t(allowed), is_causal=True
    )
    np.testing.assert_allclose(
        both.numpy(), _naive_attention(q, k, v, allowed & causal), atol=1e-12
    )


def test_sdpa_is_stable_for_large_scores():
    q = _t(np.full((1, 2, 3), 100.0))
    k = _t(np.array([[[100.0, 100.0, 100.0], [-100.0, 0.0, 0.0]]]))
    out = F.scaled_dot_product_attention(q, k, _t(np.array([[[1.0], [2.0]]])))
    np.testing.assert_allclose(out.numpy(), np.ones((1, 2, 1)))


def test_sdpa_query_with_no_allowed_key_gives_zeros_and_finite_gradients():
    q, k, v = (_t(_a(1, 3, 4), True) for _ in range(3))
    allowed = np.ones((3, 3), dtype=bool)
    allowed[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=_t(allowed))
    np.testing.assert_array_equal(out.detach().numpy()[0, 1], np.zeros(4))
    out.sum().backward()
    assert all(np.isfinite(t.grad.numpy()).all() for t in (q, k, v))


@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(is_causal=True), dict(scale=0.7), dict(mask="bool"), dict(mask="float")],
    ids=str,
)
def test_sdpa_gradcheck(kwargs):
    kwargs = dict(kwargs)
    mask = kwargs.pop("mask", None)
    if mask == "bool":
        kwargs["attn_mask"] = _t(np.array([[True, False, True], [True, True, False]]))
    elif mask == "float":
        kwargs["attn_mask"] = _t(_a(2, 3))
    inputs = (_t(_a(2, 2, 4), True), _t(_a(2, 3, 4), True), _t(_a(2, 3, 3), True))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kwargs), inputs)


def test_sdpa_grouped_query_attention_shares_key_heads():
    q, k, v = _a(1, 4, 3, 2), _a(1, 2, 5, 2), _a(1, 2, 5, 3)
    out = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), enable_gqa=True).numpy()
    k_rep, v_rep = np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1)
    np.testing.assert_allclose(out, _naive_attention(q, k_rep, v_rep, True), atol=1e-12)


def test_sdpa_dropout_is_seeded_and_unbiased():
    q, k, v = _t(_a(1, 2, 3)), _t(_a(1, 4, 3)), _t(_a(1, 4, 2))
    dg.manual_seed(3)
    first = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    dg.manual_seed(3)
    np.testing.assert_array_equal(
        first, F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    )
    plain = F.scaled_dot_product_attention(q, k, v).numpy()
    assert not np.allclose(first, plain)
    mean = np.mean(
        [F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy() for _ in range(2000)], 0
    )
    np.testing.assert_allclose(mean, plain, atol=0.1)


def test_sdpa_errors():
    q = dg.randn(2, 3, 4)
    with pytest.raises(
        ShapeError, match=r"got query \(2, 3, 4\), key \(2, 5, 3\).*query and key need the same E"
    ):
        F.scaled_dot_product_attention(q, dg.randn(2, 5, 3), dg.randn(2, 5, 3))
    with pytest.raises(TypeError, match="attn_mask must be bool"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=dg.ones(3, 3, dtype="int64"))
    with pytest.raises(ShapeError, match="enable_gqa"):
        F.scaled_dot_product_attention(
            dg.randn(1, 3, 2, 4), dg.randn(1, 2, 2, 4), dg.randn(1, 2, 2, 4), enable_gqa=True
        )


@pytest.mark.parity
@pytest.mark.parametrize("mask", [None, "bool", "float", "causal"])
def test_sdpa_matches_torch_values_and_gradients(mask):
    torch = pytest.importorskip("torch")
    arrays = [_a(2, 3, 4, 5), _a(2, 3, 6, 5), _a(2, 3, 6, 7)]
    kwargs_np: dict = {}
    if mask == "bool":
        kwargs_np["attn_mask"] = RNG.random((4, 6)) < 0.7
    elif mask == "float":
        kwargs_np["attn_mask"] = _a(2, 1, 4, 6)
    elif mask == "causal":
        kwargs_np["is_causal"] = True
    ours = [_t(a, True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    wrap = lambda lib: {
        n: (lib.tensor(m) if isinstance(m, np.ndarray) else m) for n, m in kwargs_np.items()
    }
    y = F.scaled_dot_product_attention(*ours, **wrap(dg))
    ty = torch.nn.functional.scaled_dot_product_attention(*theirs, **wrap(torch))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-12)
    v = _a(*y.shape)
    (y * _t(v)).sum().backward()
    (ty * torch.tensor(v)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12)


# -- MultiheadAttention --------------------------------------------------------------------
def _torch_copy(module, torch_module):
    torch = pytest.importorskip("torch")
    state = {k: torch.tensor(v.detach().numpy()) for k, v in module.state_dict().items()}
    result = torch_module.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys
    return torch_module


def test_mha_parameter_names_and_shapes_are_pytorchs():
    shapes = {n: p.shape for n, p in nn.MultiheadAttention(8, 2).named_parameters()}
    assert shapes == {
        "in_proj_weight": (24, 8),
        "in_proj_bias": (24,),
        "out_proj.weight": (8, 8),
        "out_proj.bias": (8,),
    }
    mha = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True, bias=False)
    shapes = {n: p.shape for n, p in mha.named_parameters()}
    assert shapes == {
        "q_proj_weight": (8, 8), "k_proj_weight": (8, 3), "v_proj_weight": (8, 5),
        "bias_k": (1, 1, 8), "bias_v": (1, 1, 8), "out_proj.weight": (8, 8),
    }  # fmt: skip
    assert mha.in_proj_weight is None and mha.in_proj_bias is None


def test_mha_validates_at_construction():
    with pytest.raises(ValueError, match="embed_dim 10 must be divisible by num_heads 3"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        nn.MultiheadAttention(8, 2, dropout=1.5)


def test_mha_masks_follow_pytorchs_convention_and_is_causal_builds_the_mask():
    mha = nn.MultiheadAttention(8, 2, batch_first=True).double()
    x = _t(_a(2, 5, 8))
    causal_bool = _t(np.triu(np.ones((5, 5), dtype=bool), 1))  # True = may not attend
    causal_float = nn.Transformer.generate_square_subsequent_mask(5, dtype="float64")
    by_bool, w_bool = mha(x, x, x, attn_mask=causal_bool)
    by_float, _ = mha(x, x, x, attn_mask=causal_float)
    by_flag, _ = mha(x, x, x, is_causal=True)
    np.testing.assert_allclose(by_bool.detach().numpy(), by_float.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(by_bool.detach().numpy(), by_flag.detach().numpy(), atol=1e-12)
    assert np.all(np.triu(w_bool.detach().numpy(), 1) == 0)
    padding = _t(np.array([[False] * 4 + [True], [False] * 5]))
    _, weights = mha(x, x, x, key_padding_mask=padding, average_attn_weights=False)
    assert weights.shape == (2, 2, 5, 5)
    assert np.all(weights.detach().numpy()[0, :, :, 4] == 0)
    out, none = mha(x, x, x, need_weights=False)
    assert none is None and out.shape == (2, 5, 8)


def test_mha_unbatched_equals_a_batch_of_one_and_eval_is_deterministic():
    mha = nn.MultiheadAttention(6, 3, dropout=0.5).double().eval()
    q, kv = _t(_a(4, 6)), _t(_a(5, 6))
    out, weights = mha(q, kv, kv)
    batched, batched_w = mha(q.unsqueeze(1), kv.unsqueeze(1), kv.unsqueeze(1))
    np.testing.assert_allclose(out.detach().numpy(), batched.detach().numpy()[:, 0], atol=1e-12)
    np.testing.assert_allclose(weights.detach().numpy(), batched_w.detach().numpy()[0], atol=1e-12)
    again, _ = mha(q, kv, kv)
    np.testing.assert_array_equal(out.detach().numpy(), again.detach().numpy())


def test_mha_gradcheck_through_all_parameters():
    mha = nn.MultiheadAttention(4, 2, kdim=3, vdim=2, add_bias_kv=True, add_zero_attn=True).double()
    params = [p for _, p in mha.named_parameters()]
    q, k, v = _t(_a(3, 2, 4), True), _t(_a(4, 2, 3), True), _t(_a(4, 2, 2), True)
    padding = _t(np.array([[False, False, True, False], [False] * 4]))

    def run(q, k, v, *weights):  # the layer's math, with its parameters as checked inputs
        out = F.multi_head_attention_forward(
            q, k, v, 4, 2, None, weights[3], weights[4], weights[5], True, 0.0, weights[6],
            weights[7], key_padding_mask=padding, use_separate_proj_weight=True,
            q_proj_weight=weights[0], k_proj_weight=weights[1], v_proj_weight=weights[2],
        )  # fmt: skip
        return out[0]

    names = [n for n, _ in mha.named_parameters()]
    assert names == [
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "in_proj_bias",
        "bias_k",
        "bias_v",
        "out_proj.weight",
        "out_proj.bias",
    ]
    weights = [dg.tensor(p.detach().numpy(), requires_grad=True) for p in params]
    assert gradcheck(run, (q, k, v, *weights))


MHA_CONFIGS = [
    dict(),
    dict(kdim=3, vdim=5),
    dict(add_bias_kv=True),
    dict(add_zero_attn=True),
    dict(bias=False),
]


@pytest.mark.parity
@pytest.mark.parametrize("config", MHA_CONFIGS, ids=str)
@pytest.mark.parametrize(
    "masks", ["none", "padding", "attn_3d_float+padding", "attn_bool_per_head"]
)
def test_mha_matches_torch_outputs_weights_and_gradients(config, masks):
    torch = pytest.importorskip("torch")
    mha = nn.MultiheadAttention(8, 2, batch_first=True, **config).double()
    tmha = _torch_copy(mha, torch.nn.MultiheadAttention(8, 2, batch_first=True, **config).double())
    q, k, v = _a(3, 4, 8), _a(3, 6, config.get("kdim", 8)), _a(3, 6, config.get("vdim", 8))
    kwargs: dict = {}
    if "padding" in masks:
        kwargs["key_padding_mask"] = RNG.random((3, 6)) < 0.3
        kwargs["key_padding_mask"][:, 0] = False
    if masks == "attn_3d_float+padding":
        kwargs["attn_mask"] = _a(6, 4, 6)
        kwargs["key_padding_mask"] = np.where(kwargs["key_padding_mask"], -np.inf, 0.0)
    if masks == "attn_bool_per_head":
        kwargs["attn_mask"] = RNG.random((4, 6)) < 0.3
        kwargs["attn_mask"][:, 1] = False
        kwargs["average_attn_weights"] = False
    wrap = lambda lib: {
        n: (lib.tensor(m) if isinstance(m, np.ndarray) else m) for n, m in kwargs.items()
    }
    ours = [_t(a, True) for a in (q, k, v)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out, weights = mha(*ours, **wrap(dg))
    tout, tweights = tmha(*theirs, **wrap(torch))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(weights.detach().numpy(), tweights.detach().numpy(), atol=1e-12)
    g = _a(*out.shape)
    ((out * _t(g)).sum() + (weights * weights).sum()).backward()
    ((tout * torch.tensor(g)).sum() + (tweights * tweights).sum()).backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-11)
    tparams = dict(tmha.named_parameters())
    for name, p in mha.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), tparams[name].grad.numpy(), atol=1e-11, err_msg=name
        )


@pytest.mark.parity
def test_mha_sequence_first_unbatched_matches_torch():
    torch = pytest.importorskip("torch")
    mha = nn.MultiheadAttention(6, 3).double()
    tmha = _torch_copy(mha, torch.nn.MultiheadAttention(6, 3).double())
    for shape_q, shape_kv in (((4, 2, 6), (5, 2, 6)), ((4, 6), (5, 6))):
        q, kv = _a(*shape_q), _a(*shape_kv)
        out, w = mha(_t(q), _t(kv), _t(kv))
        tout, tw = tmha(torch.tensor(q), torch.tensor(kv), torch.tensor(kv))
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), atol=1e-12)


def test_mha_shape_errors_name_the_shapes():
    mha = nn.MultiheadAttention(8, 2)
    x = dg.randn(4, 2, 8)
    with pytest.raises(ShapeError, match=r"key_padding_mask must be \(N, S\) = \(2, 4\)"):
        mha(x, x, x, key_padding_mask=dg.zeros(4, 2, dtype=bool))
    with pytest.raises(ShapeError, match=r"attn_mask must be \(4, 4\) or \(4, 4, 4\)"):
        mha(x, x, x, attn_mask=dg.zeros(3, 4))
    with pytest.raises(ShapeError, match="expected embed_dim 8"):
        mha(dg.randn(4, 2, 6), x, x)


# -- static_k / static_v ---------------------------------------------------------------------
def _static_inputs(which: str, unbatched: bool = False) -> dict:
    """Arrays for E = 8, h = 2, L = 4, S = 5, N = 3 (or unbatched), with static_k / static_v
    (N * h, S, E / h) for the letters in ``which``."""
    lead = () if unbatched else (3,)
    rows = 2 * (1 if unbatched else 3)
    return {
        "query": _a(4, *lead, 8), "key": _a(5, *lead, 8), "value": _a(5, *lead, 8),
        "in_proj_weight": _a(24, 8), "in_proj_bias": _a(24),
        "out_proj_weight": _a(8, 8), "out_proj_bias": _a(8),
        "static_k": _a(rows, 5, 4) if "k" in which else None,
        "static_v": _a(rows, 5, 4) if "v" in which else None,
    }  # fmt: skip


def _static_run(lib, inputs: dict, masks: dict, options: dict, g: np.ndarray | None):
    """Run ``lib``'s multi_head_attention_forward, backpropagate sum(out * g) + sum(weights^2);
    returns (out, weights, g, {name: grad array or None}) as NumPy arrays."""
    fn = (
        F.multi_head_attention_forward
        if lib is dg
        else lib.nn.functional.multi_head_attention_forward
    )
    tensors = {
        n: None if a is None else lib.tensor(a, requires_grad=True) for n, a in inputs.items()
    }
    kwargs = {n: lib.tensor(m) for n, m in masks.items()}
    out, weights = fn(
        tensors["query"], tensors["key"], tensors["value"], 8, 2, tensors["in_proj_weight"],
        tensors["in_proj_bias"], None, None, options.get("add_zero_attn", False), 0.0,
        tensors["out_proj_weight"], tensors["out_proj_bias"], static_k=tensors["static_k"],
        static_v=tensors["static_v"], need_weights=options.get("need_weights", True),
        average_attn_weights=options.get("average_attn_weights", True), **kwargs,
    )  # fmt: skip
    g = RNG.standard_normal(tuple(out.shape)) if g is None else g
    loss = (out * lib.tensor(g)).sum()
    if weights is not None:
        loss = loss + (weights * weights).sum()
    loss.backward()
    grads = {n: None if t is None or t.grad is None else t.grad.numpy() for n, t in tensors.items()}
    as_np = lambda t: None if t is None else t.detach().numpy()
    return as_np(out), as_np(weights), g, grads


STATIC_CASES = [
    ("kv", {}, {}),
    ("k", {"add_zero_attn": True}, {}),
    ("v", {"need_weights": False}, {}),
    ("kv", {"add_zero_attn": True}, {"key_padding_mask": "bool"}),
    ("kv", {"average_attn_weights": False}, {"attn_mask": "float_3d", "key_padding_mask": "float"}),
    ("kv", {"need_weights": False, "add_zero_attn": True}, {"attn_mask": "bool_2d"}),
]


def _static_masks(spec: dict) -> dict:
    masks = {}
    padding = RNG.random((3, 5)) < 0.3
    padding[:, 0] = False
    if spec.get("key_padding_mask") == "bool":
        masks["key_padding_mask"] = padding
    elif spec.get("key_padding_mask") == "float":
        masks["key_padding_mask"] = np.where(padding, -1e9, 0.0)
    if spec.get("attn_mask") == "float_3d":
        masks["attn_mask"] = _a(6, 4, 5)
    elif spec.get("attn_mask") == "bool_2d":
        masks["attn_mask"] = RNG.random((4, 5)) < 0.3
        masks["attn_mask"][:, 2] = False
    return masks


@pytest.mark.parity
@pytest.mark.parametrize("which,options,mask_spec", STATIC_CASES, ids=str)
def test_mha_static_k_v_match_torch_values_and_gradients(which, options, mask_spec):
    torch = pytest.importorskip("torch")
    inputs, masks = _static_inputs(which), _static_masks(mask_spec)
    out, weights, g, grads = _static_run(dg, inputs, masks, options, None)
    tout, tweights, _, tgrads = _static_run(torch, inputs, masks, options, g)
    np.testing.assert_allclose(out, tout, atol=1e-12)
    assert (weights is None) == (tweights is None)
    if weights is not None:
        np.testing.assert_allclose(weights, tweights, atol=1e-12)
    for name, grad in grads.items():
        if tgrads[name] is None:  # torch projects the replaced key / value, then drops it
            assert grad is None or not grad.any(), name
        else:
            np.testing.assert_allclose(grad, tgrads[name], atol=1e-11, err_msg=name)
    # The replaced projection gets no gradient: in_proj_weight's rows for k (or v) stay 0.
    rows = {"k": slice(8, 16), "v": slice(16, 24)}
    for letter in which:
        assert not grads["in_proj_weight"][rows[letter]].any()


@pytest.mark.parity
def test_mha_static_k_v_unbatched_matches_torch():
    torch = pytest.importorskip("torch")
    inputs = _static_inputs("kv", unbatched=True)
    out, weights, g, _ = _static_run(dg, inputs, {}, {}, None)
    tout, tweights, _, _ = _static_run(torch, inputs, {}, {}, g)
    assert out.shape == (4, 8) and weights.shape == (4, 5)
    np.testing.assert_allclose(out, tout, atol=1e-12)
    np.testing.assert_allclose(weights, tweights, atol=1e-12)


def test_mha_static_k_v_gradcheck():
    inputs = _static_inputs("kv")
    padding = _t(np.array([[False] * 4 + [True], [False] * 5, [True] + [False] * 4]))

    def run(query, static_k, static_v, in_proj_weight):
        out, _ = F.multi_head_attention_forward(
            query, _t(inputs["key"]), _t(inputs["value"]), 8, 2, in_proj_weight, None, None,
            None, True, 0.0, _t(inputs["out_proj_weight"]), None, key_padding_mask=padding,
            static_k=static_k, static_v=static_v,
        )  # fmt: skip
        return out

    names = ("query", "static_k", "static_v", "in_proj_weight")
    assert gradcheck(run, tuple(_t(inputs[n], True) for n in names))


def test_mha_static_k_v_errors_follow_pytorchs_rules():
    inputs = {n: None if a is None else _t(a) for n, a in _static_inputs("kv").items()}

    def call(**changes):
        args = dict(inputs, **changes)
        bias = changes.pop("bias", None)
        return F.multi_head_attention_forward(
            args["query"], args["key"], args["value"], 8, 2, args["in_proj_weight"],
            args["in_proj_bias"], bias, bias, False, 0.0, args["out_proj_weight"],
            args["out_proj_bias"], static_k=args["static_k"], static_v=args["static_v"],
            attn_mask=args.get("attn_mask"), key_padding_mask=args.get("key_padding_mask"),
        )  # fmt: skip

    with pytest.raises(ValueError, match="bias_k / bias_v cannot be appended to static_k"):
        call(bias=dg.zeros(1, 1, 8))
    with pytest.raises(ValueError, match="cannot be appended to static_v"):
        call(bias=dg.zeros(1, 1, 8), static_k=None)
    with pytest.raises(ShapeError, match=r"static_k must be .* = \(6, S, 4\) \(got \(3, 5, 4\)\)"):
        call(static_k=dg.zeros(3, 5, 4))
    with pytest.raises(ShapeError, match=r"static_v must be .* = \(6, S, 4\) \(got \(6, 5, 8\)\)"):
        call(static_v=dg.zeros(6, 5, 8))
    with pytest.raises(ShapeError, match=r"static_k must be .*\(got \(6, 20\)\)"):
        call(static_k=dg.zeros(6, 20))
    with pytest.raises(TypeError, match="static_v must be a deepgrad Tensor"):
        call(static_v=np.zeros((6, 5, 4)))
    with pytest.raises(ShapeError, match="same source length S .*got 7 keys and 5 values"):
        call(static_k=dg.zeros(6, 7, 4))
    with pytest.raises(ShapeError, match="same source length S .*got 7 keys and 5 values"):
        call(static_k=dg.zeros(6, 7, 4), static_v=None)
    with pytest.raises(ShapeError, match="attn_mask is checked against key's length 5"):
        call(static_k=dg.zeros(6, 7, 4), static_v=dg.zeros(6, 7, 4), attn_mask=dg.zeros(4, 7))
    with pytest.raises(ShapeError, match=r"key_padding_mask must be \(N, S\) = \(3, 7\)"):
        call(static_k=dg.zeros(6, 7, 4), static_v=dg.zeros(6, 7, 4),
             key_padding_mask=dg.zeros(3, 5, dtype=bool))  # fmt: skip
    # Static keys longer than key are fine without attn_mask: S comes from static_k.
    out, weights = call(static_k=dg.zeros(6, 7, 4), static_v=dg.zeros(6, 7, 4))
    assert out.shape == (4, 3, 8) and weights.shape == (3, 4, 7)


@pytest.mark.parametrize("given", ["bias_k", "bias_v"])
def test_mha_one_of_bias_k_bias_v_alone_is_refused(given):
    """PyTorch appends bias_k and bias_v together; one alone used to be ignored silently."""
    inputs = {n: None if a is None else _t(a) for n, a in _static_inputs("kv").items()}
    bias = {given: dg.zeros(1, 1, 8)}
    with pytest.raises(ValueError, match=f"{given} is given without its partner"):
        F.multi_head_attention_forward(
            inputs["query"], inputs["key"], inputs["value"], 8, 2, inputs["in_proj_weight"],
            inputs["in_proj_bias"], bias.get("bias_k"), bias.get("bias_v"), False, 0.0,
            inputs["out_proj_weight"], inputs["out_proj_bias"],
        )  # fmt: skip
