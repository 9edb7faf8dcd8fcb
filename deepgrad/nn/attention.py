"""MultiheadAttention: the layer that owns the projections of multi-head attention (the math is
``F.multi_head_attention_forward``). Parameter names are PyTorch's, so state dicts port."""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import validation
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.linear import Linear
from deepgrad.nn.module import Module
from deepgrad.nn.parameter import Parameter
from deepgrad.ops.creation import empty

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017):
    MultiHead(Q, K, V) = concat(head_1, ..., head_h) W_o^T + b_o,
    head_i = softmax(Q W_q,i^T (K W_k,i^T)^T / sqrt(d) + M) V W_v,i^T, with d = embed_dim / h.

    Masks follow PyTorch: in a boolean ``key_padding_mask`` or ``attn_mask``, True marks a
    position that may NOT be attended to; float masks are added to the scores. A query whose keys
    are all masked gets a zero output and zero weights (PyTorch returns NaN there).

    Args:
        embed_dim: E, the size of queries and outputs.
        num_heads: h; must divide E.
        dropout: the dropout probability on the attention weights in training. Default: 0.0.
        bias: learn the input and output projection biases. Default: True.
        add_bias_kv: learn a bias key and value appended to the key and value sequences.
            Default: False.
        add_zero_attn: append a zero key and value (after projection). Default: False.
        kdim, vdim: the key and value sizes. Default: None, meaning E.
        batch_first: inputs and outputs are (N, L, E) instead of (L, N, E). Default: False.
        device, dtype: of the parameters. Default: cpu, float32.

    Parameters:
        in_proj_weight: (3E, E), Xavier-uniform, when kdim = vdim = E; otherwise
        q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim), Xavier-uniform.
        in_proj_bias: (3E,), zeros. out_proj.weight: (E, E), as Linear. out_proj.bias: (E,), zeros.
        bias_k, bias_v: (1, 1, E), Xavier-normal (with add_bias_kv).

    Shape:
        query (L, N, E), key (S, N, kdim), value (S, N, vdim) (batch_first: N first; unbatched:
        no N); key_padding_mask (N, S) or (S,); attn_mask (L, S) or (N * h, L, S)
        -> attn_output (L, N, E); attn_weights (N, L, S) averaged over heads, or (N, h, L, S)
        with ``average_attn_weights=False``, or None with ``need_weights=False``.

    Example:
        >>> import deepgrad as dg
        >>> mha = MultiheadAttention(8, 2, batch_first=True)
        >>> x = dg.randn(3, 5, 8)
        >>> out, weights = mha(x, x, x)
        >>> out.shape, weights.shape
        ((3, 5, 8), (3, 5, 5))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_sizes(embed_dim, num_heads, dropout, kdim, vdim)
        like = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.head_dim, self.batch_first = embed_dim // num_heads, batch_first
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **like))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **like))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **like))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **like))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **like))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **like)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **like))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **like))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases, Xavier-normal bias_k / bias_v (as PyTorch)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple:
        """(attn_output, attn_weights or None); see the class docstring for shapes and masks."""
        batched = query.ndim == 3
        if self.batch_first and batched:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        output, weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads,
            self.in_proj_weight, self.in_proj_bias, self.bias_k, self.bias_v,
            self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask,
            need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )  # fmt: skip
        if self.batch_first and batched:
            output = output.transpose(0, 1)
        return output, weights

    def extra_repr(self) -> str:
        text = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            text += f", kdim={self.kdim}, vdim={self.vdim}"
        return text + (", batch_first=True" if self.batch_first else "")


def _check_sizes(embed_dim, num_heads, dropout, kdim, vdim) -> None:
    for arg, value in (("embed_dim", embed_dim), ("num_heads", num_heads), ("kdim", kdim),
                       ("vdim", vdim)):  # fmt: skip
        if value is not None:
            validation.positive_int(value, arg, "MultiheadAttention")
    if embed_dim % num_heads:
        raise ValueError(
            f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}."
        )
    validation.probability(dropout, "dropout", "MultiheadAttention")
