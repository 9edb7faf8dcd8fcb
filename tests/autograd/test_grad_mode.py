"""no_grad, enable_grad, set_grad_enabled: context managers and decorators that always restore the mode."""

from __future__ import annotations

import pytest

import deepgrad as dg
from deepgrad import enable_grad, is_grad_enabled, no_grad, set_grad_enabled


@pytest.fixture(autouse=True)
def _grad_mode_is_restored():
    assert is_grad_enabled()
    yield
    assert is_grad_enabled()
    set_grad_enabled(True)


def _records() -> bool:
    x = dg.tensor([1.0], requires_grad=True)
    return (x * 2.0).requires_grad


def test_no_grad_block_records_nothing():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    assert (x * 2.0).requires_grad


def test_nesting_restores_each_level():
    with no_grad():
        with enable_grad():
            assert is_grad_enabled() and _records()
            with no_grad():
                assert not is_grad_enabled() and not _records()
            assert is_grad_enabled()
        assert not is_grad_enabled()
        with set_grad_enabled(True):
            assert is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_exceptions_restore_the_mode():
    with pytest.raises(ValueError), no_grad():
        raise ValueError("boom")
    assert is_grad_enabled()
    with no_grad():
        with pytest.raises(KeyError), enable_grad():
            raise KeyError("boom")
        assert not is_grad_enabled()
    with pytest.raises(ZeroDivisionError), set_grad_enabled(False):
        _ = 1 / 0


def test_decorators_with_and_without_parentheses():
    @no_grad
    def bare():
        return is_grad_enabled()

    @no_grad()
    def called():
        return is_grad_enabled()

    @set_grad_enabled(False)
    def switched_off():
        return is_grad_enabled()

    assert is_grad_enabled()  # decorating changes nothing by itself
    assert bare() is False and called() is False and switched_off() is False
    assert bare.__name__ == "bare"

    @enable_grad()
    def inner():
        return _records()

    @enable_grad
    def inner_bare():
        return _records()

    with no_grad():
        assert inner() and inner_bare()
        assert not is_grad_enabled()


def test_decorated_function_that_raises_restores_the_mode():
    @no_grad()
    def fails():
        raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        fails()
    assert is_grad_enabled()


def test_set_grad_enabled_as_a_plain_call_sets_the_mode():
    set_grad_enabled(False)
    assert not is_grad_enabled() and not _records()
    set_grad_enabled(True)
    assert is_grad_enabled() and _records()


def test_one_instance_entered_twice_restores_correctly():
    guard = no_grad()
    with guard:
        with guard:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_decorating_a_non_callable_is_an_error():
    with pytest.raises(TypeError, match="no_grad: can only decorate a function"):
        no_grad()(3)


def test_backward_runs_without_recording_unless_create_graph():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.grad_fn is None
    x.grad = None
    (x * x).sum().backward(create_graph=True)
    assert x.grad.grad_fn is not None
    assert is_grad_enabled()


def test_backward_inside_no_grad_still_computes_gradients():
    x = dg.tensor([3.0], requires_grad=True)
    loss = (x * x).sum()
    with no_grad():
        loss.backward()
        assert not is_grad_enabled()
    assert x.grad.item() == 6.0
