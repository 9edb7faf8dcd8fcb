"""Containers: Sequential, ModuleList, ModuleDict, ParameterList."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn


def test_sequential_applies_in_order():
    first, second = nn.Linear(3, 4), nn.Linear(4, 2)
    model = nn.Sequential(first, second)
    x = dg.randn(5, 3)
    assert np.allclose(model(x)._data, second(first(x))._data)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_sequential_from_ordered_dict_and_indexing():
    model = nn.Sequential(
        OrderedDict([("enc", nn.Linear(3, 4)), ("act", nn.Identity()), ("dec", nn.Linear(4, 3))])
    )
    assert list(model.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert model[0] is model.enc and model[-1] is model.dec and model[-3] is model.enc
    assert len(model) == 3 and list(model) == [model.enc, model.act, model.dec]
    with pytest.raises(IndexError, match="index 3 is out of range \\(length 3\\)"):
        model[3]
    with pytest.raises(TypeError, match="integers or slices"):
        model["enc"]


def test_sequential_slicing_shares_modules():
    model = nn.Sequential(nn.Linear(2, 3), nn.Identity(), nn.Linear(3, 1))
    head = model[1:]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[-1] is model[2]
    assert model[::2][1] is model[2]
    x = dg.randn(4, 2)
    assert np.allclose(model[1:](model[:1](x))._data, model(x)._data)


def test_sequential_append_setitem_delitem():
    model = nn.Sequential(nn.Linear(2, 2))
    assert model.append(nn.Identity()) is model
    assert len(model) == 2 and isinstance(model[1], nn.Identity)
    replacement = nn.Linear(2, 2)
    model[-1] = replacement
    assert model[1] is replacement
    del model[0]
    assert len(model) == 1 and model[0] is replacement
    with pytest.raises(TypeError, match="argument 1 is not a Module"):
        nn.Sequential(nn.Linear(1, 1), lambda x: x)
    with pytest.raises(TypeError, match="expected a Module"):
        model.append(3)


def test_sequential_repr():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.Flatten()))
    assert text == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Flatten(start_dim=1, end_dim=-1)\n)"
    )


def test_module_list_registers_and_behaves_like_a_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.Identity())
    layers.insert(0, nn.Linear(2, 2))
    assert [type(m).__name__ for m in layers] == [
        "Linear",
        "Linear",
        "Linear",
        "Linear",
        "Identity",
    ]
    assert list(layers._modules) == ["0", "1", "2", "3", "4"]
    del layers[1]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    assert isinstance(layers[-1], nn.Identity)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers += [nn.Identity()]
    assert len(layers) == 5
    with pytest.raises(TypeError, match="not callable"):
        layers(dg.ones(1))
    with pytest.raises(TypeError, match="expected a Module"):
        layers.append("relu")


def test_module_list_inside_module_is_walked():
    class Deep(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    model = Deep()
    assert list(model.state_dict()) == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
    ]
    model(dg.randn(3, 2)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_module_dict():
    heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "reg": nn.Linear(4, 1)})
    assert list(heads) == ["cls", "reg"] and len(heads) == 2 and "cls" in heads
    assert list(heads.state_dict()) == ["cls.weight", "cls.bias", "reg.weight", "reg.bias"]
    heads["extra"] = nn.Identity()
    assert list(heads.keys()) == ["cls", "reg", "extra"]
    assert heads.pop("extra").__class__ is nn.Identity
    with pytest.raises(KeyError, match="no module named 'nope'"):
        heads["nope"]
    with pytest.raises(TypeError, match="must be a Module"):
        heads["bad"] = 1
    heads.update([("z", nn.Identity())])
    assert [k for k, _ in heads.items()] == ["cls", "reg", "z"]


def test_parameter_list():
    params = nn.ParameterList([dg.ones(2), nn.Parameter(dg.zeros(3))])
    assert all(isinstance(p, nn.Parameter) for p in params)
    assert len(params) == 2 and params[-1].shape == (3,)
    params.append(dg.ones(1))
    assert [n for n, _ in params.named_parameters()] == ["0", "1", "2"]

    class Mixture(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.ParameterList([dg.ones(2) for _ in range(2)])

    assert list(Mixture().state_dict()) == ["weights.0", "weights.1"]
    assert "(0): Parameter(2,)" in repr(params)


@pytest.mark.parity
def test_sequential_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Identity(), nn.Linear(3, 1)))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(3, 1))
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
