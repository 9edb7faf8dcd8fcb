"""``Trainer(compile=True)``: the compiled step trains to the weights of the eager one."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F
from deepgrad.compile import GraphBreakWarning
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.train import CompiledUpdater, GradientClipping, Trainer


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def _convnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 3),
    )


def _data(shape: tuple[int, ...], n: int = 40) -> DataLoader:
    rng = np.random.default_rng(0)
    x = dg.tensor(rng.standard_normal((n, *shape)))
    y = dg.tensor(rng.integers(0, 3, n))
    # 40 samples in batches of 16: two full batches and a last one of 8 (a second signature)
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)


def _fit(build, shape, compile: bool, epochs: int = 3, **kwargs):
    dg.manual_seed(0)
    model = build().double()
    optimizer = dg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = Trainer(model, F.cross_entropy, optimizer, progress=False, compile=compile, **kwargs)
    history = trainer.fit(_data(shape), epochs=epochs)
    state = [p._data.copy() for p in model.parameters()]
    state += [b._data.copy() for b in model.buffers()]
    return trainer, history, state


@pytest.mark.parametrize(
    ("build", "shape"), [(_mlp, (6,)), (_convnet, (1, 6, 6))], ids=["mlp_dropout", "conv_bn"]
)
def test_compiled_trainer_gives_the_eager_weights(build, shape):
    _, eager_history, eager = _fit(build, shape, compile=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no graph break, no recompile warning
        trainer, history, compiled = _fit(build, shape, compile=True)
    step = trainer.updater.step
    assert isinstance(trainer.updater, CompiledUpdater)
    assert step.eager_reason is None
    assert len(step.programs) == 2  # batches of 16 and the last one of 8
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    for a, b in zip(eager_history.epochs, history.epochs):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-12)


def test_compiled_trainer_runs_gradient_callbacks():
    _, _, eager = _fit(_mlp, (6,), compile=False, grad_clip=0.05)
    trainer, _, compiled = _fit(_mlp, (6,), compile=True, grad_clip=0.05)
    assert isinstance(trainer.callbacks[0], GradientClipping)
    assert trainer.updater.step.programs
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


class _ValueBranch(nn.Module):
    """A model whose Python control flow reads a tensor's value: a graph break."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(6, 3)

    def forward(self, x: dg.Tensor) -> dg.Tensor:
        out = self.linear(x)
        if out.sum() > 0:
            out = out * 2.0
        return out


def test_graph_break_falls_back_to_eager_and_trains():
    _, eager_history, eager = _fit(_ValueBranch, (6,), compile=False)
    with pytest.warns(GraphBreakWarning, match="graph break"):
        trainer, history, compiled = _fit(_ValueBranch, (6,), compile=True)
    assert trainer.updater.step.eager_reason is not None
    assert not trainer.updater.step.programs
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    assert history.epochs[-1]["loss"] < history.epochs[0]["loss"]
    assert [e["loss"] for e in history.epochs] == [e["loss"] for e in eager_history.epochs]


def test_compile_and_updater_together_are_refused():
    model = nn.Linear(2, 1)
    optimizer = dg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="compile=True and an updater"):
        Trainer(model, F.mse_loss, optimizer, compile=True, updater=CompiledUpdater())
