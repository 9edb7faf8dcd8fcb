"""A type checker sees Tensor's methods: mypy accepts a small user program and catches a typo.

Tensor's methods are defined on the class with their signatures (deepgrad/autograd/tensor.py),
so ``dg.randn(3).exp()`` type-checks and ``.exp()`` returns a Tensor.
"""

from __future__ import annotations

import runpy
import textwrap
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parents[1]

USER_PROGRAM = """
import deepgrad as dg

x = dg.randn(3, 4, requires_grad=True)
w = dg.randn(4, 2)
loss = ((x @ w).relu().exp() - 1.0).pow(2).mean()
loss.backward()
dg.randn(3, requires_grad=True).exp().sum().backward()
value: float = loss.item()
m = x.mean(dim=0).reshape(2, 2).T
b = (2 * x + 1 - x / 3) ** 2 % 5
c = -b.abs().sqrt().log1p().tanh().sigmoid().clamp(min=0.1)
best = c.max(dim=1)
values: dg.Tensor = best.values
indices: dg.Tensor = c.argmax(dim=1)
largest: dg.Tensor = c.max()
mask = (x > 0) & (x < 1) | ~(x == 0.5)
row: dg.Tensor = x[0, 1:]
y = x.detach().clone()
y += 1
y.add_(1, alpha=2).mul_(0.5).zero_()
z = x.float().double().to("cpu").to(dg.float32).cpu()
parts: tuple[dg.Tensor, ...] = x.split(2, dim=1)
n: int = x.shape[0] + x.size(1) + x.numel() + x.ndim
name: str = x.type()
p = x.softmax(dim=-1).log_softmax(1).flatten().unsqueeze(0).squeeze(0).sum(dim=(0,), keepdim=True)
q = x.permute(1, 0).transpose(0, 1).view(-1).expand(2, 12).unbind(0)[0]
if x.requires_grad and x.grad is not None:
    g: dg.Tensor = x.grad
"""


def _mypy(source: str, tmp_path: Path) -> tuple[str, int]:
    program = tmp_path / "user_program.py"
    program.write_text(textwrap.dedent(source))
    stdout, stderr, status = api.run(
        [
            str(program),
            "--follow-imports=silent",  # check the program, not deepgrad's own modules
            "--no-incremental",
            "--cache-dir=" + str(tmp_path / "cache"),
            "--python-version=3.10",
            "--show-error-codes",
        ]
    )
    return stdout + stderr, status


def test_mypy_accepts_a_user_program_that_calls_tensor_methods(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # import this checkout's deepgrad
    output, status = _mypy(USER_PROGRAM, tmp_path)
    assert status == 0, output
    runpy.run_path(str(tmp_path / "user_program.py"))  # and the annotations tell the truth: it runs


def test_mypy_reports_a_method_tensor_does_not_have(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    program = "import deepgrad as dg\ndg.randn(3).exp().sume()\nreveal_type(dg.randn(3).exp())\n"
    output, status = _mypy(program, tmp_path)
    assert status == 1
    assert '"Tensor" has no attribute "sume"' in output
    assert 'Revealed type is "deepgrad.autograd.tensor.Tensor"' in output
