"""Recurrent layers: RNN, LSTM, GRU (whole sequences, fused per layer) and RNNCell, LSTMCell, GRUCell (one step).

The equations are in ``deepgrad/ops/rnn.py``: the cells there are the op-by-op reference, and each
layer and direction of RNN/LSTM/GRU runs as one fused primitive (tests assert the two agree; both
are differentiable to any order). The layers here call them as ``F.rnn_layer``, ``F.lstm_cell``,
... (``deepgrad/nn/functional/recurrent.py``).
"""

from __future__ import annotations

import math

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DTypeError, ShapeError
from deepgrad.backend.validation import one_of, positive_int, probability
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.module import Module
from deepgrad.nn.parameter import Parameter
from deepgrad.nn.utils.rnn import PackedSequence, pad_packed_sequence
from deepgrad.ops.composite import stack
from deepgrad.ops.creation import empty, tensor, zeros
from deepgrad.ops.shape import cat

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _reset_uniform(module: Module, hidden_size: int) -> None:
    """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (PyTorch's default)."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


class RNNBase(Module):
    """Shared parameters and the layer loop of RNN, LSTM and GRU (see those classes)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        positive_int(input_size, "input_size", name)
        positive_int(hidden_size, "hidden_size", name)
        positive_int(num_layers, "num_layers", name)
        fix = "it is the dropout probability between stacked layers; 0 turns it off"
        probability(dropout, "dropout", name, closed=True, fix=fix)
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = (
            bool(bias),
            bool(batch_first),
            bool(bidirectional),
        )
        self.dropout = float(dropout)
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = [
                    ("weight_ih", (gate_size, layer_input)),
                    ("weight_hh", (gate_size, hidden_size)),
                ]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                for kind, shape in shapes:
                    param_name = f"{kind}_l{layer}{suffix}"
                    setattr(self, param_name, Parameter(empty(*shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(param_name)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _reset_uniform(self, self.hidden_size)

    @property
    def all_weights(self) -> list:
        """Per layer and direction: [weight_ih, weight_hh, bias_ih, bias_hh] (biases only with bias=True)."""
        per = 4 if self.bias else 2
        flat = [getattr(self, n) for n in self._flat_weights_names]
        return [flat[i : i + per] for i in range(0, len(flat), per)]

    def _layer_params(self, layer: int, suffix: str) -> tuple:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer and direction (biases None without bias)."""
        names = (
            ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            if self.bias
            else ("weight_ih", "weight_hh")
        )
        params = tuple(getattr(self, f"{kind}_l{layer}{suffix}") for kind in names)
        return params if self.bias else params + (None, None)

    def _check_input(self, input: Tensor) -> tuple[Tensor, bool]:
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor (got {type(input).__name__})")
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            layout = "(B, T, input_size)" if self.batch_first else "(T, B, input_size)"
            raise ShapeError(
                f"{name}: input must be {layout} or (T, input_size) with input_size={self.input_size} "
                f"(got shape {input.shape})"
            )
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype:
            raise DTypeError(
                f"{name}: input is {input.dtype} but the parameters are {weight.dtype}; convert one "
                "(input.to(dtype) or module.to(dtype))."
            )
        unbatched = input.ndim == 2
        if unbatched:
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
        return x, unbatched

    def _initial_state(self, state: Tensor | None, x: Tensor, unbatched: bool, what: str) -> Tensor:
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, x.shape[1], self.hidden_size)
        if state is None:
            return zeros(*expected, dtype=x.dtype, device=x.device)
        if not isinstance(state, Tensor):
            raise TypeError(
                f"{type(self).__name__}: {what} must be a Tensor (got {type(state).__name__})"
            )
        if unbatched:
            if state.ndim != 2:
                raise ShapeError(
                    f"{type(self).__name__}: for unbatched input {what} must be 2-D {(expected[0], expected[2])} "
                    f"(got {state.shape})"
                )
            state = state.unsqueeze(1)
        if state.shape != expected:
            raise ShapeError(
                f"{type(self).__name__}: {what} must have shape (num_layers * num_directions, batch, hidden_size) "
                f"= {expected} (got {state.shape})"
            )
        return state

    def _run(self, x: Tensor, states: list, layer_fn) -> tuple[Tensor, list]:
        """The layer loop: each layer (and direction) runs as one fused primitive over the sequence.

        ``states`` holds the initial state tensors (h0, or h0 and c0), each (L * D, B, H); returns
        the top layer's output (T, B, D * H) and the final states stacked like ``states``.
        """
        directions = 2 if self.bidirectional else 1
        finals = [[] for _ in states]
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(("", "_reverse")[:directions]):
                index = layer * directions + direction
                out, last = layer_fn(
                    x, [s[index] for s in states], self._layer_params(layer, suffix), direction == 1
                )
                outputs.append(out)
                for kept, value in zip(finals, last):
                    kept.append(value)
            x = outputs[0] if directions == 1 else cat(outputs, dim=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, [stack(kept, dim=0) for kept in finals]

    def _unpack(self, packed: PackedSequence) -> tuple[Tensor, list[int]]:
        """A PackedSequence input -> its padded (T, B, F) batch and lengths, in the original order."""
        data, dtype = packed.data, self.weight_ih_l0.dtype
        if data.ndim != 2 or data.shape[-1] != self.input_size or data.dtype != dtype:
            raise ShapeError(
                f"{type(self).__name__}: a PackedSequence input needs data of shape "
                f"(N, {self.input_size}) and dtype {dtype} (got {data.shape}, {data.dtype})"
            )
        padded, lengths = pad_packed_sequence(packed)
        return padded, [int(n) for n in lengths.tolist()]

    def _run_packed(
        self, packed: PackedSequence, x: Tensor, lengths: list[int], states: list, layer_fn
    ) -> tuple[PackedSequence, list]:
        """``_run`` on sequences of different lengths: each group of equal length runs on its own.

        So every sequence stops at its own last step (its final state is the state there, the
        reverse direction starts there), which is what PyTorch computes on packed input. Returns
        the output as a PackedSequence laid out like ``packed`` and the final states (batch in the
        original order).
        """
        groups = {}
        for b, n in enumerate(lengths):
            groups.setdefault(n, []).append(b)
        pieces, finals, slot = [], [[] for _ in states], {}
        offset, batch_order = 0, []
        for n, members in groups.items():
            index = tensor(members, device=x.device)
            group_states = [s.index_select(1, index) for s in states]
            out, last = self._run(x[:n].index_select(1, index), group_states, layer_fn)
            pieces.append(out.reshape(n * len(members), out.shape[-1]))
            for j, b in enumerate(members):
                slot[b] = (offset, j, len(members))
            offset += n * len(members)
            batch_order += members
            for kept, value in zip(finals, last):
                kept.append(value)
        # packed row (t, k) is step t of the k-th longest sequence; find it in its group's output
        order = packed.sorted_indices
        sorted_batch = list(range(len(lengths))) if order is None else order.tolist()
        rows = [
            slot[b][0] + t * slot[b][2] + slot[b][1]
            for t, size in enumerate(packed.batch_sizes.tolist())
            for b in sorted_batch[:size]
        ]
        flat = cat(pieces, dim=0)
        data = flat[flat.xp.asarray(rows)]
        restore = tensor(np.argsort(batch_order), device=x.device)
        finals = [cat(kept, dim=1).index_select(1, restore) for kept in finals]
        output = PackedSequence(data, packed.batch_sizes, order, packed.unsorted_indices)
        return output, finals

    def _forward(self, input, hx: list, what: list[str], layer_fn) -> tuple:
        """The stack on a padded tensor or a PackedSequence; ``hx``: the initial states or Nones."""
        if isinstance(input, PackedSequence):
            x, lengths = self._unpack(input)
            states = [self._initial_state(h, x, False, w) for h, w in zip(hx, what)]
            return self._run_packed(input, x, lengths, states, layer_fn)
        x, unbatched = self._check_input(input)
        states = [self._initial_state(h, x, unbatched, w) for h, w in zip(hx, what)]
        return self._finish(*self._run(x, states, layer_fn), unbatched)

    def _finish(self, output: Tensor, finals: list, unbatched: bool) -> tuple:
        if unbatched:
            return output.squeeze(1), [f.squeeze(1) for f in finals]
        return (output.transpose(0, 1) if self.batch_first else output), finals

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman recurrent network: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu,
    stacked num_layers deep (each layer reads the previous layer's h_t).

    Args:
        input_size: features of x_t.
        hidden_size: features of h_t.
        num_layers: stacked layers. Default: 1.
        nonlinearity: 'tanh' or 'relu'. Default: 'tanh'.
        bias: learn b_ih and b_hh. Default: True.
        batch_first: input and output are (B, T, F) instead of (T, B, F). Default: False.
        dropout: dropout probability on the outputs of every layer but the last, in training. Default: 0.
        bidirectional: add a layer running backwards in time; outputs are concatenated. Default: False.
        device, dtype: where and in which float type the parameters are made.

    Inputs: input, h0
        input: (T, B, input_size) ((B, T, input_size) with batch_first), (T, input_size) unbatched,
            or a PackedSequence (``nn.utils.rnn.pack_padded_sequence``): then each sequence stops at
            its own length (h_n is its state there) and ``output`` is a PackedSequence too.
        h0: (num_layers * num_directions, B, hidden_size); zeros when omitted.

    Outputs: output, h_n
        output: (T, B, num_directions * hidden_size), the top layer's h_t for every t.
        h_n: (num_layers * num_directions, B, hidden_size), the last state of every layer and direction.

    Parameters:
        weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (and ..._reverse): shapes
        (hidden_size, input_size or num_directions * hidden_size), (hidden_size, hidden_size), (hidden_size,),
        all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Example:
        >>> import deepgrad as dg
        >>> rnn = RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(dg.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        one_of(nonlinearity, ("tanh", "relu"), "nonlinearity", "RNN")
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None) -> tuple:
        def layer(x, state, params, reverse):
            out, h = F.rnn_layer(
                x, state[0], *params, nonlinearity=self.nonlinearity, reverse=reverse
            )
            return out, (h,)

        output, (h_n,) = self._forward(input, [hx], ["hx"], layer)
        return output, h_n

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), stacked num_layers deep:

        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh (quarters)
        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype:
            as in RNN.

    Inputs: input, (h0, c0)
        input: (T, B, input_size) ((B, T, input_size) with batch_first), (T, input_size) unbatched,
            or a PackedSequence (as in RNN).
        h0, c0: each (num_layers * num_directions, B, hidden_size); zeros when omitted.

    Outputs: output, (h_n, c_n)
        output: (T, B, num_directions * hidden_size).
        h_n, c_n: (num_layers * num_directions, B, hidden_size).

    Parameters:
        weight_ih_l{k} (4 hidden_size, input features), weight_hh_l{k} (4 hidden_size, hidden_size),
        bias_ih_l{k}, bias_hh_l{k} (4 hidden_size,), gate order i, f, g, o, and ..._reverse;
        all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Example:
        >>> import deepgrad as dg
        >>> lstm = LSTM(10, 20, batch_first=True, bidirectional=True)
        >>> output, (h_n, c_n) = lstm(dg.randn(3, 5, 10))
        >>> output.shape, h_n.shape
        ((3, 5, 40), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Tensor | PackedSequence, hx: tuple | None = None) -> tuple:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTM: hx must be a tuple (h0, c0) or None")

        def layer(x, state, params, reverse):
            out, (h, c) = F.lstm_layer(x, (state[0], state[1]), *params, reverse=reverse)
            return out, (h, c)

        output, (h_n, c_n) = self._forward(input, list(hx or (None, None)), ["h0", "c0"], layer)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al., 2014), stacked num_layers deep:

        r, z = sigmoid(x_t W_i{r,z}^T + b_i{r,z} + h_{t-1} W_h{r,z}^T + b_h{r,z})
        n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype:
            as in RNN.

    Inputs: input, h0 (as in RNN).   Outputs: output, h_n (as in RNN).

    Parameters:
        weight_ih_l{k} (3 hidden_size, input features), weight_hh_l{k} (3 hidden_size, hidden_size),
        bias_ih_l{k}, bias_hh_l{k} (3 hidden_size,), gate order r, z, n, and ..._reverse;
        all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Example:
        >>> import deepgrad as dg
        >>> output, h_n = GRU(10, 20, num_layers=2)(dg.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None) -> tuple:
        def layer(x, state, params, reverse):
            out, h = F.gru_layer(x, state[0], *params, reverse=reverse)
            return out, (h,)

        output, (h_n,) = self._forward(input, [hx], ["hx"], layer)
        return output, h_n


# -- cells -----------------------------------------------------------------------------------------
class _CellBase(Module):
    _gates = 1

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        name = type(self).__name__
        positive_int(input_size, "input_size", name)
        positive_int(hidden_size, "hidden_size", name)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        gate_size = self._gates * hidden_size
        self.weight_ih = Parameter(empty(gate_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(empty(gate_size, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(gate_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(gate_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _reset_uniform(self, self.hidden_size)

    def _check(self, input: Tensor) -> tuple:
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor (got {type(input).__name__})")
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ShapeError(
                f"{name}: input must be (B, input_size) or (input_size,) with input_size={self.input_size} "
                f"(got shape {input.shape})"
            )
        if input.dtype != self.weight_ih.dtype:
            raise DTypeError(
                f"{name}: input is {input.dtype} but the parameters are {self.weight_ih.dtype}"
            )
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        return x, unbatched

    def _state(self, state, x: Tensor, unbatched: bool, what: str) -> Tensor:
        expected = (x.shape[0], self.hidden_size)
        if state is None:
            return zeros(*expected, dtype=x.dtype, device=x.device)
        if unbatched:
            state = state.unsqueeze(0)
        if state.shape != expected:
            raise ShapeError(
                f"{type(self).__name__}: {what} must have shape {expected[1:] if unbatched else expected} "
                f"(got {state.shape[1:] if unbatched else state.shape})"
            )
        return state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """One Elman RNN step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu.

    Args:
        input_size, hidden_size: features of x and h.
        bias: learn b_ih, b_hh. Default: True.
        nonlinearity: 'tanh' or 'relu'. Default: 'tanh'.

    Shape:
        input (B, input_size) or (input_size,), hx (B, hidden_size) (zeros when omitted) -> h' (B, hidden_size).

    Parameters:
        weight_ih (hidden, input), weight_hh (hidden, hidden), bias_ih, bias_hh (hidden,),
        all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Example:
        >>> import deepgrad as dg
        >>> RNNCell(4, 8)(dg.randn(3, 4)).shape
        (3, 8)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        one_of(nonlinearity, ("tanh", "relu"), "nonlinearity", "RNNCell")
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, unbatched = self._check(input)
        h = self._state(hx, x, unbatched, "hx")
        out = F.rnn_cell(
            x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity
        )
        return out.squeeze(0) if unbatched else out


class LSTMCell(_CellBase):
    """One LSTM step (gate order i, f, g, o):

        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the quarters of x W_ih^T + b_ih + h W_hh^T + b_hh
        c' = f * c + i * g,   h' = o * tanh(c')

    Shape:
        input (B, input_size) or (input_size,), hx = (h, c) each (B, hidden_size) (zeros when omitted)
        -> (h', c').

    Parameters:
        weight_ih (4 hidden, input), weight_hh (4 hidden, hidden), bias_ih, bias_hh (4 hidden,),
        all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Example:
        >>> import deepgrad as dg
        >>> h, c = LSTMCell(4, 8)(dg.randn(3, 4))
        >>> h.shape, c.shape
        ((3, 8), (3, 8))
    """

    _gates = 4

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        x, unbatched = self._check(input)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTMCell: hx must be a tuple (h, c) or None")
        h = self._state(None if hx is None else hx[0], x, unbatched, "h")
        c = self._state(None if hx is None else hx[1], x, unbatched, "c")
        h, c = F.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    """One GRU step (gate order r, z, n):

        r, z = sigmoid(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z})
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),   h' = (1 - z) * n + z * h

    Shape:
        input (B, input_size) or (input_size,), hx (B, hidden_size) (zeros when omitted) -> h'.

    Parameters:
        weight_ih (3 hidden, input), weight_hh (3 hidden, hidden), bias_ih, bias_hh (3 hidden,),
        all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Example:
        >>> import deepgrad as dg
        >>> GRUCell(4, 8)(dg.randn(3, 4)).shape
        (3, 8)
    """

    _gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, unbatched = self._check(input)
        h = self._state(hx, x, unbatched, "hx")
        out = F.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out.squeeze(0) if unbatched else out


__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell"]
