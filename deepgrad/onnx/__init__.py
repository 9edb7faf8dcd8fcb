"""ONNX export: ``deepgrad.onnx.export(model, args, f)``, as ``torch.onnx.export``.

The model runs once on the example input; every primitive it calls is converted to ONNX nodes
(``ops_math``, ``ops_shape``), and a few layers with an ONNX operator of their own are converted
whole (``modules``: RNN, LSTM, GRU, batch norm). An operation without a conversion raises
``UnsupportedOperatorError`` naming it; ``register_converter`` adds one. Needs the ``onnx``
package (``pip install deepgrad[onnx]``); onnxruntime runs the result. See docs/onnx.md.
"""

from __future__ import annotations

from deepgrad.onnx import modules, ops_math, ops_shape
from deepgrad.onnx.export import export
from deepgrad.onnx.graph import GraphBuilder, UnsupportedOperatorError
from deepgrad.onnx.registry import register_converter

__all__ = ["GraphBuilder", "UnsupportedOperatorError", "export", "register_converter"]
