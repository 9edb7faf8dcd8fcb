"""Batches of sequences of different lengths: padding and packing (``torch.nn.utils.rnn``).

A *padded* batch is one tensor (T, B, *) (or (B, T, *) with ``batch_first``) where sequence b
fills its first ``lengths[b]`` steps and the rest is ``padding_value``. A *packed* batch,
:class:`PackedSequence`, keeps only the real steps, time-major, with the longest sequences first:

    data = [x_0 of every sequence, x_1 of every sequence still running, ...]
    batch_sizes[t] = how many sequences have a step t

so a recurrent layer (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``) that reads a PackedSequence stops each
sequence at its own length: its outputs past a length are not computed and its final state is the
state after each sequence's last real step.

All functions here are differentiable in the sequence values (they only gather and concatenate).

Example:
    >>> import deepgrad as dg
    >>> a, b = dg.tensor([1.0, 2.0, 3.0]), dg.tensor([4.0])
    >>> padded = pad_sequence([a, b], batch_first=True)
    >>> padded
    tensor([[1., 2., 3.],
            [4., 0., 0.]])
    >>> packed = pack_padded_sequence(padded, [3, 1], batch_first=True)
    >>> packed.data, packed.batch_sizes
    (tensor([1., 4., 2., 3.]), tensor([2, 1, 1]))
    >>> pad_packed_sequence(packed, batch_first=True)[1]
    tensor([3, 1])
"""

from __future__ import annotations

import itertools
from collections import namedtuple
from collections.abc import Sequence

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.ops.composite import stack
from deepgrad.ops.creation import full, tensor
from deepgrad.ops.index import index_select
from deepgrad.ops.shape import cat

_PackedSequenceFields = namedtuple(
    "_PackedSequenceFields", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"]
)


class PackedSequence(_PackedSequenceFields):
    """A batch of sequences of different lengths without padding (from ``pack_padded_sequence``).

    Fields:
        data: (sum of lengths, *) the steps, time-major: step 0 of every sequence, then step 1 of
            every sequence at least 2 long, ... (within a step, longest sequence first).
        batch_sizes: (max length,) int64 on the CPU; how many sequences have step t.
        sorted_indices: (B,) int64 or None; position -> original batch index (None when the batch
            was already sorted by decreasing length).
        unsorted_indices: (B,) int64 or None; the inverse permutation of ``sorted_indices``.

    Make it with ``pack_padded_sequence`` or ``pack_sequence``, not by hand.
    """

    __slots__ = ()

    def __new__(
        cls,
        data: Tensor,
        batch_sizes: Tensor | None = None,
        sorted_indices: Tensor | None = None,
        unsorted_indices: Tensor | None = None,
    ) -> PackedSequence:
        if batch_sizes is None:
            raise TypeError(
                "PackedSequence: batch_sizes is required (got None); make one with "
                "nn.utils.rnn.pack_padded_sequence or pack_sequence."
            )
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    @property
    def is_cuda(self) -> bool:
        """True when ``data`` is on a CUDA device."""
        return self.data.is_cuda

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data.to(*args, **kwargs)``; the indices follow its device, ``batch_sizes`` stays."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        moved = [None if i is None else i.to(data.device) for i in self[2:]]
        return type(self)(data, self.batch_sizes, *moved)

    def cpu(self) -> PackedSequence:
        """A copy with ``data`` on the CPU."""
        return self.to("cpu")

    def double(self) -> PackedSequence:
        """A copy with float64 ``data``."""
        return self.to(self.data.xp.float64)

    def float(self) -> PackedSequence:
        """A copy with float32 ``data``."""
        return self.to(self.data.xp.float32)


def _invert(permutation: Tensor) -> Tensor:
    """The inverse permutation: out[permutation[i]] = i."""
    order = np.asarray(permutation.tolist(), dtype=np.int64)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return tensor(inverse, device=permutation.device)


def _lengths_list(lengths, name: str) -> list[int]:
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise ShapeError(f"{name}: lengths must be 1-D (got shape {lengths.shape}).")
        if lengths.dtype.kind not in "iu":
            raise TypeError(
                f"{name}: lengths must be integers (got {lengths.dtype}); use lengths.long()."
            )
        return [int(n) for n in lengths.tolist()]
    values = list(lengths)
    if any(isinstance(n, float) or int(n) != n for n in values):
        raise TypeError(f"{name}: lengths must be integers (got {values}).")
    return [int(n) for n in values]


def pad_sequence(
    sequences: Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack sequences of shapes (L_i, *) into one (T, B, *) tensor, T = max L_i, filling the rest.

    Args:
        sequences: B tensors (L_i, *) with the same trailing dimensions, dtype and device.
        batch_first: return (B, T, *) instead of (T, B, *). Default: False.
        padding_value: the value of the missing steps. Default: 0.
        padding_side: 'right' (pad after each sequence) or 'left' (before). Default: 'right'.

    Returns:
        The padded batch (differentiable in every sequence).

    Example:
        >>> import deepgrad as dg
        >>> pad_sequence([dg.ones(2), dg.ones(1)], padding_value=-1.0, padding_side="left")
        tensor([[ 1., -1.],
                [ 1.,  1.]])
    """
    if padding_side not in ("right", "left"):
        raise ValueError(
            f"pad_sequence: padding_side must be 'right' or 'left' (got {padding_side!r})."
        )
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: got an empty list of sequences; pass at least one tensor.")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor) or s.ndim < 1:
            got = type(s).__name__ if not isinstance(s, Tensor) else f"shape {s.shape}"
            raise TypeError(
                f"pad_sequence: sequence {i} must be a tensor with >= 1 dimension (got {got})."
            )
        if s.shape[1:] != sequences[0].shape[1:]:
            raise ShapeError(
                "pad_sequence: every sequence needs the trailing shape "
                f"{sequences[0].shape[1:]} of "
                f"sequence 0 (sequence {i} has shape {s.shape})."
            )
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            fill = full((missing, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, fill] if padding_side == "right" else [fill, s], dim=0)
        rows.append(s)
    return stack(rows, dim=0 if batch_first else 1)


def pack_padded_sequence(
    input: Tensor,
    lengths: Tensor | Sequence[int],
    batch_first: bool = False,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Keep only the first ``lengths[b]`` steps of each sequence b of a padded batch.

    Args:
        input: (T, B, *) padded batch ((B, T, *) with ``batch_first``).
        lengths: B sequence lengths, each in 1..T (a list or a 1-D integer tensor).
        batch_first: ``input`` is (B, T, *). Default: False.
        enforce_sorted: require lengths in decreasing order (as ONNX export needs); with False,
            any order is fine and the permutation is kept in the result. Default: True.

    Returns:
        A PackedSequence (see its fields); ``data`` is differentiable in ``input``.
    """
    name = "pack_padded_sequence"
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise ShapeError(
            f"{name}: input must be a tensor (T, B, *) (got {getattr(input, 'shape', input)})."
        )
    x = input.transpose(0, 1) if batch_first else input
    steps, batch = x.shape[0], x.shape[1]
    sizes = _lengths_list(lengths, name)
    if len(sizes) != batch:
        raise ShapeError(
            f"{name}: got {len(sizes)} lengths for a batch of {batch} sequences "
            f"(input {input.shape})."
        )
    if min(sizes) <= 0 or max(sizes) > steps:
        raise ValueError(
            f"{name}: every length must be in 1..{steps} (the padded length) (got {sizes}); "
            "drop empty sequences."
        )
    order = np.argsort(-np.asarray(sizes), kind="stable")
    sorted_indices = None
    if enforce_sorted:
        if any(a < b for a, b in itertools.pairwise(sizes)):
            raise ValueError(
                f"{name}: lengths must be in decreasing order when enforce_sorted=True "
                f"(got {sizes}); "
                "sort the batch or pass enforce_sorted=False."
            )
        order = np.arange(batch)
    else:
        sorted_indices = tensor(order.astype(np.int64), device=x.device)
    sorted_sizes = np.asarray(sizes)[order]
    batch_sizes = (sorted_sizes[None, :] > np.arange(sorted_sizes[0])[:, None]).sum(axis=1)
    # row (t, k) of the packed data is x[t, order[k]]: one gather on the flattened (T * B) axis
    rows = np.concatenate([t * batch + order[:n] for t, n in enumerate(batch_sizes)])
    flat = x.reshape(steps * batch, *x.shape[2:])
    data = flat[x.xp.asarray(rows)]
    return PackedSequence(data, tensor(batch_sizes.astype(np.int64)), sorted_indices, None)


def _packed_lengths(batch_sizes: np.ndarray) -> np.ndarray:
    """Lengths in sorted order from batch sizes: length[k] = #{t : batch_sizes[t] > k}."""
    return (batch_sizes[None, :] > np.arange(batch_sizes[0])[:, None]).sum(axis=1)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The inverse of ``pack_padded_sequence``: the padded batch and lengths, in the original order.

    Args:
        sequence: a PackedSequence.
        batch_first: return (B, T, *) instead of (T, B, *). Default: False.
        padding_value: the value of the steps past each length. Default: 0.
        total_length: pad to this many steps instead of the longest length (useful to get the
            same T back as before packing). Default: None.

    Returns:
        (padded, lengths): padded is (T, B, *) (differentiable in ``sequence.data``); lengths is a
        (B,) int64 CPU tensor.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(
            f"pad_packed_sequence: expected a PackedSequence (got {type(sequence).__name__})."
        )
    data = sequence.data
    batch_sizes = np.asarray(sequence.batch_sizes.tolist(), dtype=np.int64)
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"pad_packed_sequence: total_length must be at least the longest length {steps} "
                f"(got total_length={total_length})."
            )
        steps = int(total_length)
    # where each (t, k) cell of the padded batch reads: its packed row, or a padding row at the end
    where = np.full((steps, batch), int(batch_sizes.sum()), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    for t, (offset, n) in enumerate(zip(offsets, batch_sizes)):
        where[t, :n] = offset + np.arange(n)
    fill = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = cat([data, fill], dim=0)[data.xp.asarray(where)]
    lengths = _packed_lengths(batch_sizes)
    if sequence.unsorted_indices is not None:
        padded = index_select(padded, 1, sequence.unsorted_indices)
        lengths = lengths[np.asarray(sequence.unsorted_indices.tolist(), dtype=np.int64)]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, tensor(lengths.astype(np.int64))


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack B tensors (L_i, *): ``pack_padded_sequence(pad_sequence(sequences), lengths)``.

    Example:
        >>> import deepgrad as dg
        >>> pack_sequence([dg.tensor([1, 2, 3]), dg.tensor([4, 5])]).data
        tensor([1, 4, 2, 5, 3])
    """
    sequences = list(sequences)
    lengths = [s.shape[0] if isinstance(s, Tensor) and s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(
    padded_sequences: Tensor, lengths: Tensor | Sequence[int], batch_first: bool = False
) -> list[Tensor]:
    """The inverse of ``pad_sequence``: B tensors (L_b, *), the first ``lengths[b]`` steps each."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    sizes = _lengths_list(lengths, "unpad_sequence")
    if len(sizes) != x.shape[0]:
        raise ShapeError(f"unpad_sequence: got {len(sizes)} lengths for {x.shape[0]} sequences.")
    return [x[b, :n] for b, n in enumerate(sizes)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The inverse of ``pack_sequence``: the B sequences (L_b, *), in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]
