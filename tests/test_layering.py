"""The package's layers import only the layers below them (docs/architecture.md).

Every package and top-level module of ``deepgrad`` has a rank; a module may import its own
package and lower ranks only. Packages of one rank must not import each other. An unranked
package fails the test, so a new one has to be placed on purpose. ``from deepgrad import X``
resolves to ``deepgrad.X`` when X is a submodule, else to the package root, whose rank is that
of the highest layer it imports eagerly. Relative imports are resolved too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RANK = {
    "backend": 0,
    "autograd": 1,
    "cuda": 1,
    "ops": 2,
    "io": 2,
    "amp": 2,
    "func": 2,
    "viz": 2,
    "accelerator": 2,
    "backends": 2,
    "nn": 3,
    "distributions": 3,
    "optim": 4,
    "compile": 4,
    "data": 5,
    "distributed": 6,
    "utils": 7,
    "train": 8,
    "models": 9,
    "onnx": 9,
    "rl": 9,
    "experiments": 10,
    "cli": 11,
}
ROOT_MODULE = "__init__"  # deepgrad/__init__.py: the aggregator, ranked by what it imports

# (importing file, imported layer) -> why this one upward import is allowed.
UPWARD_ALLOWED: dict[tuple[str, str], str] = {
    ("autograd/tensor.py", "ops"): (
        "Tensor's methods are visible one-line delegations to the op modules, which are imported "
        "at the bottom of tensor.py, after the class they build on exists (docs/internals.md)."
    ),
    ("nn/__init__.py", "distributed"): (
        "nn.SyncBatchNorm is PyTorch's path for a layer that needs collectives; the module "
        "__getattr__ imports it from deepgrad.distributed on first use, so nn never imports MPI."
    ),
    ("nn/parallel/__init__.py", "distributed"): (
        "nn.parallel.DistributedDataParallel is PyTorch's path; DDP needs process groups and "
        "lives in deepgrad.distributed, looked up lazily by the module __getattr__."
    ),
    ("data/distributed.py", "distributed"): (
        "DistributedSampler asks the process group for rank and world size only when they are "
        "not given, inside __init__ (as PyTorch's does); data never imports MPI otherwise."
    ),
}

PACKAGE = Path(__file__).resolve().parents[1] / "deepgrad"


def _own_layer(rel: Path) -> str:
    if len(rel.parts) == 1:
        return ROOT_MODULE if rel.stem == "__init__" else rel.stem
    return rel.parts[0]


def _absolute(module: str | None, level: int, rel: Path) -> str:
    """The absolute dotted name of a (possibly relative) import in the file ``rel``."""
    if level == 0:
        return module or ""
    package = ["deepgrad", *rel.parts[:-1]]
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imports(path: Path, rel: Path, root: Path):
    """(line, target module, lazy) for each import of ``path``; ``from deepgrad import X`` resolved."""
    tree = ast.parse(path.read_text())
    lazy_lines = {
        n.lineno
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        for n in ast.walk(f)
        if isinstance(n, (ast.Import, ast.ImportFrom))
    }
    for node in ast.walk(tree):
        lazy = node.lineno in lazy_lines if hasattr(node, "lineno") else False
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, lazy
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node.module, node.level, rel)
            if module == "deepgrad":
                for alias in node.names:
                    is_sub = (root / alias.name).is_dir() or (root / f"{alias.name}.py").is_file()
                    yield node.lineno, f"deepgrad.{alias.name}" if is_sub else "deepgrad", lazy
            else:
                yield node.lineno, module, lazy


def _target_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "deepgrad":
        return None
    return parts[1] if len(parts) > 1 else ROOT_MODULE


def layering_violations(root: Path, rank: dict[str, int]) -> list[str]:
    """Every upward import, same-rank cross import and unranked layer below ``root``."""
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    layers = {_own_layer(p.relative_to(root)) for p in files} - {ROOT_MODULE}
    problems = [
        f"{name}: no rank; add it to RANK in tests/test_layering.py and docs/architecture.md"
        for name in sorted(layers - rank.keys())
    ]
    root_rank = max(
        (
            rank.get(_target_layer(m) or "", -1)
            for _, m, lazy in _imports(root / "__init__.py", Path("__init__.py"), root)
            if not lazy
        ),
        default=0,
    )
    ranks = {**rank, ROOT_MODULE: root_rank}
    for path in files:
        rel = path.relative_to(root)
        own = _own_layer(rel)
        if own == ROOT_MODULE or own not in ranks:
            continue
        for lineno, module, _ in _imports(path, rel, root):
            target = _target_layer(module)
            if target is None or target == own or target not in ranks:
                continue
            upward = ranks[target] > ranks[own]
            sideways = ranks[target] == ranks[own] and target != ROOT_MODULE
            if (upward or sideways) and (rel.as_posix(), target) not in UPWARD_ALLOWED:
                how = "upward" if upward else "same-rank"
                problems.append(
                    f"{rel}:{lineno} ({own}, rank {ranks[own]}) imports {module} "
                    f"({target}, rank {ranks[target]}): {how} import"
                )
    return problems


def test_lower_layers_never_import_higher_ones():
    problems = layering_violations(PACKAGE, RANK)
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_package_never_imports_torch():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        for lineno, module, _ in _imports(path, rel, PACKAGE):
            if module == "torch" or module.startswith("torch."):
                offenders.append(f"{rel}:{lineno}")
    assert not offenders, "deepgrad must not import torch at run time: " + ", ".join(offenders)


def _plant(root: Path, files: dict[str, str]) -> Path:
    package = root / "deepgrad"
    for name, text in {"__init__.py": "", **files}.items():
        target = package / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return package


@pytest.mark.parametrize(
    "source",
    [
        "from deepgrad.nn import Linear\n",
        "import deepgrad.nn.functional\n",
        "from deepgrad import nn\n",
        "from .. import nn\n",
        "def later():\n    from deepgrad.nn import Linear\n",
    ],
    ids=["from-module", "import", "from-deepgrad-import", "relative", "lazy"],
)
def test_a_planted_upward_import_fails(tmp_path, source):
    package = _plant(
        tmp_path,
        {
            "ops/__init__.py": "",
            "ops/math.py": source,
            "nn/__init__.py": "",
            "nn/functional.py": "",
        },
    )
    problems = layering_violations(package, {"ops": 2, "nn": 3})
    assert len(problems) == 1 and "ops/math.py" in problems[0] and "upward" in problems[0]


def test_a_downward_import_passes(tmp_path):
    package = _plant(
        tmp_path, {"ops/__init__.py": "", "nn/__init__.py": "from deepgrad import ops\n"}
    )
    assert layering_violations(package, {"ops": 2, "nn": 3}) == []


def test_a_planted_unranked_package_fails(tmp_path):
    package = _plant(tmp_path, {"ops/__init__.py": "", "newthing/__init__.py": ""})
    problems = layering_violations(package, {"ops": 2})
    assert problems == [
        "newthing: no rank; add it to RANK in tests/test_layering.py and docs/architecture.md"
    ]


def test_packages_of_one_rank_do_not_import_each_other(tmp_path):
    package = _plant(
        tmp_path, {"nn/__init__.py": "", "distributions/__init__.py": "from deepgrad import nn\n"}
    )
    problems = layering_violations(package, {"nn": 3, "distributions": 3})
    assert len(problems) == 1 and "same-rank" in problems[0]


def test_the_package_root_ranks_as_its_highest_eager_import(tmp_path):
    package = _plant(
        tmp_path,
        {
            "__init__.py": "from deepgrad import ops\n",
            "ops/__init__.py": "",
            "autograd/__init__.py": "from deepgrad import Tensor\n",
            "nn/__init__.py": "from deepgrad import Tensor\n",
        },
    )
    problems = layering_violations(package, {"autograd": 1, "ops": 2, "nn": 3})
    assert len(problems) == 1 and problems[0].startswith("autograd/__init__.py:1")
