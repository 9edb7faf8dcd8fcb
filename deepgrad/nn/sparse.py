"""Embedding: a lookup table of learned vectors, one per index (the math is in ``functional``)."""

from __future__ import annotations

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.backend.random import Generator
from deepgrad.backend.validation import positive_int
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.module import Module
from deepgrad.nn.parameter import Parameter
from deepgrad.ops.creation import empty

__all__ = ["Embedding"]


class Embedding(Module):
    """y[...] = weight[x[...]]: maps each integer index to a learned vector.

    Equivalent to a Linear layer without bias applied to one-hot vectors, without building them.
    The row at ``padding_idx`` is initialized to zeros and receives no gradient.

    Args:
        num_embeddings: the size of the table (indices lie in [0, num_embeddings)).
        embedding_dim: the size of each vector.
        padding_idx: an index whose vector stays fixed (zeros), or None. Negative counts from the end.
        device, dtype: of the weight. Default: cpu, float32.
        generator: source of the initial weights. Default: deepgrad's default generator.

    Shape:
        x: integer tensor of any shape (*) -> y: (*, embedding_dim).

    Parameters:
        weight: (num_embeddings, embedding_dim), W ~ N(0, 1) (the padding row 0).

    Example:
        >>> import deepgrad as dg
        >>> emb = Embedding(10, 3, padding_idx=0)
        >>> emb(dg.tensor([[1, 2, 0]])).shape
        (1, 3, 3)
        >>> emb.weight[0].tolist()
        [0.0, 0.0, 0.0]
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        device=None,
        dtype=None,
        generator: Generator | None = None,
    ) -> None:
        super().__init__()
        positive_int(num_embeddings, "num_embeddings", "Embedding")
        positive_int(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            padding_idx = F._padding_index(padding_idx, num_embeddings)
        self.num_embeddings, self.embedding_dim, self.padding_idx = (
            num_embeddings,
            embedding_dim,
            padding_idx,
        )
        self.weight = Parameter(empty(num_embeddings, embedding_dim, device=device, dtype=dtype))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Generator | None = None) -> None:
        """weight ~ N(0, 1), the padding row set to zeros."""
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            with no_grad():
                self.weight._data[self.padding_idx] = 0
            self.weight._version += 1

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    @classmethod
    def from_pretrained(
        cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None
    ) -> Embedding:
        """An Embedding whose table is a copy of ``embeddings`` (num_embeddings, embedding_dim).

        Args:
            embeddings: the 2-D table.
            freeze: keep the table fixed (requires_grad=False). Default: True.
            padding_idx: as in the constructor (the given row is kept, not zeroed).
        """
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise ShapeError(
                "Embedding.from_pretrained: embeddings must be a 2-D Tensor (num_embeddings, embedding_dim) "
                f"(got {getattr(embeddings, 'shape', type(embeddings).__name__)})."
            )
        rows, dim = embeddings.shape
        layer = cls(rows, dim, device=embeddings.device, dtype=embeddings.dtype)
        if padding_idx is not None:
            layer.padding_idx = F._padding_index(padding_idx, rows)
        init._write(layer.weight, embeddings)
        layer.weight.requires_grad_(not freeze)
        return layer

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
