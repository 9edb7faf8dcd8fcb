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
