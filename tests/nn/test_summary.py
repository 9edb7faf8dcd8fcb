"""nn.summary: layer table, parameter counts, memory, and that the model is left untouched."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(5, 4)

    def forward(self, x, y):
        return self.a(x) + self.b(y)


def _model():
    return nn.Sequential(
        nn.Linear(10, 20), nn.Sequential(nn.Linear(20, 8), nn.Maxout(8, 4, pieces=2)), nn.Flatten()
    )


def test_rows_shapes_and_counts():
    model = _model()
    info = nn.summary(model, (16, 10), print_table=False)
    assert [(r.name, r.type) for r in info.rows] == [
        ("0", "Linear"),
        ("1", "Sequential"),
        ("1.0", "Linear"),
        ("1.1", "Maxout"),
        ("2", "Flatten"),
    ]
    assert [r.output_shape for r in info.rows] == [(16, 20), (16, 4), (16, 8), (16, 4), (16, 4)]
    assert [r.params for r in info.rows] == [10 * 20 + 20, 0, 20 * 8 + 8, 8 * 2 * 4 + 4 * 2, 0]
    assert info.total_params == sum(p.numel() for p in model.parameters())
    assert info.trainable_params == info.total_params and info.non_trainable_params == 0
    assert info.output_shape == (16, 4)


def test_memory_totals():
    model = _model()
    info = nn.summary(model, (16, 10), print_table=False)
    assert info.input_bytes == 16 * 10 * 4
    assert info.param_bytes == 4 * info.total_params
    # leaf outputs only (the nested Sequential's output is its last layer's): 16 x (20 + 8 + 4 + 4) floats
    assert info.activation_bytes == 4 * 16 * (20 + 8 + 4 + 4)
    assert (
        info.total_bytes
        == info.input_bytes + info.activation_bytes + info.param_bytes + info.buffer_bytes
    )


def test_frozen_layers_count_as_non_trainable():
    model = _model()
    model[0].requires_grad_(False)
    info = nn.summary(model, (2, 10), print_table=False)
    assert info.non_trainable_params == 220 and info.rows[0].non_trainable_params == 220
    assert info.trainable_params == info.total_params - 220


def test_printed_table(capsys):
    info = nn.summary(_model(), (16, 10))
    printed = capsys.readouterr().out
    assert printed.strip() == str(info).strip()
    assert "1.1 (Maxout)" in printed and "(16, 8)" in printed
    assert f"Total params: {info.total_params:,}" in printed
    assert "Non-trainable params: 0" in printed


def test_model_state_is_left_alone():
    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.register_buffer("calls", dg.zeros(1))
            self.seen_training = []

        def forward(self, x):
            self.seen_training.append(self.training)
            return self.fc(x)

    model = Counting()
    model.fc.eval()  # mixed modes must come back as they were
    state = dg.get_rng_state()
    nn.summary(model, (3, 2), print_table=False)
    assert model.seen_training == [False]  # summary runs in eval mode
    assert model.training and not model.fc.training
    assert (
        not model._forward_hooks and not model.fc._forward_hooks and not model.fc._forward_pre_hooks
    )
    assert dg.get_rng_state() == state
    assert all(p.grad is None for p in model.parameters())


def test_multiple_inputs_and_shared_module():
    info = nn.summary(TwoInputs(), [(2, 3), (2, 5)], print_table=False)
    assert info.input_shapes == [(2, 3), (2, 5)] and info.output_shape == (2, 4)
    assert info.input_bytes == 4 * (6 + 10)
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.Identity(), shared)
    info = nn.summary(model, (1, 4), print_table=False)
    assert [r.name for r in info.rows] == ["0", "1"] and info.rows[0].calls == 2
    assert info.total_params == 20
    assert "x2" in str(info)


def test_single_layer_and_integer_input():
    info = nn.summary(nn.Linear(3, 2), (5, 3), print_table=False)
    assert (
        len(info.rows) == 1 and info.rows[0].output_shape == (5, 2) and info.activation_bytes == 40
    )
    info = nn.summary(nn.Identity(), (4,), dtype="int64", print_table=False)
    assert info.input_bytes == 32


def test_errors():
    with pytest.raises(TypeError, match="must be a deepgrad.nn.Module"):
        nn.summary(lambda x: x, (1, 2))
    with pytest.raises(ValueError, match="input_shape must be a tuple of ints"):
        nn.summary(nn.Linear(2, 2), "2x2")
    layer = nn.Linear(2, 2)
    with pytest.raises(dg.ShapeError) as info:
        nn.summary(layer, (1, 3), print_table=False)
    assert any("summary: the forward pass on a zero input" in note for note in info.value.__notes__)
    # A failed forward still leaves the model as it was: no hooks, training mode back.
    assert layer.training and not layer._forward_hooks and not layer._forward_pre_hooks


@pytest.mark.parity
def test_parameter_counts_match_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    theirs = tnn.Sequential(tnn.Linear(10, 20), tnn.Sequential(tnn.Linear(20, 8)), tnn.Flatten())
    ours = nn.Sequential(nn.Linear(10, 20), nn.Sequential(nn.Linear(20, 8)), nn.Flatten())
    info = nn.summary(ours, (16, 10), print_table=False)
    assert info.total_params == sum(p.numel() for p in theirs.parameters())
    assert info.output_shape == tuple(theirs(torch.zeros(16, 10)).shape)
    assert np.isclose(
        info.param_bytes, sum(p.numel() * p.element_size() for p in theirs.parameters())
    )
