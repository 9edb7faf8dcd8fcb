"""Run a training step eagerly and compiled from the same start; compare everything."""

from __future__ import annotations

import warnings

import numpy as np

import deepgrad as dg


def run_both(build, batches, calls=None):
    """``build() -> (step, modules)``; returns per mode: outputs, final state and the compiled fn.

    ``step(*batch)`` is called on each batch, eagerly and through ``dg.compile``, each from a
    fresh ``build()`` under the same seed; the state is every parameter, buffer and gradient.
    """
    results = {}
    for mode in ("eager", "compiled"):
        dg.manual_seed(0)
        step, modules = build()
        fn = dg.compile(step) if mode == "compiled" else step
        dg.manual_seed(1)
        outs = []
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for batch in batches:
                out = fn(*batch)
                outs.append(_arrays(out))
        state = []
        for m in modules:
            for p in m.parameters():
                state.append(p._data.copy())
                state.append(None if p.grad is None else p.grad._data.copy())
            state.extend(b._data.copy() for b in m.buffers())
        results[mode] = (outs, state, fn)
    return results


def _arrays(out):
    if isinstance(out, (tuple, list)):
        return [_arrays(o) for o in out]
    return out._data.copy() if isinstance(out, dg.Tensor) else out


def assert_same(results, rtol=0.0, atol=0.0):
    (outs_e, state_e, _), (outs_c, state_c, fn) = results["eager"], results["compiled"]
    assert fn.programs, f"nothing was compiled: {fn.eager_reason}"
    for a, b in zip(_flat(outs_e), _flat(outs_c)):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
    assert len(state_e) == len(state_c)
    for a, b in zip(state_e, state_c):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)


def _flat(items):
    for item in items:
        if isinstance(item, list):
            yield from _flat(item)
        else:
            yield item
