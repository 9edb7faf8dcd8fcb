"""Code-health numbers for the package, and the ratchets CI enforces on them.

    python tools/code_health.py              # print the report
    python tools/code_health.py --check      # fail (exit 1) when a ratchet is broken
    python tools/code_health.py --update     # write the current counts as the new baseline

Measured: the longest functions (in lines, docstrings not counted), the files over 500 lines,
the share of public functions that are fully typed, ruff findings and mypy errors. The ratchets
(baseline in ``tools/health_baseline.json``):

- untyped public functions, per module, may only fall; a module absent from the baseline (a new
  module) must have none;
- mypy errors, per module, may only fall; a new module must have none;
- no function over ``MAX_FUNCTION_LINES`` and no file over ``MAX_FILE_LINES`` unless listed in
  ``LONG_ALLOWED`` with the reason.

A public function is one whose name and enclosing class names do not start with ``_`` (dunders
other than ``__init__`` and ``__call__`` are left out: their types are the protocol's). Fully typed:
every parameter but ``self``/``cls`` is annotated, and the return is annotated (``__init__`` may omit
its return).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "deepgrad"
BASELINE = ROOT / "tools" / "health_baseline.json"
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 600

# name -> why it stays long. Keys are "path" for files, "path::qualname" for functions.
_PRIMITIVES = (
    "primitives of one kind, each forward and backward on one screen; over 600 lines only since "
    "the tree was formatted to 100 columns (2026-12): the next split by kind"
)
LONG_ALLOWED: dict[str, str] = {
    "deepgrad/autograd/tensor.py": (
        "the whole Tensor API as visible one-line typed methods on one class (issue 10): a class "
        "spread over mixins would hide methods from readers and go-to-definition again"
    ),
    "deepgrad/ops/elementwise.py": _PRIMITIVES,
    "deepgrad/ops/conv.py": _PRIMITIVES,
    "deepgrad/ops/pool.py": _PRIMITIVES,
    "deepgrad/data/augment.py": "one transform per class, with its docstring; next split by kind",
    "deepgrad/data/preprocessing.py": "one fitted transform per class; next split by kind",
    "deepgrad/nn/rnn.py": "RNN/LSTM/GRU layers and cells sharing one forward; next split by kind",
    "deepgrad/autograd/engine.py::_Pass.propagate": (
        "the engine's hot loop, kept in one frame: every call it saves is paid per node "
        "(docs/performance.md, note 7)"
    ),
    "deepgrad/nn/conv.py::_ConvNd.__init__": "argument checks of all conv layers in one place",
    "deepgrad/train/plots.py::plot_activation_histograms": "straight-line plotting code",
    "deepgrad/viz.py::draw_graph_matplotlib": "straight-line plotting code",
}


@dataclass(frozen=True)
class FunctionInfo:
    path: str
    qualname: str
    lines: int
    public: bool
    typed: bool


def _is_typed(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = node.args
    params = args.posonlyargs + args.args + args.kwonlyargs
    if params and params[0].arg in ("self", "cls"):
        params = params[1:]
    extra = [a for a in (args.vararg, args.kwarg) if a is not None]
    if any(p.annotation is None for p in params + extra):
        return False
    return node.returns is not None or node.name == "__init__"


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines taken by the function's docstring: documentation does not count toward its length."""
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return (first.end_lineno or first.lineno) - first.lineno + 1
    return 0


def _functions(path: Path) -> list[FunctionInfo]:
    tree = ast.parse(path.read_text(), filename=str(path))
    rel = str(path.relative_to(ROOT))
    found: list[FunctionInfo] = []

    def visit(node: ast.AST, scope: list[str], public_scope: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, scope + [child.name], public_scope and not child.name.startswith("_"))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name
                dunder = name.startswith("__") and name.endswith("__")
                public = public_scope and (
                    name in ("__init__", "__call__") or (not dunder and not name.startswith("_"))
                )
                length = (
                    (child.end_lineno or child.lineno) - child.lineno + 1 - _docstring_lines(child)
                )
                qualname = ".".join(scope + [name])
                found.append(FunctionInfo(rel, qualname, length, public, _is_typed(child)))
                visit(child, scope + [name], False)  # nested functions are never public

    private_module = any(part.startswith("_") and part != "__init__.py" for part in path.parts[-1:])
    visit(tree, [], not private_module)
    return found


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def collect() -> tuple[list[FunctionInfo], dict[str, int]]:
    functions: list[FunctionInfo] = []
    file_lines: dict[str, int] = {}
    for path in package_files():
        functions.extend(_functions(path))
        file_lines[str(path.relative_to(ROOT))] = len(path.read_text().splitlines())
    return functions, file_lines


def untyped_by_module(functions: list[FunctionInfo]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for f in functions:
        if f.public and not f.typed:
            counts[f.path] += 1
    return dict(sorted(counts.items()))


_MYPY_LINE = re.compile(r"^(deepgrad/[^:]+\.py):\d+: error:")


def mypy_errors_by_module() -> dict[str, int]:
    """Run mypy on the package (config in pyproject.toml) and count its errors per file."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "deepgrad"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"code_health: mypy failed to run:\n{result.stdout}{result.stderr}")
    counts: Counter[str] = Counter()
    for line in result.stdout.splitlines():
        match = _MYPY_LINE.match(line)
        if match:
            counts[match.group(1)] += 1
    return dict(sorted(counts.items()))


def ruff_findings() -> int | None:
    """Number of `ruff check` findings on the package and tests, or None without ruff."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--quiet", "--output-format", "concise", "."],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if "No module named ruff" in result.stderr:
        return None
    return sum(1 for line in result.stdout.splitlines() if re.match(r"^\S+:\d+:\d+: ", line))


def ratchet_failures(current: dict[str, int], baseline: dict[str, int], what: str) -> list[str]:
    """Modules whose count rose above the baseline (new modules have a baseline of 0)."""
    failures = []
    for module, count in current.items():
        allowed = baseline.get(module, 0)
        if count > allowed:
            failures.append(
                f"{module}: {count} {what} (baseline {allowed}); "
                + ("new modules must have none" if module not in baseline else "it may only fall")
            )
    return failures


def length_failures(functions: list[FunctionInfo], file_lines: dict[str, int]) -> list[str]:
    failures = []
    for f in functions:
        key = f"{f.path}::{f.qualname}"
        if f.lines > MAX_FUNCTION_LINES and key not in LONG_ALLOWED:
            failures.append(
                f"{key}: {f.lines} lines (limit {MAX_FUNCTION_LINES}); split it or add it to "
                "LONG_ALLOWED in tools/code_health.py with the reason"
            )
    for path, lines in file_lines.items():
        if lines > MAX_FILE_LINES and path not in LONG_ALLOWED:
            failures.append(
                f"{path}: {lines} lines (limit {MAX_FILE_LINES}); split it by kind or add it to "
                "LONG_ALLOWED in tools/code_health.py with the reason"
            )
    return failures


def report(functions: list[FunctionInfo], file_lines: dict[str, int], with_tools: bool) -> str:
    public = [f for f in functions if f.public]
    typed = sum(f.typed for f in public)
    longest = sorted(functions, key=lambda f: -f.lines)[:10]
    lines = [
        f"files: {len(file_lines)}, lines: {sum(file_lines.values())}",
        f"files over 500 lines: {sum(n > 500 for n in file_lines.values())}",
        f"functions over 50 / {MAX_FUNCTION_LINES} lines: {sum(f.lines > 50 for f in functions)}"
        f" / {sum(f.lines > MAX_FUNCTION_LINES for f in functions)}",
        f"fully typed public functions: {typed}/{len(public)} ({100 * typed / max(len(public), 1):.0f}%)",
        "longest functions:",
        *(f"  {f.lines:4d}  {f.path}::{f.qualname}" for f in longest),
    ]
    if with_tools:
        mypy = mypy_errors_by_module()
        lines.append(f"mypy errors: {sum(mypy.values())} in {len(mypy)} files")
        ruff = ruff_findings()
        lines.append(f"ruff findings: {'ruff not installed' if ruff is None else ruff}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail when a ratchet is broken")
    mode.add_argument("--update", action="store_true", help="write the current counts as baseline")
    args = parser.parse_args(argv)

    functions, file_lines = collect()
    if args.update:
        baseline = {"untyped_public": untyped_by_module(functions), "mypy": mypy_errors_by_module()}
        BASELINE.write_text(json.dumps(baseline, indent=1, sort_keys=True) + "\n")
        print(f"code_health: baseline written to {BASELINE.relative_to(ROOT)}")
        return 0
    if not args.check:
        print(report(functions, file_lines, with_tools=True))
        return 0
    baseline = json.loads(BASELINE.read_text())
    failures = (
        ratchet_failures(
            untyped_by_module(functions), baseline["untyped_public"], "untyped public functions"
        )
        + ratchet_failures(mypy_errors_by_module(), baseline["mypy"], "mypy errors")
        + length_failures(functions, file_lines)
    )
    for failure in failures:
        print(f"code_health: {failure}")
    if not failures:
        print("code_health: all ratchets hold")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
