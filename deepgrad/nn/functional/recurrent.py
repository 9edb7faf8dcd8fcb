"""Recurrent networks: one step of an RNN, LSTM or GRU cell, and a whole layer over a sequence.

The equations live in ``deepgrad/ops/rnn.py``: the cells are composites that read like the
equations, and the layers are fused primitives that run the whole recurrence of one direction
(tests assert fused == composite). ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and the cell layers call
these functions.
"""

from __future__ import annotations

from deepgrad.ops.rnn import gru_cell, gru_layer, lstm_cell, lstm_layer, rnn_cell, rnn_layer

__all__ = ["rnn_cell", "lstm_cell", "gru_cell", "rnn_layer", "lstm_layer", "gru_layer"]
