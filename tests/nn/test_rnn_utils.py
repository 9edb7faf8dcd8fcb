"""nn.utils.rnn: pad/pack/unpack values, gradients, errors; recurrent layers on packed input."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.autograd import gradcheck
from deepgrad.backend import ShapeError
from deepgrad.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

RNG = np.random.default_rng(7)


def _seqs(lengths, features=(2,), dtype="float64"):
    return [RNG.standard_normal((n, *features)).astype(dtype) for n in lengths]


def _naive_pad(arrays, batch_first, value, side, longest=None):
    """The padded batch built one cell at a time (the reference)."""
    longest = longest or max(len(a) for a in arrays)
    out = np.full((len(arrays), longest, *arrays[0].shape[1:]), value)
    for b, a in enumerate(arrays):
        if side == "right":
            out[b, : len(a)] = a
        else:
            out[b, longest - len(a) :] = a
    return out if batch_first else out.swapaxes(0, 1)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_a_cell_by_cell_reference(batch_first, side):
    arrays = _seqs([3, 1, 4], features=(2, 2))
    padded = pad_sequence([dg.tensor(a) for a in arrays], batch_first, -1.5, side)
    np.testing.assert_array_equal(padded.numpy(), _naive_pad(arrays, batch_first, -1.5, side))


def test_pack_padded_sequence_keeps_real_steps_time_major():
    arrays = _seqs([2, 4, 3], features=())
    packed = pack_padded_sequence(
        dg.tensor(_naive_pad(arrays, False, 0.0, "right")), [2, 4, 3], enforce_sorted=False
    )
    assert packed.batch_sizes.tolist() == [3, 3, 2, 1]
    assert packed.sorted_indices.tolist() == [1, 2, 0]
    assert packed.unsorted_indices.tolist() == [2, 0, 1]
    expected = [arrays[b][t] for t in range(4) for b in (1, 2, 0) if t < len(arrays[b])]
    np.testing.assert_array_equal(packed.data.numpy(), expected)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pad_packed_sequence_inverts_packing(batch_first, enforce_sorted):
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    arrays = _seqs(lengths)
    padded = dg.tensor(_naive_pad(arrays, batch_first, 0.0, "right"))
    packed = pack_padded_sequence(padded, dg.tensor(lengths), batch_first, enforce_sorted)
    back, got_lengths = pad_packed_sequence(packed, batch_first, padding_value=0.0)
    np.testing.assert_array_equal(back.numpy(), padded.numpy())
    assert got_lengths.tolist() == lengths and got_lengths.dtype == dg.int64
    longer, _ = pad_packed_sequence(packed, batch_first, padding_value=9.0, total_length=7)
    assert longer.shape[1 if batch_first else 0] == 7
    np.testing.assert_array_equal(
        longer.numpy(), _naive_pad(arrays, batch_first, 9.0, "right", longest=7)
    )


def test_pack_sequence_unpack_sequence_and_unpad_sequence_round_trip():
    arrays = _seqs([2, 5, 1])
    tensors = [dg.tensor(a) for a in arrays]
    for got in (
        unpack_sequence(pack_sequence(tensors, enforce_sorted=False)),
        unpad_sequence(pad_sequence(tensors), [2, 5, 1]),
    ):
        assert [g.shape for g in got] == [(2, 2), (5, 2), (1, 2)]
        for g, a in zip(got, arrays):
            np.testing.assert_array_equal(g.numpy(), a)


def test_packing_and_padding_are_differentiable():
    arrays = [dg.tensor(a, requires_grad=True) for a in _seqs([3, 1, 2])]
    weights = dg.tensor(RNG.standard_normal((3, 3, 2)))

    def padded_then_packed(*xs):
        packed = pack_padded_sequence(pad_sequence(list(xs)), [3, 1, 2], enforce_sorted=False)
        back, _ = pad_packed_sequence(packed, padding_value=2.0)
        return (back * weights).sum() + (packed.data**2).sum()

    assert gradcheck(padded_then_packed, tuple(arrays))


def test_packed_sequence_fields_and_to():
    packed = pack_sequence([dg.ones(3, 2), dg.ones(1, 2)])
    assert isinstance(packed, tuple) and packed._fields == (
        "data",
        "batch_sizes",
        "sorted_indices",
        "unsorted_indices",
    )
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    assert packed.double().data.dtype == dg.float64
    assert packed.to(dg.float32) is packed
    rebuilt = PackedSequence(packed.data, packed.batch_sizes, dg.tensor([1, 0]))
    assert rebuilt.unsorted_indices.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: pad_sequence([]), ValueError, "empty list"),
        (lambda: pad_sequence([dg.ones(2, 3), dg.ones(2, 4)]), ShapeError, "trailing shape"),
        (lambda: pad_sequence([dg.ones(2)], padding_side="middle"), ValueError, "padding_side"),
        (lambda: pack_padded_sequence(dg.ones(3, 2), [1, 3]), ValueError, "decreasing order"),
        (lambda: pack_padded_sequence(dg.ones(3, 2), [3, 0]), ValueError, "1..3"),
        (lambda: pack_padded_sequence(dg.ones(3, 2), [4, 1]), ValueError, "1..3"),
        (lambda: pack_padded_sequence(dg.ones(3, 2), [3]), ShapeError, "1 lengths"),
        (lambda: pack_padded_sequence(dg.ones(3, 2), [2.5, 1]), TypeError, "integers"),
        (
            lambda: pad_packed_sequence(pack_sequence([dg.ones(3)]), total_length=2),
            ValueError,
            "total_length",
        ),
        (lambda: pad_packed_sequence(dg.ones(3)), TypeError, "PackedSequence"),
        (lambda: PackedSequence(dg.ones(3)), TypeError, "batch_sizes"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


# -- recurrent layers on packed input ---------------------------------------------------------
@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_input_equals_running_each_sequence_alone(cls, bidirectional):
    dg.manual_seed(0)
    layer = cls(2, 3, num_layers=2, bidirectional=bidirectional, batch_first=True, dtype=dg.float64)
    lengths = [2, 4, 1, 4]
    arrays = _seqs(lengths)
    packed = pack_padded_sequence(
        dg.tensor(_naive_pad(arrays, True, 5.0, "right")), lengths, True, False
    )
    output, state = layer(packed)
    padded, _ = pad_packed_sequence(output, batch_first=True)
    h_n = state[0] if cls is nn.LSTM else state
    for b, a in enumerate(arrays):
        alone, alone_state = layer(dg.tensor(a[None]))
        alone_h = alone_state[0] if cls is nn.LSTM else alone_state
        np.testing.assert_allclose(
            padded[b, : len(a)].detach().numpy(), alone[0].detach().numpy(), atol=1e-12
        )
        np.testing.assert_array_equal(padded[b, len(a) :].detach().numpy(), 0.0)
        np.testing.assert_allclose(
            h_n[:, b].detach().numpy(), alone_h[:, 0].detach().numpy(), atol=1e-12
        )


def test_lstm_on_packed_input_is_differentiable():
    dg.manual_seed(1)
    layer = nn.LSTM(2, 2, bidirectional=True, dtype=dg.float64)
    x = dg.tensor(_naive_pad(_seqs([3, 1, 2]), False, 0.0, "right"), requires_grad=True)
    h0 = dg.tensor(RNG.standard_normal((2, 3, 2)), requires_grad=True)

    def run(x, h0):
        output, (h_n, c_n) = layer(
            pack_padded_sequence(x, [3, 1, 2], enforce_sorted=False), (h0, h0 * 0.5)
        )
        return output.data.sum() + (h_n * c_n).sum()

    assert gradcheck(run, (x, h0))


def test_packed_input_with_a_wrong_feature_size_raises():
    with pytest.raises(ShapeError, match="PackedSequence"):
        nn.GRU(3, 2)(pack_sequence([dg.ones(2, 4)]))


# -- PyTorch parity ---------------------------------------------------------------------------
@pytest.mark.parity
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_and_pack_match_torch(batch_first):
    torch = pytest.importorskip("torch")
    trnn = torch.nn.utils.rnn
    arrays = _seqs([2, 5, 3, 5], dtype="float32")
    ours = pad_sequence([dg.tensor(a) for a in arrays], batch_first, 0.5, "left")
    theirs = trnn.pad_sequence([torch.tensor(a) for a in arrays], batch_first, 0.5, "left")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    ours_p = pack_padded_sequence(ours, [2, 5, 3, 5], batch_first, enforce_sorted=False)
    theirs_p = trnn.pack_padded_sequence(theirs, [2, 5, 3, 5], batch_first, enforce_sorted=False)
    for mine, other in zip(ours_p, theirs_p):
        np.testing.assert_array_equal(mine.numpy(), other.numpy())
    back, lengths = pad_packed_sequence(ours_p, batch_first, -1.0, total_length=6)
    back_t, lengths_t = trnn.pad_packed_sequence(theirs_p, batch_first, -1.0, total_length=6)
    np.testing.assert_array_equal(back.numpy(), back_t.numpy())
    assert lengths.tolist() == lengths_t.tolist()


@pytest.mark.parity
@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layers_on_packed_input_match_torch(name, bidirectional):
    torch = pytest.importorskip("torch")
    trnn = torch.nn.utils.rnn
    dg.manual_seed(3)
    ours = getattr(nn, name)(3, 4, num_layers=2, bidirectional=bidirectional)
    theirs = getattr(torch.nn, name)(3, 4, num_layers=2, bidirectional=bidirectional)
    with torch.no_grad():
        for key, p in theirs.named_parameters():
            p.copy_(torch.tensor(getattr(ours, key).detach().numpy()))
    lengths = [3, 5, 1, 5]
    x = RNG.standard_normal((5, 4, 3)).astype("float32")
    h0 = RNG.standard_normal(((2 if bidirectional else 1) * 2, 4, 4)).astype("float32")
    hx_ours = (dg.tensor(h0), dg.tensor(h0 / 2)) if name == "LSTM" else dg.tensor(h0)
    hx_theirs = (torch.tensor(h0), torch.tensor(h0 / 2)) if name == "LSTM" else torch.tensor(h0)
    out, state = ours(pack_padded_sequence(dg.tensor(x), lengths, enforce_sorted=False), hx_ours)
    out_t, state_t = theirs(
        trnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False), hx_theirs
    )
    assert isinstance(out, PackedSequence)
    np.testing.assert_allclose(out.data.detach().numpy(), out_t.data.detach().numpy(), atol=1e-5)
    states = state if name == "LSTM" else (state,)
    states_t = state_t if name == "LSTM" else (state_t,)
    for s, st in zip(states, states_t):
        np.testing.assert_allclose(s.detach().numpy(), st.detach().numpy(), atol=1e-5)
