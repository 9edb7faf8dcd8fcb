"""Module and Parameter: registration, tree walks, modes, casting, hooks, state dicts."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(dg.ones(4))
        self.register_buffer("running", dg.zeros(4))
        self.register_buffer("scratch", dg.zeros(2), persistent=False)
        self.register_buffer("count", dg.tensor(0))

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(4, 2, bias=False)
        self.label = "not registered"

    def forward(self, x):
        return self.head(self.block(x))


# -- Parameter ------------------------------------------------------------------------------------
def test_parameter_defaults_and_sharing():
    t = dg.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, dg.Tensor) and p.requires_grad and p.is_leaf
    assert p._data is t._data  # shares memory, as nn.Parameter(t) does
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter([1.0, 2.0]).dtype == dg.float32
    assert type(p * 2) is dg.Tensor  # results of ops are plain tensors


def test_parameter_deepcopy_is_independent():
    p = nn.Parameter(dg.randn(3))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad
    assert q._data is not p._data and np.array_equal(q._data, p._data)


# -- registration ---------------------------------------------------------------------------------
def test_attributes_register_parameters_buffers_and_modules():
    net = Net()
    assert list(net._modules) == ["block", "head"]
    # pre-order, a module's own members before its children's (PyTorch's order)
    assert [n for n, _ in net.named_parameters()] == [
        "block.scale",
        "block.fc.weight",
        "block.fc.bias",
        "head.weight",
    ]
    assert [n for n, _ in net.named_buffers()] == ["block.running", "block.scratch", "block.count"]
    assert net.label == "not registered" and "label" not in net._parameters
    assert net.head.bias is None
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "head"]
    assert list(net.block.parameters(recurse=False)) == [net.block.scale]
    assert next(iter(net.modules())) is net


def test_reassignment_moves_between_registries_and_delattr():
    net = Net()
    net.head = None
    assert net.head is None and "head" not in [n for n, _ in net.named_children()]
    net.block.scale = None
    assert "block.scale" not in dict(net.named_parameters())
    with pytest.raises(TypeError, match="parameter 'fc'|submodule 'fc'"):
        net.block.fc = dg.ones(2)
    with pytest.raises(TypeError, match="buffer 'running'"):
        net.block.running = 3
    net.block.running = dg.ones(4)  # a tensor replaces a buffer
    assert np.array_equal(net.block.running._data, np.ones(4))
    del net.block.fc
    assert not hasattr(net.block, "fc")
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'fc'"):
        net.block.fc  # noqa: B018 - the attribute access is what raises


def test_assignment_before_init_is_a_clear_error():
    class Forgetful(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(dg.ones(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Forgetful()


def test_register_functions_validate():
    m = nn.Module()
    m.register_parameter("w", None)
    assert "w" in m._parameters and m.w is None
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("v", dg.ones(2))
    with pytest.raises(KeyError, match="contain no '.'"):
        m.register_buffer("a.b", dg.ones(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("training", dg.ones(1))
    with pytest.raises(TypeError, match="must be a Module"):
        m.add_module("x", 3)
    m.add_module("child", nn.Linear(1, 1))
    assert m.child is m.get_submodule("child")


def test_get_submodule_parameter_buffer():
    net = Net()
    assert net.get_submodule("block.fc") is net.block.fc
    assert net.get_submodule("") is net
    assert net.get_parameter("block.fc.weight") is net.block.fc.weight
    assert net.get_buffer("block.running") is net.block.running
    with pytest.raises(AttributeError, match="has no submodule 'nope'"):
        net.get_submodule("block.nope")
    with pytest.raises(AttributeError, match="no parameter 'missing'"):
        net.get_parameter("block.missing")


def test_shared_parameter_listed_once():
    m = nn.Module()
    m.a = nn.Linear(2, 2)
    m.b = nn.Linear(2, 2)
    m.b.weight = m.a.weight
    assert len(list(m.parameters())) == 3
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4
    assert set(m.state_dict()) == {"a.weight", "a.bias", "b.weight", "b.bias"}


def test_replacing_an_entry_keeps_its_place_as_in_torch():
    m = nn.Module()
    m.enc = nn.Embedding(5, 4)
    m.dec = nn.Linear(4, 5)
    m.dec.weight = m.enc.weight  # tied weights: the key stays before dec.bias
    assert list(m.state_dict()) == ["enc.weight", "dec.weight", "dec.bias"]
    m.enc = nn.Embedding(5, 4)  # a replaced submodule keeps its place too
    assert [name for name, _ in m.named_children()] == ["enc", "dec"]
    block = Block()
    block.register_buffer("running", dg.ones(4))
    block.register_parameter("scale", nn.Parameter(dg.zeros(4)))
    assert list(block.state_dict()) == ["scale", "running", "count", "fc.weight", "fc.bias"]
    block.running = nn.Parameter(dg.ones(4))  # moving to another registry appends there
    assert [name for name, _ in block.named_parameters(recurse=False)] == ["scale", "running"]
    assert [name for name, _ in block.named_buffers(recurse=False)] == ["scratch", "count"]


def test_forward_missing_is_reported():
    with pytest.raises(NotImplementedError, match="must define forward"):
        nn.Module()(dg.ones(1))


# -- modes, gradients, apply ------------------------------------------------------------------------
def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    message = r"^Net\.train: mode must be True or False \(got 'no'\); eval\(\) is train\(False\)\.$"
    with pytest.raises(TypeError, match=message):
        net.train("no")
    with pytest.raises(TypeError, match=r"mode must be True or False \(got 1\)"):
        net.train(1)


def test_zero_grad_and_requires_grad():
    net = Net()
    net(dg.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    grads = [p.grad for p in net.parameters()]
    net.zero_grad(set_to_none=False)
    assert all(p.grad is g and not g._data.any() for p, g in zip(net.parameters(), grads))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.block.requires_grad_(False)
    assert [p.requires_grad for p in net.parameters()] == [False, False, False, True]
    net(dg.randn(5, 3)).sum().backward()
    assert net.block.fc.weight.grad is None and net.head.weight.grad is not None


def test_apply_visits_children_first():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Block", "Linear", "Net"]


def test_to_dtype_keeps_parameter_identity_and_casts_floats_only():
    net = Net()
    params = list(net.parameters())
    net(dg.randn(2, 3)).sum().backward()
    assert net.double() is net
    assert [p is q for p, q in zip(params, net.parameters())] == [True] * 4
    assert all(p.dtype == dg.float64 and p.grad.dtype == dg.float64 for p in net.parameters())
    assert net.block.running.dtype == dg.float64
    assert net.block.count.dtype == dg.int64  # integer buffers keep their dtype
    assert net(dg.randn(2, 3, dtype="float64")).dtype == dg.float64
    net.to(dg.float32)
    assert all(p.dtype == dg.float32 for p in net.parameters())
    net.to(dg.zeros(1, dtype="float64"))
    assert net.head.weight.dtype == dg.float64
    net.cpu()
    assert net.head.weight.device.type == "cpu"
    with pytest.raises(TypeError, match="floating-point"):
        net.to(dg.int64)


# -- hooks ----------------------------------------------------------------------------------------
def test_forward_hooks_fire_replace_and_remove():
    layer = nn.Linear(3, 2)
    calls = []
    pre = layer.register_forward_pre_hook(
        lambda m, inputs: calls.append(("pre", m, inputs[0].shape))
    )
    post = layer.register_forward_hook(
        lambda m, inputs, out: calls.append(("post", inputs[0].shape, out.shape))
    )
    x = dg.randn(4, 3)
    layer(x)
    assert calls == [("pre", layer, (4, 3)), ("post", (4, 3), (4, 2))]
    doubled = layer.register_forward_hook(lambda m, inputs, out: out * 2)
    expected = layer.forward(x)._data * 2
    assert np.allclose(layer(x)._data, expected)
    for handle in (pre, post, doubled):
        handle.remove()
    calls.clear()
    assert np.allclose(layer(x)._data, expected / 2)
    assert calls == []
    assert not layer._forward_hooks and not layer._forward_pre_hooks


def test_pre_hook_can_replace_inputs_and_handle_is_context_manager():
    layer = nn.Identity()
    with layer.register_forward_pre_hook(lambda m, inputs: inputs[0] + 1):
        assert float(layer(dg.tensor(1.0))) == 2.0
    assert float(layer(dg.tensor(1.0))) == 1.0


# -- state dicts --------------------------------------------------------------------------------------
def test_state_dict_contents_and_round_trip():
    net = Net()
    state = net.state_dict()
    assert list(state) == [
        "block.scale",
        "block.running",
        "block.count",
        "block.fc.weight",
        "block.fc.bias",
        "head.weight",
    ]  # non-persistent "scratch" left out
    assert all(not t.requires_grad and type(t) is dg.Tensor for t in state.values())
    assert state["head.weight"]._data is net.head.weight._data  # detached, sharing memory
    other = Net()
    params = list(other.parameters())
    result = other.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in other.state_dict().items():
        assert np.array_equal(value._data, state[key]._data)
        assert value._data is not state[key]._data
    assert all(p is q for p, q in zip(params, other.parameters()))
    x = dg.randn(3, 3)
    assert np.allclose(net(x)._data, other(x)._data)


def test_load_state_dict_accepts_arrays_and_casts():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": np.eye(2), "bias": [1.0, 2.0]})
    assert layer.weight.dtype == dg.float32
    assert np.array_equal(layer.weight._data, np.eye(2, dtype=np.float32))


def test_load_state_dict_reports_everything_and_copies_nothing():
    net = Net()
    before = {k: v._data.copy() for k, v in net.state_dict().items()}
    bad = Net().state_dict()
    del bad["block.scale"]
    bad["extra.weight"] = dg.zeros(1)
    bad["head.weight"] = dg.zeros(3, 4)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    message = str(info.value)
    assert "missing keys (1): block.scale" in message
    assert "unexpected keys (1): extra.weight" in message
    assert "head.weight: checkpoint (3, 4) vs model (2, 4)" in message
    assert "nothing was loaded" in message
    for key, value in net.state_dict().items():
        assert np.array_equal(value._data, before[key]), key  # block.fc.* were valid but not copied


def test_load_state_dict_non_strict():
    net = Net()
    partial = {"head.weight": dg.ones(2, 4), "unknown": dg.ones(1)}
    result = net.load_state_dict(partial, strict=False)
    assert "unknown" in result.unexpected_keys and "block.scale" in result.missing_keys
    assert np.array_equal(net.head.weight._data, np.ones((2, 4)))
    with pytest.raises(RuntimeError, match="mis-shaped"):
        net.load_state_dict({"head.weight": dg.ones(4, 2)}, strict=False)


# -- repr ---------------------------------------------------------------------------------------------
def test_nested_repr():
    text = repr(Net())
    assert text.splitlines() == [
        "Net(",
        "  (block): Block(",
        "    (fc): Linear(in_features=3, out_features=4, bias=True)",
        "  )",
        "  (head): Linear(in_features=4, out_features=2, bias=False)",
        ")",
    ]


def test_deepcopy_of_module_is_independent():
    net = Net()
    clone = copy.deepcopy(net)
    assert clone.head.weight is not net.head.weight
    assert np.array_equal(clone.head.weight._data, net.head.weight._data)
    with dg.no_grad():
        clone.head.weight.fill_(0)
    assert net.head.weight._data.any()


@pytest.mark.parity
def test_names_and_order_match_torch():
    torch = pytest.importorskip("torch")

    class TBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 4)
            self.scale = torch.nn.Parameter(torch.ones(4))
            self.register_buffer("running", torch.zeros(4))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)
            self.register_buffer("count", torch.tensor(0))

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = TBlock()
            self.head = torch.nn.Linear(4, 2, bias=False)

    ours, theirs = Net(), TNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
