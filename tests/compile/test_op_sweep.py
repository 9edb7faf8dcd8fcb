"""Every op of the op table (tests/ops/op_db*.py), compiled with its backward, equals eager.

For each entry's first shape case, three calls on different float64 inputs (two traces, then
the compiled program): the outputs and the inputs' gradients must equal eager mode's. An op
whose trace breaks runs eagerly (and is listed); most must compile.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import deepgrad as dg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))

from op_db import all_specs

SPECS = [s for s in all_specs() if s.cases and "cpu" in s.devices]


def _inputs(spec, seed):
    arrays = spec.make_inputs(spec.cases[0], seed=seed)
    grad_inputs = spec.grad_inputs
    tensors = []
    for i, a in enumerate(arrays):
        wants = (
            spec.differentiable
            and spec.kind == "float"
            and (grad_inputs is None or i in grad_inputs)
        )
        tensors.append(dg.tensor(a, requires_grad=wants))
    return tensors


def _step(spec):
    kwargs = spec.cases[0].kwargs

    def step(*xs):
        out = spec.op(*xs, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        floats = [o for o in outs if o.requires_grad]
        if floats:
            sum((o * (1.0 + 0.1 * k)).sum() for k, o in enumerate(floats)).backward()
        return tuple(o.detach() for o in outs)

    return step


def _run(spec, compiled):
    step = _step(spec)
    fn = dg.compile(step) if compiled else step
    results = []
    for seed in range(3):
        xs = _inputs(spec, seed)
        outs = fn(*xs)
        grads = [None if x.grad is None else x.grad._data for x in xs]
        results.append(([o._data for o in outs], grads))
    return results, fn


def test_the_op_table_compiles_and_matches_eager():
    fallbacks, failures = [], []
    for spec in SPECS:
        try:
            eager, _ = _run(spec, compiled=False)
        except Exception:  # an entry that needs its own harness (e.g. expects an error)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled, fn = _run(spec, compiled=True)
        if not fn.programs:
            fallbacks.append(f"{spec.name}: {fn.eager_reason}")
        for (outs_e, grads_e), (outs_c, grads_c) in zip(eager, compiled):
            try:
                for a, b in zip(outs_e + grads_e, outs_c + grads_c):
                    assert (a is None) == (b is None)
                    if a is not None:
                        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
            except AssertionError as exc:
                failures.append(f"{spec.name}: {exc}")
                break
    assert not failures, "\n".join(failures)
    compiled_share = 1 - len(fallbacks) / len(SPECS)
    assert compiled_share > 0.8, "\n".join(fallbacks)


@pytest.mark.parametrize("name", ["relu", "matmul"])
def test_known_entries_compile(name):
    spec = next(s for s in SPECS if s.name == name)
    _, fn = _run(spec, compiled=True)
    assert fn.programs, fn.eager_reason
