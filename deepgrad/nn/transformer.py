"""The Transformer (Vaswani et al., 2017): encoder and decoder layers, their stacks, and the
encoder-decoder model, with PyTorch's arguments and submodule names so that state dicts port.

Masks follow nn.MultiheadAttention: in boolean masks True means "may not attend"; float masks are
added to the attention scores (``Transformer.generate_square_subsequent_mask`` builds the causal
one). ``is_causal`` is PyTorch's hint that the given mask is causal; here, when no mask is given,
it builds the causal mask (PyTorch asks for the mask as well).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import validation
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.attention import MultiheadAttention
from deepgrad.nn.container import ModuleList
from deepgrad.nn.dropout import Dropout
from deepgrad.nn.linear import Linear
from deepgrad.nn.module import Module
from deepgrad.nn.normalization import LayerNorm
from deepgrad.ops.composite import triu
from deepgrad.ops.creation import full

__all__ = [
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "TransformerDecoderLayer",
    "TransformerDecoder",
    "Transformer",
]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _activation(name: str, activation) -> Callable:
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"{name}: activation must be 'relu', 'gelu' or a callable (got {activation!r})."
        )
    return _ACTIVATIONS[activation]


def _clones(layer: Module, num_layers: int, name: str) -> ModuleList:
    validation.positive_int(num_layers, "num_layers", name)
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


class TransformerEncoderLayer(Module):
    """One encoder layer: self-attention then a feed-forward network, each in a residual branch
    with dropout and layer norm:

    post-norm (default): x = norm1(x + SA(x)); x = norm2(x + FF(x))
    pre-norm (``norm_first``): x = x + SA(norm1(x)); x = x + FF(norm2(x))
    with FF(x) = linear2(dropout(activation(linear1(x)))).

    Args:
        d_model: E, the embedding size.
        nhead: the number of attention heads; must divide d_model.
        dim_feedforward: the hidden size of the feed-forward network. Default: 2048.
        dropout: the dropout probability (attention weights and every branch). Default: 0.1.
        activation: 'relu', 'gelu' or a callable (a function or a Module). Default: 'relu'.
        layer_norm_eps: the eps of the layer norms. Default: 1e-5.
        batch_first: inputs are (N, S, E) instead of (S, N, E). Default: False.
        norm_first: pre-norm instead of post-norm. Default: False.
        bias: learn biases in the linear layers and layer norms. Default: True.
        device, dtype: of the parameters. Default: cpu, float32.

    Shape:
        src (S, N, E), or (N, S, E) with batch_first, or unbatched (S, E) -> the same shape.
        src_mask (S, S) or (N * nhead, S, S); src_key_padding_mask (N, S).

    Example:
        >>> import deepgrad as dg
        >>> layer = TransformerEncoderLayer(16, nhead=4, dim_feedforward=32, batch_first=True)
        >>> layer(dg.randn(2, 7, 16)).shape
        (2, 7, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        like = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **like
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **like)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **like)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **like)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **like)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(type(self).__name__, activation)

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
            need_weights=False, is_causal=is_causal,
        )[0]  # fmt: skip
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """One decoder layer: self-attention over the target, attention to the encoder's output
    (memory), then a feed-forward network, each in a residual branch with dropout and layer norm:

    post-norm (default): x = norm1(x + SA(x)); x = norm2(x + MHA(x, memory)); x = norm3(x + FF(x))
    pre-norm (``norm_first``): x = x + SA(norm1(x)); x = x + MHA(norm2(x), memory);
    x = x + FF(norm3(x)).

    Args: as TransformerEncoderLayer.

    Shape:
        tgt (T, N, E), memory (S, N, E) (batch_first: N first; unbatched: no N) -> (T, N, E).
        tgt_mask (T, T); memory_mask (T, S); tgt_key_padding_mask (N, T);
        memory_key_padding_mask (N, S).

    Example:
        >>> import deepgrad as dg
        >>> layer = TransformerDecoderLayer(16, 4, dim_feedforward=32, batch_first=True)
        >>> layer(dg.randn(2, 5, 16), dg.randn(2, 7, 16)).shape
        (2, 5, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        like = {"device": device, "dtype": dtype}
        attention = {"dropout": dropout, "bias": bias, "batch_first": batch_first, **like}
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **like)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **like)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **like)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **like)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **like)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(type(self).__name__, activation)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        self_masks = (tgt_mask, tgt_key_padding_mask, tgt_is_causal)
        cross_masks = (memory_mask, memory_key_padding_mask, memory_is_causal)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), *self_masks)
            x = x + self._mha_block(self.norm2(x), memory, *cross_masks)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, *self_masks))
        x = self.norm2(x + self._mha_block(x, memory, *cross_masks))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
            need_weights=False, is_causal=is_causal,
        )[0]  # fmt: skip
        return self.dropout1(x)

    def _mha_block(
        self, x: Tensor, memory: Tensor, attn_mask, key_padding_mask, is_causal
    ) -> Tensor:
        x = self.multihead_attn(
            x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
            need_weights=False, is_causal=is_causal,
        )[0]  # fmt: skip
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` encoder layers, deep copies of ``encoder_layer`` (independent
    parameters), then an optional final ``norm``: y = norm(layer_n(... layer_1(x))).

    Args:
        encoder_layer: a TransformerEncoderLayer (or any module with its forward signature).
        num_layers: the number of copies.
        norm: a final normalization module, or None. Default: None.
        enable_nested_tensor, mask_check: accepted for PyTorch compatibility; nested tensors are
            a PyTorch speed path that does not change results, and are not used here.

    Shape:
        as TransformerEncoderLayer.

    Example:
        >>> import deepgrad as dg
        >>> layer = TransformerEncoderLayer(8, 2, dim_feedforward=16)
        >>> TransformerEncoder(layer, num_layers=3)(dg.randn(5, 2, 8)).shape
        (5, 2, 8)
    """

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers, self.norm = num_layers, norm

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(
                x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal),
            )  # fmt: skip
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """A stack of ``num_layers`` decoder layers, deep copies of ``decoder_layer``, each reading the
    same memory, then an optional final ``norm``.

    Args:
        decoder_layer: a TransformerDecoderLayer.
        num_layers: the number of copies.
        norm: a final normalization module, or None. Default: None.

    Shape:
        as TransformerDecoderLayer.

    Example:
        >>> import deepgrad as dg
        >>> layer = TransformerDecoderLayer(8, 2, dim_feedforward=16)
        >>> TransformerDecoder(layer, 2)(dg.randn(4, 2, 8), dg.randn(6, 2, 8)).shape
        (4, 2, 8)
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers, self.norm = num_layers, norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(
                x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal,
            )  # fmt: skip
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """The encoder-decoder Transformer (Vaswani et al., 2017, "Attention Is All You Need"):
    memory = encoder(src); y = decoder(tgt, memory), each a stack of layers with a final
    LayerNorm. Matrices (every parameter with 2+ dimensions) start Xavier-uniform.

    Args:
        d_model: E. Default: 512.
        nhead: the number of heads. Default: 8.
        num_encoder_layers, num_decoder_layers: Default: 6 each.
        dim_feedforward: Default: 2048.
        dropout: Default: 0.1.
        activation: 'relu', 'gelu' or a callable. Default: 'relu'.
        custom_encoder, custom_decoder: modules used instead of the built stacks. Default: None.
        layer_norm_eps: Default: 1e-5.
        batch_first: (N, S, E) inputs. Default: False.
        norm_first: pre-norm layers. Default: False.
        bias: biases in linear layers and layer norms. Default: True.
        device, dtype: of the parameters.

    Shape:
        src (S, N, E), tgt (T, N, E) (batch_first: N first) -> (T, N, E). Masks as in
        TransformerEncoderLayer / TransformerDecoderLayer; src_mask (S, S), tgt_mask (T, T),
        memory_mask (T, S).

    Example:
        >>> import deepgrad as dg
        >>> model = Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
        ...                     dim_feedforward=16)
        >>> mask = Transformer.generate_square_subsequent_mask(4)
        >>> model(dg.randn(6, 2, 8), dg.randn(4, 2, 8), tgt_mask=mask).shape
        (4, 2, 8)
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        like = {"device": device, "dtype": dtype}
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                      batch_first, norm_first, bias)  # fmt: skip
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(*layer_args, **like)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **like)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(*layer_args, **like)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **like)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal,
        )  # fmt: skip

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """The (sz, sz) causal float mask: 0 where key j <= query i, -inf above the diagonal.

        Example:
            >>> Transformer.generate_square_subsequent_mask(3)
            tensor([[  0., -inf, -inf],
                    [  0.,   0., -inf],
                    [  0.,   0.,   0.]])
        """
        return triu(full((sz, sz), float("-inf"), dtype=dtype, device=device), diagonal=1)
