"""The package's layers import only the layers below them (DESIGN.md, STYLE.md 3.1)."""

from __future__ import annotations

import ast
from pathlib import Path

ORDER = ["backend", "autograd", "ops", "nn", "optim", "data", "train", "models", "io", "viz", "cli", "cuda", "func"]
RANK = {
    "backend": 0,
    "autograd": 1,
    "func": 1,
    "ops": 2,
    "nn": 3,
    "io": 3,
    "optim": 4,
    "data": 5,
    "train": 6,
    "viz": 6,
    "cuda": 2,
    "models": 7,
    "cli": 8,
}
PACKAGE = Path(__file__).resolve().parents[1] / "deepgrad"
# Upward imports allowed by name: (file, layer it may import) -> why.
ALLOWED = {
    ("autograd/tensor.py", "ops"): "Tensor's methods are one-line delegations to the op modules, "
    "imported at the bottom of tensor.py (after the class that ops imports).",
}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "deepgrad" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def test_lower_layers_never_import_higher_ones():
    violations = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1:
            own = rel.stem if rel.stem in RANK else None
        else:
            own = rel.parts[0]
        if own is None or own not in RANK:
            continue
        for lineno, module in _imports(path):
            layer = _layer(module)
            if layer in RANK and RANK[layer] > RANK[own] and (rel.as_posix(), layer) not in ALLOWED:
                violations.append(f"{rel}:{lineno} ({own}) imports {module} ({layer})")
    assert not violations, "layering violations:\n" + "\n".join(violations)


def test_package_never_imports_torch():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for lineno, module in _imports(path):
            if module == "torch" or module.startswith("torch."):
                offenders.append(f"{path.relative_to(PACKAGE)}:{lineno}")
    assert not offenders, "deepgrad must not import torch at run time: " + ", ".join(offenders)
