"""CPU code generation with numba: one loop over the elements for a fused group.

NumPy runs a fused group as one ufunc call per op, each writing its whole result to memory
(``fusion.py``). A numba kernel runs the group's chain element by element, keeping the
intermediates in registers, and writes out only the values that something else reads (a later
node, a backward rule's saved input or output, the function's result)::

    @njit(cache=True, error_model="numpy")
    def kernel(x5, x7, y9):
        for k in range(x5.shape[0]):
            a5 = x5[k]
            a7 = x7[k]
            v8 = a5 + a7  # %8 = Add(%5, %7)
            v9 = v8 if v8 > Z or v8 != v8 else Z  # %9 = Relu(%8)
            y9[k] = v9

A group that ends in a ``Sum`` over trailing dims (the sum of squares of a loss, the mean of a
block's outputs) becomes one kernel that accumulates each row instead of writing the summed
values (reduction fusion): the sum of float32 values accumulates in float64.

Which ops: those IEEE 754 rounds exactly (+, -, *, /, sqrt, negation, relu). With no fast-math
flags a kernel of them gives NumPy's values bit for bit; only a fused sum adds in another order
than NumPy's pairwise sum (16 lanes, flushed into a float64 total every 1024 elements), so a
reduction agrees with eager mode within reassociation tolerance. exp, log, log1p and tanh stay
NumPy's: in numba they are scalar C-library calls, which measured 4-15x slower per element than
NumPy's vectorized loops (a group of Mul, Add, Exp, Mul and a sum: 345 us against 93 us), and
their last bits differ from NumPy's, which a float32 GAN step with Adam amplified to 1e-3.

The source of each kernel is written once to the cache folder (``$DEEPGRAD_COMPILE_CACHE``, or
``~/.cache/deepgrad/compile``), named by its hash, and imported from there, so that numba's
``cache=True`` keeps the machine code on disk: a kernel compiles once per machine (~0.3 s) and
loads in milliseconds afterwards. numba is imported only when a group asks for a kernel.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from deepgrad.compile.graph import Node, Value
from deepgrad.ops import elementwise as ew

__all__ = [
    "CHOICES",
    "EXPRESSIONS",
    "available",
    "cache_dir",
    "codegen_choice",
    "group_function",
    "kernel_source",
    "use_codegen",
]

# primitive -> Python expression of its inputs' scalars ({0}, {1}); Z is zero in the group's dtype
EXPRESSIONS: dict[type, str] = {
    ew.Add: "{0} + {1}",
    ew.Sub: "{0} - {1}",
    ew.Mul: "{0} * {1}",
    ew.Div: "{0} / {1}",
    ew.Neg: "-{0}",
    ew.Sqrt: "math.sqrt({0})",  # correctly rounded (IEEE 754), as NumPy's
    ew.Relu: "{0} if {0} > Z or {0} != {0} else Z",  # NaN stays NaN and -0 becomes +0, as maximum
}
DTYPES = (np.dtype("float32"), np.dtype("float64"))
CHOICES = ("auto", "numba", "numpy")

_choice = "auto"
_kernels: dict[str, Callable[..., Any]] = {}


class use_codegen:
    """Choose the CPU code of fused groups: ``"auto"`` (by measurement), ``"numba"``, ``"numpy"``.

    The choice is read when a program is built (the third call of a compiled function's
    signature); usable as a call (from now on) or as a context manager (inside the block).
    ``"numba"`` still keeps NumPy where numba is missing or switched off
    (``deepgrad.backend.kernels.use_numba(False)``) and for groups it cannot take.

    Example:
        >>> from deepgrad.compile.passes.numba_codegen import codegen_choice, use_codegen
        >>> with use_codegen("numpy"):
        ...     codegen_choice()
        'numpy'
    """

    def __init__(self, choice: str) -> None:
        global _choice
        if choice not in CHOICES:
            raise ValueError(
                f"use_codegen: unknown choice {choice!r}; the choices are {', '.join(CHOICES)}."
            )
        self.previous = _choice
        _choice = choice

    def __enter__(self) -> use_codegen:
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _choice
        _choice = self.previous


def codegen_choice() -> str:
    """The current choice (one of CHOICES)."""
    return _choice


def cache_dir() -> Path | None:
    """Where kernel sources (and numba's machine code) live; None: nowhere (no numba kernels)."""
    configured = os.environ.get("DEEPGRAD_COMPILE_CACHE")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deepgrad" / "compile"


def available() -> bool:
    """Whether numba kernels can be made: numba installed and on, and a cache folder set."""
    from deepgrad.backend.kernels import numba_enabled

    return numba_enabled() and cache_dir() is not None


def usable(members: list[Node]) -> bool:
    """Whether a group can be one kernel: known ops, one float dtype, one shape (or 0-d inputs)."""
    first = members[0].output
    dtype = np.dtype(first.dtype)
    if dtype not in DTYPES:
        return False
    for member in members:
        if member.fn not in EXPRESSIONS or len(member.outputs) != 1:
            return False
        if member.output.shape != first.shape or np.dtype(member.output.dtype) != dtype:
            return False
        for value in member.inputs:
            if value.shape not in (first.shape, ()) or np.dtype(value.dtype) != dtype:
                return False
    return True


def reads(members: list[Node]) -> list[int]:
    """The indices of the values the group reads from outside, in order of first use."""
    produced = {m.output.index for m in members}
    found = [v.index for m in members for v in m.inputs if v.index not in produced]
    return list(dict.fromkeys(found))


def kernel_source(members: list[Node], written: list[int], reduce_into: Value | None) -> str:
    """The module of one kernel: ``kernel(*inputs, *written outputs[, row sums])``."""
    inputs = reads(members)
    params = [f"x{i}" for i in inputs] + [f"y{i}" for i in written]
    if reduce_into is not None:
        params.append("r")
    dtype = np.dtype(members[0].output.dtype).name
    scalars = {v.index for m in members for v in m.inputs if v.shape == () != m.output.shape}
    body = [f"a{i} = x{i}[k]" for i in inputs if i not in scalars]
    for member in members:
        names = [f"v{v.index}" if v.producer in members else f"a{v.index}" for v in member.inputs]
        out = member.output.index
        body.append(f"v{out} = {EXPRESSIONS[member.fn].format(*names)}  # {member.describe()}")
        if out in written:
            body.append(f"y{out}[k] = v{out}")
    lines = [
        "import math",
        "",
        "import numpy as np",
        "from numba import njit",
        "",
        f"Z = np.{dtype}(0.0)",
        "",
        "",
        '@njit(cache=True, error_model="numpy")',
        f"def kernel({', '.join(params)}):",
    ]
    lines += [f"    a{i} = x{i}[0]" for i in inputs if i in scalars]  # 0-d: read once
    first = next(f"x{i}" for i in inputs if i not in scalars)
    if reduce_into is None:
        lines.append(f"    for k in range({first}.shape[0]):")
        lines += [f"        {line}" for line in body]
    else:
        lines += _reduction_loop(first, body, f"v{members[-1].output.index}", dtype)
    return "\n".join(lines) + "\n"


def _reduction_loop(first: str, body: list[str], last: str, dtype: str) -> list[str]:
    """Row sums of the (rows, inner) view: 16 lanes in the group's dtype (a loop LLVM
    vectorizes without reassociating), added into a float64 total every 1024 elements."""
    return [
        f"    acc = np.zeros(16, dtype=np.{dtype})",
        "    rows = r.shape[0]",
        f"    inner = {first}.shape[0] // rows",
        "    for i in range(rows):",
        "        base = i * inner",
        "        total = 0.0",
        "        acc[:] = 0",
        "        j = 0",
        "        while j + 16 <= inner:",
        "            for lane in range(16):",
        "                k = base + j + lane",
        *[f"                {line}" for line in body],
        f"                acc[lane] += {last}",
        "            j += 16",
        "            if j % 1024 == 0:",
        "                total += acc.sum()",
        "                acc[:] = 0",
        "        total += acc.sum()",
        "        for k in range(base + j, base + inner):",
        *[f"            {line}" for line in body],
        f"            total += {last}",
        "        r[i] = total",
    ]


def load(source: str) -> Callable[..., Any]:
    """The kernel of ``source``: written to the cache folder once, imported, kept per process."""
    key = hashlib.sha256(source.encode()).hexdigest()[:20]
    kernel = _kernels.get(key)
    if kernel is not None:
        return kernel
    folder = cache_dir()
    if folder is None:
        raise RuntimeError("internal: numba kernels need a cache folder (available() is False).")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fused_{key}.py"
    if not path.exists() or path.read_text() != source:
        partial = folder / f".fused_{key}.{os.getpid()}.tmp"
        partial.write_text(source)
        os.replace(partial, path)  # atomic: another process never imports half a file
    spec = importlib.util.spec_from_file_location(f"deepgrad_fused_{key}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"internal: cannot import the generated kernel {path}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # numba's disk cache finds the kernel's globals by name
    spec.loader.exec_module(module)
    kernel = _kernels[key] = module.kernel
    return kernel


def group_function(
    members: list[Node], written: list[Value], reduction: Node | None
) -> tuple[Callable[[list, dict], None], str]:
    """The group's step ``function(env, out)`` (one kernel call) and the kernel's source.

    ``written``: the values the kernel stores (member outputs others read, then the
    reduction's output when ``reduction`` is a trailing-dims ``Sum`` of the last member).
    """
    stored = [v for v in written if reduction is None or v is not reduction.output]
    reduce_into = reduction.output if reduction is not None else None
    source = kernel_source(members, [v.index for v in stored], reduce_into)
    kernel = load(source)
    inputs = reads(members)
    outputs = [(v.index, v.shape, v.dtype) for v in written]
    ravel, empty = np.ravel, np.empty

    def function(env: list, out: dict) -> None:
        arrays = [ravel(env[i]) for i in inputs]  # a view, or a C-ordered copy of a strided one
        results = []
        for index, shape, dtype in outputs:
            array = out.get(index)
            results.append(empty(shape, dtype=dtype) if array is None else array)
        kernel(*arrays, *[r.reshape(-1) for r in results])
        for (index, _, _), array in zip(outputs, results):
            env[index] = array

    return function, source
