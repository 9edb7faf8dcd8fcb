"""Export a model, run it in onnxruntime and compare with deepgrad (shared by the ONNX tests)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import deepgrad as dg
from deepgrad.onnx import export


def run_onnx(proto, feeds: dict) -> list[np.ndarray]:
    """The outputs of the ONNX model ``proto`` on ``feeds`` (name -> array), in onnxruntime."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return session.run(None, feeds)


def _outputs(result) -> list[np.ndarray]:
    """The arrays of a (nested) tuple of Tensors, depth first, as the export flattens them."""
    if isinstance(result, dg.Tensor):
        return [result.detach().numpy()]
    return [a for item in result for a in _outputs(item)]


def check_export(model, *examples, dynamic: bool = True, atol: float = 1e-5, opset: int = 17):
    """Export ``model`` on ``examples[0]`` (a tuple of inputs) and compare on every example.

    With ``dynamic`` the batch axis (0) of every input and output is dynamic, and the later
    examples (other batch sizes) check that nothing kept the traced batch size. Returns the proto.
    """
    first = examples[0]
    model.eval()
    with dg.no_grad():
        expected_first = _outputs(model(*first))
    names = [f"input_{i}" for i in range(len(_outputs(first)))]
    outputs = [f"output_{i}" for i in range(len(expected_first))]
    axes = {n: [0] for n in names + outputs} if dynamic else None
    proto = export(model, first, dynamic_axes=axes, opset_version=opset)
    onnx.checker.check_model(proto, full_check=True)
    for inputs in examples:
        with dg.no_grad():
            expected = _outputs(model(*inputs))
        got = run_onnx(proto, dict(zip(names, _outputs(inputs))))
        assert len(got) == len(expected)
        for e, g in zip(expected, got):
            assert e.shape == g.shape
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=atol)
    return proto


def op_types(proto) -> list[str]:
    """The operator of every node of the graph, in order."""
    return [n.op_type for n in proto.graph.node]
