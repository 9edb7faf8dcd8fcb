"""deepgrad.compile.recording: the one hook on Function.apply that the tracer and ONNX share."""

from __future__ import annotations

import pytest

import deepgrad as dg
from deepgrad.autograd.function import Function
from deepgrad.compile.recording import active_recorder, recording, run_inside


class _Names:
    """A recorder that keeps the name of every primitive it is told about."""

    def __init__(self) -> None:
        self.depth = 0
        self.ops: list[str] = []

    def record_op(self, cls, inputs, constants, out) -> None:
        self.ops.append(cls.__name__)


def test_records_the_primitives_at_depth_zero_only():
    names = _Names()
    x = dg.ones(3)
    with recording(names):
        assert active_recorder() is names
        y = (x * 2).exp()
        run_inside(names, lambda: y.log())  # handled whole by the recorder: not reported
        y.sum()
    assert names.ops == ["Mul", "Exp", "Sum"]
    assert active_recorder() is None


def test_the_innermost_recording_sees_the_calls():
    outer, inner = _Names(), _Names()
    x = dg.ones(2)
    with recording(outer):
        x.exp()
        with recording(inner):
            x.neg()
        x.abs()
    assert (outer.ops, inner.ops) == (["Exp", "Abs"], ["Neg"])


def test_everything_is_put_back_after_an_error():
    class Marker:
        value = "original"

    with pytest.raises(RuntimeError, match="boom"), recording(_Names()) as patcher:
        patcher.set(Marker, "value", "patched")
        patcher.set(Marker, "added", 1)
        assert Marker.value == "patched"
        raise RuntimeError("boom")
    assert Marker.value == "original" and not hasattr(Marker, "added")
    assert Function.apply.__func__.__qualname__ == "Function.apply"
    assert active_recorder() is None
