"""Attention: scaled dot-product attention and the multi-head attention of nn.MultiheadAttention.

Without dropout and with a constant mask (or none), scaled_dot_product_attention is one fused
primitive (``ops/fused_layers.py``), and so is multi-head attention with ``need_weights=False``
(the Transformer layers); otherwise composites of matmul, the fused softmax primitive
(max-shifted, so stable for any scores) and elementwise ops, which are also the primitive's
reference in the tests.

Two mask conventions meet here, both PyTorch's: ``scaled_dot_product_attention`` takes a boolean
``attn_mask`` where True means "takes part", while ``multi_head_attention_forward`` (and
nn.MultiheadAttention / the Transformer layers) take boolean masks where True means "masked out".
Float masks are added to the scores in both (use -inf to mask).
"""

from __future__ import annotations

import math

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.nn.functional._utils import _check_tensor
from deepgrad.nn.functional.noise import dropout
from deepgrad.ops import elementwise as ew
from deepgrad.ops.composite import pad
from deepgrad.ops.fused import softmax
from deepgrad.ops.fused_layers import ScaledDotProductAttention
from deepgrad.ops.linalg import linear
from deepgrad.ops.shape import cat

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """y = softmax(q @ k^T * scale + M) @ v, over the key positions (Vaswani et al., 2017).

    M is 0 where a query may attend to a key and -inf where not: from ``attn_mask`` (boolean,
    True = takes part; or float, added to the scores) and, with ``is_causal``, from the causal
    mask (query i sees keys j <= i, aligned at the top left). Both together are combined. A
    query that may attend to no key at all gets a zero output (not NaN).

    Args:
        query: (*, L, E).
        key: (*, S, E).
        value: (*, S, Ev).
        attn_mask: broadcastable to (*, L, S); bool or the query's float dtype. Default: None.
        dropout_p: the dropout probability on the attention weights (applied whenever > 0, as
            in PyTorch: pass 0.0 in evaluation). Default: 0.0.
        is_causal: apply the causal mask. Default: False.
        scale: the factor on the scores. Default: None, meaning 1 / sqrt(E).
        enable_gqa: grouped-query attention: key and value may have fewer heads (dim -3) than
            the query, a divisor of its head count; each is shared by a group of query heads.

    Returns:
        (*, L, Ev).

    Shape:
        query (N, ..., L, E), key (N, ..., S, E), value (N, ..., S, Ev) -> (N, ..., L, Ev).

    Example:
        >>> import deepgrad as dg
        >>> q = dg.ones(1, 2, 4)
        >>> scaled_dot_product_attention(q, q, dg.tensor([[[1.0], [3.0]]]))
        tensor([[[2.],
                 [2.]]])
    """
    for arg, t in (("query", query), ("key", key), ("value", value)):
        _check_tensor("scaled_dot_product_attention", arg, t)
    _check_qkv(query, key, value)
    if enable_gqa:
        key, value = _repeat_kv_heads(query, key), _repeat_kv_heads(query, value)
    if scale is None:
        # With an empty head dimension every score is 0 whatever the scale (PyTorch: uniform weights).
        scale = 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0
    if dropout_p == 0.0 and _fusable(query, key, value, attn_mask):
        return ScaledDotProductAttention.apply(query, key, value, scale=float(scale),
                                               causal=bool(is_causal),
                                               bias=_additive_bias(attn_mask, query))  # fmt: skip
    mask = _sdpa_mask(query, key, attn_mask, is_causal)
    output, _ = _attend(query, key, value, mask, dropout_p, float(scale))
    return output


def _fusable(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None) -> bool:
    """Whether the fused primitive computes this attention: one floating dtype and array type,
    L, S >= 1, and a mask (if any) that is a bool or float constant (no gradient wanted)."""
    qd = query._data
    if mask is not None and (
        not isinstance(mask, Tensor)
        or mask.dtype.kind not in "bf"
        or mask.requires_grad
        or type(mask._data) is not type(qd)
    ):
        return False
    return (
        qd.dtype.kind in "fV"
        and all(t._data.dtype == qd.dtype and type(t._data) is type(qd) for t in (key, value))
        and key.shape[-2] > 0
        and query.shape[-2] > 0
    )


def _additive_bias(mask: Tensor | None, like: Tensor):
    """The array the fused primitive adds to the scores: bool True (takes part) -> 0, False ->
    -inf; floats as they are, in the query's dtype."""
    if mask is None:
        return None
    xp, dtype = like.xp, like._data.dtype
    if mask.dtype.kind == "b":
        return xp.where(mask._data, xp.asarray(0, dtype=dtype), xp.asarray(-math.inf, dtype=dtype))
    return mask._data.astype(dtype, copy=False)


def _check_qkv(query: Tensor, key: Tensor, value: Tensor) -> None:
    if (
        min(query.ndim, key.ndim, value.ndim) < 2
        or query.shape[-1] != key.shape[-1]
        or (key.shape[-2] != value.shape[-2])
    ):
        raise ShapeError(
            "scaled_dot_product_attention: expected query (*, L, E), key (*, S, E) and value "
            f"(*, S, Ev) (got query {query.shape}, key {key.shape}, value {value.shape}); query "
            "and key need the same E, key and value the same S."
        )


def _repeat_kv_heads(query: Tensor, t: Tensor) -> Tensor:
    """(*, Hk, S, E) -> (*, Hq, S, E): each key/value head serves Hq / Hk consecutive query
    heads."""
    if query.ndim < 3 or t.ndim < 3 or query.shape[-3] % t.shape[-3]:
        raise ShapeError(
            "scaled_dot_product_attention: with enable_gqa, the query's head count (dim -3) must "
            f"be a multiple of the key's and value's (got query {query.shape}, {t.shape})."
        )
    group = query.shape[-3] // t.shape[-3]
    if group == 1:
        return t
    *lead, heads, s, e = t.shape
    return t.unsqueeze(-3).expand(*lead, heads, group, s, e).reshape(*lead, heads * group, s, e)


def _sdpa_mask(query: Tensor, key: Tensor, attn_mask: Tensor | None, is_causal: bool):
    """The mask as _attend takes it: None, a bool Tensor (True = takes part) or an additive one."""
    causal = _causal_allowed(query, query.shape[-2], key.shape[-2]) if is_causal else None
    if attn_mask is None:
        return causal
    _check_tensor("scaled_dot_product_attention", "attn_mask", attn_mask)
    if attn_mask.dtype.kind == "b":
        return attn_mask if causal is None else ew.logical_and(attn_mask, causal)
    if attn_mask.dtype.kind != "f":
        raise TypeError(
            "scaled_dot_product_attention: attn_mask must be bool (True = takes part) or a float "
            f"tensor added to the scores (got {attn_mask.dtype})."
        )
    return attn_mask if causal is None else ew.where(causal, attn_mask, float("-inf"))


def _causal_allowed(like: Tensor, rows: int, cols: int) -> Tensor:
    """(rows, cols) bool: True where key j <= query i (the lower triangle, top-left aligned)."""
    xp = like.xp
    return Tensor._make(xp.arange(cols)[None, :] <= xp.arange(rows)[:, None], None)


def _attend(query: Tensor, key: Tensor, value: Tensor, mask, dropout_p: float, scale: float):
    """softmax(q k^T * scale + M) v and the weights (after dropout); mask as from _sdpa_mask."""
    scores = (query * scale) @ key.transpose(-2, -1)
    if mask is not None:
        if mask.dtype.kind == "b":
            scores = ew.where(mask, scores, float("-inf"))
        else:
            scores = scores + mask.to(scores.dtype)
        # A row that is -inf everywhere would give 0/0 = NaN in softmax (and NaN gradients);
        # such a query attends to nothing, so its weights are set to 0 instead.
        empty = scores._data.max(axis=-1, keepdims=True) == float("-inf")
        if empty.any():
            empty = Tensor._make(empty, None)
            weights = ew.where(empty, 0.0, softmax(ew.where(empty, 0.0, scores), dim=-1))
        else:
            weights = softmax(scores, dim=-1)
    else:
        weights = softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights @ value, weights


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple:
    """MultiHead(q, k, v) = concat(head_1, ..., head_h) @ W_o^T + b_o, with
    head_i = softmax((q W_q,i^T)(k W_k,i^T)^T / sqrt(d) + M) (v W_v,i^T), d = E / h.

    The math of nn.MultiheadAttention, with PyTorch's arguments (see that class for masks and
    shapes); with ``is_causal`` and no ``attn_mask`` the causal mask is built. Returns
    (output (L, N, E), weights (N, L, S) or per head (N, h, L, S), or None). ``static_k`` /
    ``static_v``: keys / values already projected and split into heads, (N * h, S, E / h), used
    instead of projecting key / value (PyTorch's rules: see ``_check_static``).
    """
    batched = query.ndim == 3
    if not batched:  # unbatched: a batch of one
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)
    length, batch, embed_dim = _check_mha_shapes(query, key, value, embed_dim_to_check, num_heads)
    head_shape = (batch * num_heads, embed_dim // num_heads)
    source = _check_static(static_k, static_v, bias_k, bias_v, key, value, head_shape, attn_mask)
    separate = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight else None
    to_project = (key if static_k is None else None), (value if static_v is None else None)
    q, k, v = _project(query, *to_project, in_proj_weight, in_proj_bias, separate)
    if is_causal and attn_mask is None:  # True = masked, the convention here
        attn_mask = ~_causal_allowed(query, length, source)
    mask = _mha_mask(attn_mask, key_padding_mask, q, batch, num_heads, length, source)
    k = k if static_k is None else static_k.reshape(batch, num_heads, source, -1)
    v = v if static_v is None else static_v.reshape(batch, num_heads, source, -1)
    q, k, v, mask = _extra_keys(q, k, v, mask, bias_k, bias_v, add_zero_attn, num_heads)
    scale = 1.0 / math.sqrt(embed_dim // num_heads)
    out, attn = _mha_attend(q, k, v, mask, dropout_p if training else 0.0, scale, need_weights)
    out = linear(out.permute(2, 0, 1, 3).reshape(length, batch, embed_dim), out_proj_weight,
                 out_proj_bias)  # fmt: skip
    attn = attn.mean(dim=1) if need_weights and average_attn_weights else attn
    if not batched:
        out, attn = out.squeeze(1), (None if attn is None else attn.squeeze(0))
    return out, attn if need_weights else None


def _mha_attend(q, k, v, mask, dropout_p: float, scale: float, need_weights: bool) -> tuple:
    """(output, weights): the fused primitive when the weights are not wanted (the Transformer
    layers), else the composite, which also gives them. ``mask`` is additive (or None)."""
    if not need_weights and dropout_p == 0.0 and _fusable(q, k, v, mask):
        bias = _additive_bias(mask, q)
        return ScaledDotProductAttention.apply(q, k, v, scale=scale, bias=bias), None
    return _attend(q, k, v, mask, dropout_p, scale)


def _project(query, key, value, in_proj_weight, in_proj_bias, separate) -> tuple:
    """q = query W_q^T + b_q and likewise k, v: W_q, W_k, W_v are the thirds of in_proj_weight,
    or the ``separate`` weights (when kdim or vdim differs from E). A key or value of None
    (replaced by static_k / static_v) stays None."""
    e = query.shape[-1]
    weights = separate
    if separate is None:
        weights = tuple(in_proj_weight[i * e : (i + 1) * e] for i in range(3))
    biases = (None, None, None)
    if in_proj_bias is not None:
        biases = tuple(in_proj_bias[i * e : (i + 1) * e] for i in range(3))
    inputs = (query, key, value)
    return tuple(None if x is None else linear(x, w, b) for x, w, b in zip(inputs, weights, biases))


def _check_static(static_k, static_v, bias_k, bias_v, key: Tensor, value: Tensor,
                  head_shape: tuple, attn_mask) -> int:  # fmt: skip
    """PyTorch's rules for static_k / static_v; returns the source length S of the keys.

    A static tensor is (N * h, S, E / h) = (*head_shape[:1], S, *head_shape[1:]), batch-major
    (row n * h + i is head i of batch element n). It cannot be combined with bias_k / bias_v;
    add_zero_attn still appends its zero key / value; key_padding_mask is (N, S) over the static
    keys, while attn_mask (L, S) is checked against key's length, which must then equal S.
    """
    if static_k is None and static_v is None:
        return key.shape[0]
    if bias_k is not None and bias_v is not None:
        which = "static_k" if static_k is not None else "static_v"
        raise ValueError(
            f"multi_head_attention_forward: bias_k / bias_v cannot be appended to {which} (static "
            "keys and values are used as given); pass bias_k=bias_v=None."
        )
    lengths = [
        other.shape[0] if static is None else _static_length(name, static, head_shape)
        for name, static, other in (("static_k", static_k, key), ("static_v", static_v, value))
    ]
    if lengths[0] != lengths[1]:
        raise ShapeError(
            "multi_head_attention_forward: the keys and values need the same source length S "
            f"(got {lengths[0]} keys and {lengths[1]} values, with static_k "
            f"{_shape_or_none(static_k)} and static_v {_shape_or_none(static_v)}); match them."
        )
    if attn_mask is not None and lengths[0] != key.shape[0]:
        raise ShapeError(
            f"multi_head_attention_forward: attn_mask is checked against key's length "
            f"{key.shape[0]} but the static keys have S = {lengths[0]}; pass a key of length "
            f"{lengths[0]} (as PyTorch requires)."
        )
    return lengths[0]


def _static_length(name: str, static, head_shape: tuple) -> int:
    """S of a static_k / static_v, after checking it is a (N * h, S, E / h) Tensor."""
    _check_tensor("multi_head_attention_forward", name, static)
    if static.ndim != 3 or (static.shape[0], static.shape[2]) != head_shape:
        rows, head_dim = head_shape
        raise ShapeError(
            f"multi_head_attention_forward: {name} must be (N * num_heads, S, E / num_heads) = "
            f"({rows}, S, {head_dim}) (got {static.shape}); project and split it into heads "
            "batch-major (row n * num_heads + i is head i of batch element n)."
        )
    return static.shape[1]


def _shape_or_none(t) -> object:
    return None if t is None else t.shape


def _extra_keys(q, k, v, mask, bias_k, bias_v, add_zero_attn: bool, heads: int) -> tuple:
    """Split into heads (N, h, S, d) (static keys / values come split), appending the learned
    bias key / value (add_bias_kv) and a zero key / value (add_zero_attn), each with a zero
    mask column."""
    batch, embed_dim = q.shape[1], q.shape[2]
    if (bias_k is None) != (bias_v is None):
        given = "bias_k" if bias_v is None else "bias_v"
        raise ValueError(
            f"multi_head_attention_forward: {given} is given without its partner (bias_k and "
            "bias_v are appended together, as add_bias_kv does); pass both or neither."
        )
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.expand(1, batch, embed_dim)], dim=0)
        v = cat([v, bias_v.expand(1, batch, embed_dim)], dim=0)
        mask = None if mask is None else pad(mask, (0, 1))
    q, k, v = (t if t.ndim == 4 else _split_heads(t, batch, heads) for t in (q, k, v))
    if add_zero_attn:
        k = pad(k, (0, 0, 0, 1))
        v = pad(v, (0, 0, 0, 1))
        mask = None if mask is None else pad(mask, (0, 1))
    return q, k, v, mask


def _check_mha_shapes(query: Tensor, key: Tensor, value: Tensor, embed_dim: int, heads: int):
    if query.ndim != 3 or key.ndim != 3 or value.ndim != 3 or key.shape[:2] != value.shape[:2]:
        raise ShapeError(
            "multi_head_attention_forward: expected query (L, N, E), key (S, N, kdim) and value "
            f"(S, N, vdim), or all three unbatched (got query {query.shape}, key {key.shape}, "
            f"value {value.shape})."
        )
    length, batch, e = query.shape
    if e != embed_dim or key.shape[1] != batch:
        raise ShapeError(
            f"multi_head_attention_forward: query has embedding size {e} and batch {batch}, "
            f"expected embed_dim {embed_dim} and the key's batch {key.shape[1]}."
        )
    if embed_dim % heads:
        raise ValueError(
            f"multi_head_attention_forward: embed_dim {embed_dim} is not divisible by num_heads "
            f"{heads}."
        )
    return length, batch, e


def _split_heads(t: Tensor, batch: int, heads: int) -> Tensor:
    """(S, N, E) -> (N, heads, S, E / heads)."""
    length, _, e = t.shape
    return t.reshape(length, batch, heads, e // heads).permute(1, 2, 0, 3)


def _additive(name: str, mask: Tensor, like: Tensor) -> Tensor:
    """A PyTorch-convention mask as a float Tensor to add: bool True -> -inf, floats as they are."""
    _check_tensor("multi_head_attention_forward", name, mask)
    if mask.dtype.kind == "b":
        xp = like.xp
        data = xp.where(mask._data, xp.asarray(float("-inf"), dtype=like.dtype), 0)
        return Tensor._make(data.astype(like.dtype), None)
    if mask.dtype.kind != "f":
        raise TypeError(
            f"multi_head_attention_forward: {name} must be bool (True = masked) or float (added to "
            f"the scores) (got {mask.dtype})."
        )
    return mask.to(like.dtype)


def _mha_mask(attn_mask, key_padding_mask, like: Tensor, batch: int, heads: int, length: int,
              source: int):  # fmt: skip
    """attn_mask and key_padding_mask merged into one additive mask broadcasting to (N, h, L, S)."""
    mask = None
    if attn_mask is not None:
        mask = _additive("attn_mask", attn_mask, like)
        if mask.shape == (length, source):
            mask = mask.reshape(1, 1, length, source)
        elif mask.shape == (batch * heads, length, source):
            mask = mask.reshape(batch, heads, length, source)
        else:
            raise ShapeError(
                f"multi_head_attention_forward: attn_mask must be ({length}, {source}) or "
                f"({batch * heads}, {length}, {source}) (L, S or N * num_heads, L, S) (got "
                f"{attn_mask.shape})."
            )
    if key_padding_mask is not None:
        if key_padding_mask.shape != (batch, source):
            raise ShapeError(
                f"multi_head_attention_forward: key_padding_mask must be (N, S) = ({batch}, "
                f"{source}) (got {key_padding_mask.shape})."
            )
        padding = _additive("key_padding_mask", key_padding_mask, like)
        padding = padding.reshape(batch, 1, 1, source)
        mask = padding if mask is None else mask + padding
    return mask
