"""Module converters: layers that ONNX has one operator for.

- ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` -> ONNX ``RNN``, ``LSTM``, ``GRU``, one node per layer (both
  directions in one node). deepgrad runs the input projection as a MatMul and the recurrence as a
  fused primitive that takes no input weights, and makes the zero initial state with the traced
  batch size; converting the module keeps the weights in ONNX's layout and the batch dynamic.
  ONNX orders the gates differently from PyTorch (and deepgrad): LSTM i, o, f, c (PyTorch i, f,
  g, o) and GRU z, r, h (PyTorch r, z, n); the weight rows are reordered here. GRU uses
  ``linear_before_reset=1``, which is PyTorch's formula n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
- ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` in evaluation mode with running statistics ->
  ``BatchNormalization`` (the running statistics stay initializers under their own names).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.nn.normalization import BatchNorm1d, BatchNorm2d
from deepgrad.nn.rnn import GRU, LSTM, RNN, RNNBase
from deepgrad.nn.utils.rnn import PackedSequence
from deepgrad.onnx.graph import GraphBuilder, _as_numpy, unsupported
from deepgrad.onnx.registry import register_converter

# ONNX's gate blocks, as indices of deepgrad's (= PyTorch's) blocks
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}


def _reorder(array: Any, op: str, hidden: int) -> np.ndarray:
    host = _as_numpy(array)
    order = _GATE_ORDER.get(op)
    if order is None:
        return host
    return np.concatenate([host[k * hidden : (k + 1) * hidden] for k in order], axis=0)


def _layer_weights(g: GraphBuilder, module: RNNBase, op: str, layer: int) -> list[str]:
    """W, R and B of one layer, all directions stacked, in ONNX's gate order."""
    hidden, directions = module.hidden_size, 2 if module.bidirectional else 1
    per_direction = [module._layer_params(layer, ("", "_reverse")[d]) for d in range(directions)]
    w = np.stack([_reorder(p[0]._data, op, hidden) for p in per_direction])
    r = np.stack([_reorder(p[1]._data, op, hidden) for p in per_direction])
    names = [g.constant(w, f"{op}_l{layer}_W"), g.constant(r, f"{op}_l{layer}_R")]
    if module.bias:
        b = np.stack(
            [
                np.concatenate([_reorder(p[2]._data, op, hidden), _reorder(p[3]._data, op, hidden)])
                for p in per_direction
            ]
        )
        names.append(g.constant(b, f"{op}_l{layer}_B"))
    return names


def _initial(
    g: GraphBuilder, state: Tensor | None, layer: int, directions: int, unbatched: bool
) -> str:
    """The initial state rows of one layer, or "" (ONNX: zeros) when the model passed none."""
    if state is None:
        return ""
    name = g.value(state)
    if unbatched:
        name = g.unsqueeze(name, [1])
    start, end = g.ints([layer * directions]), g.ints([(layer + 1) * directions])
    return g.node("Slice", [name, start, end, g.ints([0])])


def _states(args: tuple, kwargs: dict, op: str) -> list[Tensor | None]:
    hx = args[1] if len(args) > 1 else kwargs.get("hx")
    if op != "LSTM":
        return [hx]
    return [None, None] if hx is None else list(hx)


def _rnn_attributes(module: RNNBase, op: str) -> dict[str, Any]:
    directions = 2 if module.bidirectional else 1
    attributes: dict[str, Any] = {
        "hidden_size": module.hidden_size,
        "direction": "bidirectional" if module.bidirectional else "forward",
    }
    if op == "RNN":
        attributes["activations"] = [
            "Tanh" if module.nonlinearity == "tanh" else "Relu"
        ] * directions
    if op == "GRU":
        attributes["linear_before_reset"] = 1
    return attributes


def _convert_rnn(g: GraphBuilder, module: RNNBase, args: tuple, kwargs: dict, output: Any) -> None:
    op = type(module).__name__
    x_tensor = args[0] if args else kwargs["input"]
    unbatched = x_tensor.ndim == 2
    x = g.value(x_tensor)
    x = (
        g.unsqueeze(x, [1])
        if unbatched
        else g.transpose(x, [1, 0, 2] if module.batch_first else [0, 1, 2])
    )
    directions = 2 if module.bidirectional else 1
    states = _states(args, kwargs, op)
    finals: list[list[str]] = [[] for _ in states]
    for layer in range(module.num_layers):
        inputs = [x, *_layer_weights(g, module, op, layer)]
        inputs += [""] * (4 - len(inputs)) + [""]  # no B: zeros; sequence_lens: all full
        inputs += [_initial(g, s, layer, directions, unbatched) for s in states]
        while inputs[-1] == "":
            inputs.pop()
        y, *last = g.node_multi(op, inputs, 1 + len(states), **_rnn_attributes(module, op))
        # Y is (T, D, B, H): bring the directions next to the features, (T, B, D * H)
        x = g.node("Reshape", [g.transpose(y, [0, 2, 1, 3]), g.ints([0, 0, -1])])
        for kept, value in zip(finals, last):
            kept.append(value)
    out = (
        g.squeeze(x, [1])
        if unbatched
        else g.transpose(x, [1, 0, 2] if module.batch_first else [0, 1, 2])
    )
    result, state_tensors = output[0], output[1]
    g.bind(result._data, out)
    state_tensors = list(state_tensors) if op == "LSTM" else [state_tensors]
    for tensor, kept in zip(state_tensors, finals):
        stacked = kept[0] if len(kept) == 1 else g.node("Concat", kept, axis=0)
        g.bind(tensor._data, g.squeeze(stacked, [1]) if unbatched else stacked)


def _accepts_rnn(module: RNNBase, args: tuple, kwargs: dict) -> bool:
    x = args[0] if args else kwargs.get("input")
    if isinstance(x, PackedSequence):
        raise unsupported(
            f"{type(module).__name__} on a PackedSequence",
            "sequences of different lengths",
            "export the model on a padded batch of equal-length sequences",
        )
    return True


for _cls in (RNN, LSTM, GRU):
    register_converter(_cls, accepts=_accepts_rnn)(_convert_rnn)


def _accepts_batch_norm(module: Any, args: tuple, kwargs: dict) -> bool:
    return not module.training and module.running_mean is not None


def _convert_batch_norm(
    g: GraphBuilder, module: Any, args: tuple, kwargs: dict, output: Tensor
) -> None:
    x = args[0] if args else kwargs["input"]
    dtype, count = output.dtype, module.num_features
    scale = (
        g.value(module.weight) if module.weight is not None else g.constant(np.ones(count, dtype))
    )
    shift = g.value(module.bias) if module.bias is not None else g.constant(np.zeros(count, dtype))
    mean, var = g.value(module.running_mean, dtype), g.value(module.running_var, dtype)
    y = g.node("BatchNormalization", [g.value(x), scale, shift, mean, var], epsilon=module.eps)
    g.bind(output._data, y)


for _norm in (BatchNorm1d, BatchNorm2d):
    register_converter(_norm, accepts=_accepts_batch_norm)(_convert_batch_norm)
