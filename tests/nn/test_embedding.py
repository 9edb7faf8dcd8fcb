"""Embedding: lookup, gradients that accumulate over repeated indices, padding_idx, errors, parity."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradcheck
from deepgrad.backend import DTypeError, ShapeError


def test_embedding_looks_up_rows():
    table = np.arange(12.0).reshape(4, 3)
    idx = np.array([[3, 0], [1, 1]])
    y = F.embedding(dg.tensor(idx), dg.tensor(table))
    assert y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y.numpy(), table[idx])


def test_embedding_gradient_accumulates_repeated_indices():
    weight = dg.tensor(
        np.random.default_rng(0).normal(size=(5, 2)), dtype="float64", requires_grad=True
    )
    idx = dg.tensor([[0, 2, 2], [4, 2, 0]])
    upstream = np.random.default_rng(1).normal(size=(2, 3, 2))
    (F.embedding(idx, weight) * dg.tensor(upstream)).sum().backward()
    expected = np.zeros((5, 2))
    np.add.at(expected, idx.numpy(), upstream)
    np.testing.assert_allclose(weight.grad.numpy(), expected, rtol=1e-12)
    weight.grad = None
    assert gradcheck(lambda w: F.embedding(idx, w), (weight,))


def test_padding_row_gets_no_gradient_but_is_looked_up():
    weight = dg.tensor(np.ones((4, 2)), requires_grad=True)
    idx = dg.tensor([1, 3, 1, 0])
    y = F.embedding(idx, weight, padding_idx=-3)  # -3 is row 1
    np.testing.assert_array_equal(y.detach().numpy(), np.ones((4, 2)))
    y.sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [[1, 1], [0, 0], [0, 0], [1, 1]])


def test_embedding_module():
    dg.manual_seed(0)
    layer = nn.Embedding(10, 4, padding_idx=0)
    assert layer.weight.shape == (10, 4)
    assert np.all(layer.weight.detach().numpy()[0] == 0)
    assert abs(float(layer.weight.detach().numpy()[1:].std()) - 1.0) < 0.3  # N(0, 1)
    out = layer(dg.tensor([[0, 5, 9]]))
    assert out.shape == (1, 3, 4)
    out.sum().backward()
    assert np.all(layer.weight.grad.numpy()[0] == 0) and np.all(layer.weight.grad.numpy()[5] == 1)
    assert repr(layer) == "Embedding(10, 4, padding_idx=0)"
    dg.manual_seed(0)
    again = nn.Embedding(10, 4, padding_idx=0)
    np.testing.assert_array_equal(again.weight.detach().numpy(), layer.weight.detach().numpy())


def test_from_pretrained():
    table = dg.tensor(np.arange(6.0).reshape(3, 2))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(dg.tensor([2])).numpy(), [[4.0, 5.0]])
    trainable = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad and trainable.padding_idx == 1
    np.testing.assert_array_equal(trainable.weight.detach().numpy()[1], [2.0, 3.0])


def test_embedding_errors():
    weight = dg.ones(4, 2)
    with pytest.raises(
        ValueError, match=r"embedding: indices must lie in \[0, 4\) .*\(got min 0, max 4\)"
    ):
        F.embedding(dg.tensor([0, 4]), weight)
    with pytest.raises(DTypeError, match="embedding: indices must be an integer tensor"):
        F.embedding(dg.tensor([0.0]), weight)
    with pytest.raises(ShapeError, match="embedding: weight must be 2-D"):
        F.embedding(dg.tensor([0]), dg.ones(4))
    with pytest.raises(ValueError, match=r"embedding: padding_idx must be in \[-4, 4\) \(got 4\)"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(ValueError, match="Embedding: embedding_dim must be a positive int"):
        nn.Embedding(4, 0)


@pytest.mark.parity
def test_embedding_parity_with_torch():
    torch = pytest.importorskip("torch")
    table = np.random.default_rng(2).normal(size=(6, 3)).astype(np.float32)
    idx = np.array([[1, 2, 1], [5, 0, 2]])
    ours, theirs = dg.tensor(table, requires_grad=True), torch.tensor(table, requires_grad=True)
    y = F.embedding(dg.tensor(idx), ours, padding_idx=2)
    ty = torch.nn.functional.embedding(torch.tensor(idx), theirs, padding_idx=2)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    upstream = np.random.default_rng(3).normal(size=(2, 3, 3)).astype(np.float32)
    (y * dg.tensor(upstream)).sum().backward()
    (ty * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)
