"""detect_anomaly / set_detect_anomaly: the first NaN or inf, with its primitive and source line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import (
    AnomalyError,
    BackwardError,
    Function,
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from deepgrad.autograd.anomaly import AnomalyMode

THIS_FILE = __file__


@pytest.fixture(autouse=True)
def _anomaly_mode_is_restored():
    assert not is_anomaly_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "invalid value in log"
        yield
    assert not is_anomaly_enabled() and not AnomalyMode.in_backward
    set_detect_anomaly(False)


def _line_of(marker: str) -> int:
    """The line number of the line of this file that contains ``marker``."""
    with open(THIS_FILE) as f:
        lines = f.readlines()
    return next(i for i, text in enumerate(lines, 1) if marker in text and "_line_of" not in text)


def test_off_by_default_and_nan_passes_silently():
    assert not is_anomaly_enabled()
    y = dg.tensor([-1.0, 1.0]).log()
    assert np.isnan(y.numpy()[0])


def test_nan_in_forward_names_log_shapes_and_the_callers_line():
    x = dg.tensor([[-1.0, 2.0, 3.0]], requires_grad=True)
    with pytest.raises(AnomalyError) as info, detect_anomaly():
        x.log()  # marker: log of a negative number
    message = str(info.value)
    assert message.startswith("Log: forward produced NaN (1 of 3 values)")
    assert "output shape (1, 3) float32" in message and "input 0: shape (1, 3) float32" in message
    line = _line_of("marker: log of a negative number")
    function = "test_nan_in_forward_names_log_shapes_and_the_callers_line"
    assert f"{THIS_FILE}:{line} in {function}" in message
    assert "`x.log()  # marker: log of a negative number`" in message
    assert isinstance(info.value, RuntimeError)


def test_nan_in_the_data_is_reported_at_the_first_op_with_the_input_that_holds_it():
    data = dg.tensor([1.0, float("nan"), 3.0, 4.0])
    w = dg.tensor([2.0], requires_grad=True)
    expected = r"Mul: forward produced NaN.*input 0: shape \(4,\) float32, holds NaN \(1 of 4 "
    with pytest.raises(AnomalyError, match=expected), detect_anomaly():
        data * w


def test_inf_from_finite_inputs_raises_but_inf_that_came_in_passes():
    with detect_anomaly():
        with pytest.raises(AnomalyError, match=r"Exp: forward produced inf \(1 of 2 values\)"):
            dg.tensor([1000.0, 0.0]).exp()
        # A -inf attention mask: written by a constant, then carried through +: not new.
        scores = dg.tensor([[0.5, 1.0]], requires_grad=True)
        mask = dg.zeros(1, 2).masked_fill(dg.tensor([[False, True]]), float("-inf"))
        probs = (scores + mask).softmax(dim=-1)
        probs.sum().backward()
    assert np.allclose(probs.detach().numpy(), [[1.0, 0.0]])


def test_inf_in_backward_names_the_primitive_the_index_and_the_line_of_the_node():
    x = dg.tensor([0.0, 4.0], requires_grad=True)
    w = dg.tensor([1.0, 1.0], requires_grad=True)
    with detect_anomaly():
        y = (w * x.sqrt()).sum()  # marker: sqrt at 0
        with pytest.raises(AnomalyError) as info:
            y.backward()
    message = str(info.value)
    assert message.startswith(
        "Sqrt: backward produced inf (1 of 2 values) in the gradient for input 0"
    )
    assert "gradient shape (2,) float32, input shape (2,)" in message
    assert f"{THIS_FILE}:{_line_of('marker: sqrt at 0')}" in message
    assert x.grad is None  # nothing was accumulated


def test_the_input_index_is_that_of_the_bad_gradient():
    class BadSecondGradient(Function, register=False):
        """y = a * b, with a backward whose gradient for b is NaN."""

        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, dy):
            return dy * 2.0, dy * float("nan")

    a = dg.tensor([1.0, 2.0], requires_grad=True)
    b = dg.tensor([[3.0, 4.0]], requires_grad=True)
    with detect_anomaly():
        y = BadSecondGradient.apply(a, b).sum()
        with pytest.raises(AnomalyError) as info:
            y.backward()
    message = str(info.value)
    assert message.startswith(
        "BadSecondGradient: backward produced NaN (2 of 2 values) in the gradient for input 1"
    )
    assert "input shape (1, 2)" in message


def test_node_made_outside_anomaly_mode_says_so():
    x = dg.tensor([0.0], requires_grad=True)
    y = x.sqrt().sum()
    with detect_anomaly(), pytest.raises(AnomalyError, match="created outside anomaly mode"):
        y.backward()


def test_check_nan_false_records_lines_without_checking_and_notes_backward_errors():
    class WrongCount(Function, register=False):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, dy):
            return dy, dy

    x = dg.tensor([-1.0], requires_grad=True)
    with detect_anomaly(check_nan=False):
        assert is_anomaly_enabled() and not is_anomaly_check_nan_enabled()
        assert np.isnan(x.log().detach().numpy()).all()  # not checked
        y = WrongCount.apply(x).sum()  # marker: wrong count
        with pytest.raises(BackwardError, match="incorrect number of gradients") as info:
            y.backward()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert f"WrongCount) was created at {THIS_FILE}:{_line_of('marker: wrong count')}" in notes


def test_nested_contexts_restore_the_state_also_on_errors():
    with detect_anomaly():
        with detect_anomaly(check_nan=False):
            assert not is_anomaly_check_nan_enabled()
            with set_detect_anomaly(False):
                assert not is_anomaly_enabled()
            assert is_anomaly_enabled() and not is_anomaly_check_nan_enabled()
        assert is_anomaly_check_nan_enabled()
        with pytest.raises(AnomalyError), detect_anomaly():
            dg.tensor([-1.0]).log()
        assert is_anomaly_check_nan_enabled()
    assert not is_anomaly_enabled()
    ctx = detect_anomaly()
    with ctx:
        with ctx:  # one instance entered twice
            pass
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()


def test_set_detect_anomaly_sets_at_once_and_restores_in_a_with_block():
    set_detect_anomaly(True)
    try:
        assert is_anomaly_enabled()
        with pytest.raises(AnomalyError):
            dg.tensor([-1.0]).log()
    finally:
        set_detect_anomaly(False)
    assert not is_anomaly_enabled()
    with set_detect_anomaly(True, check_nan=False):
        assert is_anomaly_enabled() and not is_anomaly_check_nan_enabled()
    assert not is_anomaly_enabled() and AnomalyMode.check_nan


def test_decorator_form():
    @detect_anomaly()
    def step(x):
        assert is_anomaly_enabled()
        return x.log()

    assert step.__name__ == "step"
    with pytest.raises(AnomalyError, match="Log: forward produced NaN"):
        step(dg.tensor([-2.0]))
    assert not is_anomaly_enabled()
    assert np.allclose(step(dg.tensor([1.0])).numpy(), 0.0)
    with pytest.raises(TypeError, match="can only decorate a function"):
        detect_anomaly()(3)


def test_finite_training_step_is_unchanged_under_anomaly_mode():
    def run():
        dg.manual_seed(0)
        model = dg.nn.Sequential(dg.nn.Linear(3, 4), dg.nn.Tanh(), dg.nn.Linear(4, 1))
        x = dg.randn(5, 3)
        loss = (model(x) ** 2).mean()
        loss.backward()
        return [p.grad.numpy().copy() for p in model.parameters()]

    plain = run()
    with detect_anomaly():
        checked = run()
    for a, b in zip(plain, checked):
        np.testing.assert_array_equal(a, b)


def test_higher_order_gradients_under_anomaly_mode():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        y = (x**3).sum()
        (g,) = dg.autograd.grad(y, x, create_graph=True)
        g.sum().backward()
    assert np.allclose(x.grad.numpy(), [6.0, 12.0])


def test_source_line_falls_outside_deepgrad_for_layers():
    layer = dg.nn.Linear(2, 1)
    with torch_like_nan_weights(layer), detect_anomaly(), pytest.raises(AnomalyError) as info:
        layer(dg.ones(1, 2))  # marker: layer call
    assert f"{THIS_FILE}:{_line_of('marker: layer call')}" in str(info.value)


class torch_like_nan_weights:
    """Puts a NaN into a layer's weight for the block (as a diverged run would)."""

    def __init__(self, layer):
        self.layer = layer

    def __enter__(self):
        self.saved = self.layer.weight._data.copy()
        self.layer.weight._data[0, 0] = np.nan

    def __exit__(self, *exc):
        self.layer.weight._data[...] = self.saved
        return False
