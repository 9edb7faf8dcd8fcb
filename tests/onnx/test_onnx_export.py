"""deepgrad.onnx.export itself: tensor ops of custom forwards, files, opsets, errors."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from onnx_helpers import check_export, onnx, op_types, run_onnx

import deepgrad as dg
from deepgrad import nn
from deepgrad.autograd.function import Function
from deepgrad.onnx import UnsupportedOperatorError, export, register_converter
from deepgrad.onnx.registry import PRIMITIVES


class TensorOps(nn.Module):
    """A custom forward using the tensor operations directly (no layers but one Linear)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.scale = nn.Parameter(dg.randn(4))

    def forward(self, x, y):
        h = self.proj(x) * self.scale - y / 2.0 + 1.0
        h = dg.where(h > 0, h, h.exp() - 1.0).clamp(-2.0, 3.0) ** 2
        g = dg.cat([h, x.abs().sqrt(), (x * x + 1).log()], dim=1)  # (B, 12)
        s = g.reshape(g.shape[0], 3, 4).permute(0, 2, 1)  # (B, 4, 3)
        m = s @ dg.ones(3, 2) + s.sum(dim=-1, keepdim=True) - s.mean(dim=(1, 2), keepdim=True)
        m = m + dg.einsum("bij->bj", s)[:, None, :2].expand(m.shape)
        top = m.max(dim=1).values + m.amin(dim=-1).sum(dim=1, keepdim=True)
        return dg.softmax(top, dim=-1), m[:, 1:3, -1], dg.cumsum(x, dim=1), x.argmax(dim=1)


def test_tensor_operations_of_a_custom_forward():
    dg.manual_seed(0)
    examples = [(dg.randn(3, 4), dg.randn(3, 4)), (dg.randn(5, 4), dg.randn(5, 4))]
    proto = check_export(TensorOps(), *examples)
    for op in ("Concat", "Einsum", "Expand", "ReduceMax", "ArgMax", "CumSum", "Where", "Clip"):
        assert op in op_types(proto)


def test_parameters_keep_their_state_dict_names():
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    proto = export(net, dg.randn(2, 3))
    names = {t.name for t in proto.graph.initializer}
    assert set(net.state_dict()) <= names
    tensor = {t.name: t for t in proto.graph.initializer}["2.weight"]
    np.testing.assert_array_equal(
        onnx.numpy_helper.to_array(tensor), net[2].weight.detach().numpy()
    )


def test_writes_a_path_and_a_file_object(tmp_path):
    net = nn.Linear(3, 2)
    path = tmp_path / "net.onnx"
    proto = export(net, dg.randn(1, 3), path, input_names=["x"], output_names=["y"])
    assert os.listdir(tmp_path) == ["net.onnx"]  # no temporary file left
    loaded = onnx.load(path)
    assert loaded == proto
    assert [i.name for i in loaded.graph.input] == ["x"]
    buffer = io.BytesIO()
    export(net, dg.randn(1, 3), buffer)
    assert onnx.load_from_string(buffer.getvalue()).graph.node[0].op_type == "Gemm"


def test_dynamic_axes_are_named_in_the_graph():
    proto = export(
        nn.Linear(3, 2),
        dg.randn(2, 3),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": [0]},
    )
    x_dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert x_dims[0].dim_param == "batch" and x_dims[1].dim_value == 3
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "y_dynamic_axes_0"
    out = run_onnx(proto, {"x": np.ones((7, 3), np.float32)})[0]
    assert out.shape == (7, 2)


def test_opset_13_writes_reduction_axes_as_attributes():
    dg.manual_seed(1)
    net = nn.Sequential(nn.LayerNorm(6), nn.Maxout(6, 2, pieces=3), nn.Softmax(dim=-1))
    proto = check_export(net, (dg.randn(3, 6),), (dg.randn(4, 6),), opset=13)
    assert proto.opset_import[0].version == 13
    assert "LayerNormalization" not in op_types(proto)  # only from opset 17


def test_export_runs_in_eval_mode_and_restores_the_modes():
    net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.9), nn.BatchNorm1d(4))
    net.train()
    net[2].eval()
    proto = export(net, dg.randn(8, 4))
    assert "Dropout" not in op_types(proto)
    assert [m.training for m in net.modules()] == [True, True, True, False]
    running = net[2].running_mean.numpy().copy()
    export(net, dg.randn(8, 4) + 5)
    np.testing.assert_array_equal(net[2].running_mean.numpy(), running)  # untouched


class _Cube(Function, register=False):
    """y = x^3 (a primitive with no ONNX converter)."""

    @staticmethod
    def forward(ctx, x):
        return x * x * x

    @staticmethod
    def backward(ctx, dy):
        raise NotImplementedError


class _CubeNet(nn.Module):
    def forward(self, x):
        return _Cube.apply(x) + 1.0


def test_unsupported_primitive_names_it():
    with pytest.raises(UnsupportedOperatorError, match=r"no ONNX conversion for primitive _Cube"):
        export(_CubeNet(), dg.randn(2, 3))
    assert Function.apply.__func__.__qualname__ == "Function.apply"  # the hooks are gone


def test_register_converter_adds_a_primitive():
    @register_converter(_Cube)
    def _cube(g, inputs, out):
        x = g.value(inputs[0])
        return g.node("Mul", [g.node("Mul", [x, x]), x])

    try:
        check_export(_CubeNet(), (dg.randn(2, 3),), (dg.randn(4, 3),))
    finally:
        del PRIMITIVES[_Cube]


def test_unsupported_uses_raise_named_errors():
    lstm = nn.LSTM(3, 4)
    packed = nn.utils.rnn.pack_padded_sequence(dg.randn(5, 2, 3), [5, 3])
    with pytest.raises(UnsupportedOperatorError, match="LSTM on a PackedSequence"):
        export(lambda p: lstm(p)[1][0], (packed,))

    def gather_pairs(x):
        return x[dg.tensor([0, 1]), dg.tensor([1, 0])]

    with pytest.raises(UnsupportedOperatorError, match="for Index .*advanced indexing"):
        export(gather_pairs, dg.randn(2, 2))
    with pytest.raises(UnsupportedOperatorError, match="for sort/argsort/topk"):
        export(lambda x: dg.sort(x).values, dg.randn(4))
    assert dg.sort(dg.tensor([2.0, 1.0])).values.tolist() == [1.0, 2.0]  # restored


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"opset_version": 11}, "opset_version must be an int"),
        ({"input_names": ["a", "b"]}, "input_names must be 1 distinct strings"),
        ({"dynamic_axes": {"z": [0]}}, "dynamic_axes names 'z'"),
        ({"dynamic_axes": {"input_0": [5]}}, "out of range"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        export(nn.Linear(3, 2), dg.randn(2, 3), **kwargs)


def test_outputs_must_be_tensors():
    with pytest.raises(TypeError, match="the model returned a str"):
        export(lambda x: "text", dg.randn(2))


def test_verbose_prints_the_graph(capsys):
    export(nn.ReLU(), dg.randn(2), verbose=True)
    assert "Relu" in capsys.readouterr().out


class _CompiledHead(nn.Module):
    """A model whose forward calls a compiled function (compiled before the export)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 3)
        self.head = dg.compile(lambda h: h.tanh() * 2.0)

    def forward(self, x):
        return self.head(self.proj(x))


def test_a_compiled_function_inside_the_model_is_exported_op_by_op():
    # The export and the compiler record through one hook: during an export a compiled function
    # runs eagerly, so its primitives become nodes (not its traced output, a constant).
    model = _CompiledHead()
    with dg.no_grad():
        for _ in range(3):
            model.head(dg.randn(2, 3))  # traced twice, then a compiled program
    assert len(model.head.programs) == 1
    proto = check_export(model, (dg.randn(2, 4),), (dg.randn(5, 4),))
    assert op_types(proto) == ["Gemm", "Tanh", "Mul", "Identity"]
