"""explain(): the report a learner reads."""

from __future__ import annotations

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn


def test_explain_shows_graph_passes_fusion_memory_backward_and_times(capsys):
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = dg.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        h = model(x)
        loss = F.cross_entropy(h * 2.0 + 1.0, y)
        loss.backward()
        opt.step()
        return loss

    text = dg.compile.explain(dg.compile(step), dg.randn(5, 4), dg.randint(0, 3, (5,)))
    assert capsys.readouterr().out.strip() == text.strip()
    for heading in (
        "== graph as traced: ",
        "== passes ==",
        "== graph after the passes: ",
        "== fusion groups ==",
        "== memory plan: ",
        "== backward of ",
        "== time per step of one compiled call: ",
        "compile time: trace ",
    ):
        assert heading in text
    assert "SGD.zero_grad()" in text and "SGD.step()" in text
    assert "fused_0: Mul; Add" in text and "multiply(env[" in text
    assert "EagerIsland[_cross_entropy_indices]" in text


def test_explain_reports_graph_breaks():
    text = dg.compile.explain(lambda x: x * float(x.sum()), dg.ones(2), show=False)
    assert "== graph breaks" in text and "__float__" in text


def test_explain_times_warm_calls_only_when_the_function_changes_no_state(monkeypatch):
    """A pure function is timed after a warm-up (the first call allocates and is cold); a
    training step runs once, since every further call would train further."""
    import importlib

    explain_module = importlib.import_module("deepgrad.compile.explain")
    calls = []
    real = explain_module.run_timed
    monkeypatch.setattr(explain_module, "run_timed", lambda *a: calls.append(1) or real(*a))
    text = dg.compile.explain(lambda x: (x * 2.0 + 1.0).sum(), dg.ones(64), show=False)
    assert f"(fastest of {explain_module.TIMED_CALLS} warm calls)" in text
    assert len(calls) == 1 + explain_module.TIMED_CALLS

    calls.clear()
    model = nn.Linear(4, 2)
    opt = dg.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()

    before = model.weight.detach().clone()
    text = dg.compile.explain(step, dg.ones(3, 4), show=False)
    assert "(one call, the first (it changes state" in text and len(calls) == 1
    # two steps in all: the traced eager call and the one timed call
    expected = before - 2 * 0.1 * dg.ones(2, 4) * 3
    assert dg.allclose(model.weight.detach(), expected)
