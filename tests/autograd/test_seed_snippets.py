"""The PyTorch snippets of the seed deck (seeds/004, "Computational Graph with PyTorch",
"PyTorch: Tensors", "PyTorch: Variable & Autograd") run with ``import deepgrad as torch``.

They are copied as the deck prints them, changed only where PyTorch itself changed since:
``Variable(t, requires_grad=...)`` is gone (tensors take ``requires_grad`` themselves). The deck
spells the weights both ``w11``/``w12`` and ``wl1``/``wl2`` (a typesetting slip); ``wl1``/``wl2``
are used throughout.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import deepgrad as torch


def test_computational_graph_snippet_gives_the_hand_computed_gradients():
    torch.manual_seed(0)

    # Tensor dimensions
    d1, d2 = 4, 5

    # Computational graph definition with Variables
    t1 = torch.randn(d1, d2, requires_grad=True)
    t2 = torch.randn(d1, d2, requires_grad=True)
    t3 = torch.randn(d1, d2, requires_grad=True)
    a = t1 + t2
    b = a * t3
    c = torch.sum(b)

    # Gradient computation
    c.backward()

    grad_t1, grad_t2, grad_t3 = t1.grad.data, t2.grad.data, t3.grad.data

    # By hand: c = sum((t1 + t2) * t3), so dc/dt1 = dc/dt2 = t3 and dc/dt3 = t1 + t2.
    v1, v2, v3 = (t.detach().numpy() for t in (t1, t2, t3))
    np.testing.assert_allclose(grad_t1.numpy(), v3)
    np.testing.assert_allclose(grad_t2.numpy(), v3)
    np.testing.assert_allclose(grad_t3.numpy(), v1 + v2, rtol=1e-6)
    np.testing.assert_allclose(c.item(), ((v1.astype(np.float64) + v2) * v3).sum(), rtol=1e-5)


@pytest.mark.xfail(
    not hasattr(torch, "FloatTensor"),
    raises=AttributeError,
    strict=True,
    reason="deepgrad.FloatTensor (PyTorch's legacy tensor type, for .type(torch.FloatTensor)) is not defined yet",
)
def test_tensors_snippet_with_hand_written_gradients_learns():
    torch.manual_seed(0)

    # Neural network dimensions
    n, in_dim, hid_dim, out_dim = 50, 100, 500, 10

    # Training data
    x = torch.randn(n, in_dim).type(torch.FloatTensor)
    y = torch.randn(n, out_dim).type(torch.FloatTensor)

    # Weight initialization
    wl1 = torch.randn(in_dim, hid_dim).type(torch.FloatTensor)
    wl2 = torch.randn(hid_dim, out_dim).type(torch.FloatTensor)

    losses = []
    learning_rate = 1e-6
    for _epoch in range(500):
        # Computational graph
        h = x.mm(wl1)
        h_relu = h.clamp(min=0)
        y_pred = h_relu.mm(wl2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())

        # Gradient computation
        grad_y_pred = 2.0 * (y_pred - y)
        grad_wl2 = h_relu.t().mm(grad_y_pred)
        grad_h_relu = grad_y_pred.mm(wl2.t())
        grad_h = grad_h_relu.clone()
        grad_h[grad_h < 0] = 0  # as on the slide (PyTorch's tutorial masks with h < 0)
        grad_wl1 = x.t().mm(grad_h)

        # Update weights
        wl1 -= learning_rate * grad_wl1
        wl2 -= learning_rate * grad_wl2

    assert wl1.dtype == torch.float32 and not wl1.requires_grad
    assert losses[-1] < 1e-4 * losses[0]


def test_the_hand_written_gradients_equal_autograd():
    # The manual backward of the "Tensors" slide, with the ReLU mask on h (as in PyTorch's tutorial),
    # computes exactly what loss.backward() computes in the "Variable & Autograd" slide.
    torch.manual_seed(1)
    n, in_dim, hid_dim, out_dim = 8, 6, 12, 3
    x = torch.randn(n, in_dim, dtype=torch.float64)
    y = torch.randn(n, out_dim, dtype=torch.float64)
    wl1 = torch.randn(in_dim, hid_dim, dtype=torch.float64, requires_grad=True)
    wl2 = torch.randn(hid_dim, out_dim, dtype=torch.float64, requires_grad=True)

    h = x.mm(wl1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(wl2)
    loss = (y_pred - y).pow(2).sum()
    loss.backward()

    with torch.no_grad():
        grad_y_pred = 2.0 * (y_pred - y)
        grad_wl2 = h_relu.t().mm(grad_y_pred)
        grad_h = grad_y_pred.mm(wl2.t()).clone()
        grad_h[h < 0] = 0
        grad_wl1 = x.t().mm(grad_h)
    np.testing.assert_allclose(wl1.grad.numpy(), grad_wl1.numpy(), rtol=1e-12)
    np.testing.assert_allclose(wl2.grad.numpy(), grad_wl2.numpy(), rtol=1e-12)


def test_variable_and_autograd_snippet_learns():
    torch.manual_seed(0)

    # Neural network dimensions
    n, in_dim, hid_dim, out_dim = 50, 100, 500, 10

    # Training data
    x = torch.randn(n, in_dim, requires_grad=False)
    y = torch.randn(n, out_dim, requires_grad=False)

    # Weight initialization
    wl1 = torch.randn(in_dim, hid_dim, requires_grad=True)
    wl2 = torch.randn(hid_dim, out_dim, requires_grad=True)

    losses = []
    learning_rate = 1e-6
    for _epoch in range(500):
        # Computational graph
        h = x.mm(wl1)
        h_relu = h.clamp(min=0)
        y_pred = h_relu.mm(wl2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())

        # Remove previous gradients
        if wl1.grad is not None: wl1.grad.data.zero_()  # fmt: skip
        if wl2.grad is not None: wl2.grad.data.zero_()  # fmt: skip

        # Gradient computation
        loss.backward()

        # Update weights
        wl1.data -= learning_rate * wl1.grad.data
        wl2.data -= learning_rate * wl2.grad.data

    assert wl1.requires_grad and wl1.is_leaf and wl1.dtype == torch.float32
    assert losses[-1] < 1e-4 * losses[0]
    assert all(
        later <= earlier * 1.5 for earlier, later in itertools.pairwise(losses)
    )  # no blow-up
