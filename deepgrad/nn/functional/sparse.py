"""Index lookups: embedding (rows of a table) and one_hot."""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DTypeError, ShapeError
from deepgrad.nn.functional._utils import _check_same_device, _check_tensor
from deepgrad.ops import elementwise as ew
from deepgrad.ops import shape as sh
from deepgrad.ops.index import one_hot

__all__ = ["embedding", "one_hot"]


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """y[...] = weight[input[...]]: one row of the table per index.

    The gradient adds into the looked-up rows (repeated indices accumulate). The row at
    ``padding_idx`` gets no gradient, so it stays as initialized (zeros in ``nn.Embedding``).

    Args:
        input: integer indices of any shape, each in [0, num_embeddings).
        weight: the table, (num_embeddings, embedding_dim).
        padding_idx: an index whose row receives no gradient, or None. Negative counts from the end.

    Returns:
        (*input.shape, embedding_dim).

    Example:
        >>> import deepgrad as dg
        >>> embedding(dg.tensor([2, 0]), dg.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))
        tensor([[2., 2.],
                [0., 0.]])
    """
    _check_tensor("embedding", "input", input)
    _check_tensor("embedding", "weight", weight)
    if input.dtype.kind not in "iu":
        raise DTypeError(
            f"embedding: indices must be an integer tensor (got {input.dtype}); use input.long()."
        )
    if weight.ndim != 2:
        raise ShapeError(
            "embedding: weight must be 2-D (num_embeddings, embedding_dim) (got shape "
            f"{weight.shape})."
        )
    _check_same_device("embedding", weight, input, "input")
    count = weight.shape[0]
    indices = input._data
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= count):
        raise ValueError(
            f"embedding: indices must lie in [0, {count}) for a table of {count} rows (got min "
            f"{int(indices.min())}, max {int(indices.max())})."
        )
    rows = sh.Index.apply(weight, index=(indices,))
    if padding_idx is None:
        return rows
    padding_idx = _padding_index(padding_idx, count)
    used = Tensor._make((indices != padding_idx)[..., None], None)
    return ew.where(used, rows, rows.detach())


def _padding_index(padding_idx: int, count: int) -> int:
    if not -count <= padding_idx < count:
        raise ValueError(
            f"embedding: padding_idx must be in [-{count}, {count}) (got {padding_idx})."
        )
    return padding_idx % count
