"""The engine checks every gradient a primitive's backward returns: count, shape, dtype, device.

Each error names the primitive, the input index, and what was expected; the primitive
registry is keyed by module-qualified name, and a collision raises.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import BackwardError, Function
from deepgrad.autograd.function import qualified_name
from deepgrad.backend import DeviceError, DTypeError
from deepgrad.ops import elementwise as ew


def _binary(backward):
    """A product primitive whose backward is ``backward(dy, x, y)``."""

    class Product(Function, register=False):
        """z = x * y.   dx = dy * y, dy = dy * x (unless the test says otherwise)"""

        @staticmethod
        def forward(ctx, x, y):
            ctx.save_inputs(0, 1)
            return x * y

        @staticmethod
        def backward(ctx, dz):
            x, y = ctx.saved_inputs
            return backward(dz, x, y)

    return Product


def _leaves(shape=(3,), dtype="float32"):
    x = dg.randn(*shape, dtype=dtype, requires_grad=True)
    y = dg.randn(*shape, dtype=dtype, requires_grad=True)
    return x, y


def test_correct_gradients_pass():
    x, y = _leaves()
    _binary(lambda dz, x, y: (dz * y, dz * x)).apply(x, y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())
    np.testing.assert_allclose(y.grad.numpy(), x.detach().numpy())


@pytest.mark.parametrize(
    "backward,got",
    [
        (lambda dz, x, y: dz * y, 1),  # one gradient (not a tuple) for two inputs
        (lambda dz, x, y: (dz * y,), 1),
        (lambda dz, x, y: (dz * y, dz * x, dz), 3),
        (lambda dz, x, y: (dz * y, dz * x, None), 3),
    ],
    ids=["bare", "one", "three", "trailing-none"],
)
def test_wrong_number_of_gradients_raises(backward, got):
    x, y = _leaves()
    z = _binary(backward).apply(x, y).sum()
    with pytest.raises(
        BackwardError, match=rf"Product: .*incorrect number of gradients \(expected 2, got {got}\)"
    ):
        z.backward()


def test_wrong_shape_names_the_primitive_the_input_and_both_shapes():
    x, y = _leaves((2, 3))
    z = _binary(lambda dz, x, y: (dz * y, (dz * x).reshape(3, 2))).apply(x, y).sum()
    with pytest.raises(
        BackwardError, match=r"Product: .*shape \(3, 2\) for input 1, whose shape is \(2, 3\)"
    ):
        z.backward()


def test_wrong_shape_of_a_non_leaf_input_is_caught_too():
    x, y = _leaves((2, 3))
    h = x * 2.0  # a node, not a leaf
    z = _binary(lambda dz, x, y: (dz.sum(dim=0), dz * x)).apply(h, y).sum()
    with pytest.raises(
        BackwardError, match=r"Product: .*shape \(3,\) for input 0, whose shape is \(2, 3\)"
    ):
        z.backward()


def test_a_broadcast_gradient_is_summed_to_the_input_shape():
    x, y = _leaves((2, 3))
    _binary(lambda dz, x, y: (dz * y, (dz * x).expand(4, 2, 3))).apply(x, y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 4 * x.detach().numpy(), rtol=1e-6)


def test_integer_gradient_for_a_float_input_raises():
    x, y = _leaves()
    z = _binary(lambda dz, x, y: (dz * y, (dz * x).long())).apply(x, y).sum()
    with pytest.raises(DTypeError, match=r"Product: .*dtype int64 for input 1, which is float32"):
        z.backward()


def test_float64_gradient_for_a_float32_input_is_cast_as_in_pytorch():
    x, y = _leaves()
    h = x * 1.0  # the check also covers non-leaf inputs, whose dtype the node records
    seen = []
    h.register_hook(lambda g: seen.append(g.dtype))
    _binary(lambda dz, x, y: ((dz * y).double(), (dz * x).double())).apply(h, y).sum().backward()
    assert seen == [dg.float32]
    assert x.grad.dtype == dg.float32 and y.grad.dtype == dg.float32


def test_a_gradient_that_is_not_a_tensor_raises():
    x, y = _leaves()
    z = _binary(lambda dz, x, y: (dz * y, (dz * x).numpy())).apply(x, y).sum()
    with pytest.raises(BackwardError, match=r"Product: .*ndarray as the gradient for input 1"):
        z.backward()


def test_none_for_an_input_that_needs_no_gradient_is_fine():
    x, _ = _leaves()
    c = dg.randn(3)
    _binary(lambda dz, x, y: (dz * y, None)).apply(x, c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), c.numpy())


def test_gradient_on_the_wrong_device_raises(monkeypatch):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cuda"))
    from fake_cupy import install

    install(monkeypatch)
    try:
        x = dg.randn(3, device="cuda", requires_grad=True)
        y = dg.randn(3, device="cuda", requires_grad=True)
        z = _binary(lambda dz, x, y: (dz * y, (dz * x).cpu())).apply(x, y).sum()
        with pytest.raises(
            DeviceError, match=r"Product: .*gradient for input 1 on cpu, but the input is on cuda"
        ):
            z.backward()
        z = _binary(lambda dz, x, y: (dz * y, dz * x)).apply(x, y).sum()
        z.backward()  # and the right devices pass, through a device copy as well
        a = dg.randn(3, requires_grad=True)
        (a.to("cuda") * 2.0).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), [2.0, 2.0, 2.0])
    finally:
        dg.manual_seed(0)  # drop the default generator's fake CUDA streams


# -- the registry ----------------------------------------------------------------------------
def _primitive(name: str, module: str) -> type:
    """A Function subclass named ``name`` defined in ``module`` (as if written there)."""
    return type(
        name,
        (Function,),
        {
            "__module__": module,
            "__qualname__": name,
            "forward": staticmethod(lambda ctx, x: x.copy()),
            "backward": staticmethod(lambda ctx, dy: dy),
        },
    )


def test_registry_is_keyed_by_module_qualified_name():
    assert Function.registry["deepgrad.ops.elementwise.Exp"] is ew.Exp
    assert qualified_name(ew.Exp) == "deepgrad.ops.elementwise.Exp"


def test_a_users_exp_does_not_replace_deepgrads():
    user_exp = _primitive("Exp", "my_project.ops")
    try:
        assert Function.registry["my_project.ops.Exp"] is user_exp
        assert Function.registry["deepgrad.ops.elementwise.Exp"] is ew.Exp
        x = dg.tensor([0.0, 1.0], requires_grad=True)
        y = dg.exp(x)
        assert y.grad_fn.fn is ew.Exp
        np.testing.assert_allclose(y.detach().numpy(), np.exp([0.0, 1.0]), rtol=1e-6)
    finally:
        del Function.registry["my_project.ops.Exp"]


def test_registry_collision_raises():
    first = _primitive("Twice", "my_project.ops")
    try:
        with pytest.raises(
            RuntimeError, match=r"'my_project.ops.Twice' is already registered.*register=False"
        ):
            _primitive("Twice", "my_project.ops")
        assert Function.registry["my_project.ops.Twice"] is first
    finally:
        del Function.registry["my_project.ops.Twice"]


def test_redefining_a_primitive_in_a_script_or_notebook_replaces_it():
    _primitive("Cell", "__main__")
    second = _primitive("Cell", "__main__")  # the same notebook cell, run again
    try:
        assert Function.registry["__main__.Cell"] is second
    finally:
        del Function.registry["__main__.Cell"]
