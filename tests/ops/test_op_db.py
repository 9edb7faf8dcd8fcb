"""Tests generated from the op table (``op_db.py`` and every ``op_db_*.py``), STYLE.md 3.7.

For each entry and shape case: forward == NumPy reference in float32 (dtype kept) and float64;
gradcheck in float64 (full Jacobian for small inputs, a random-direction <u, J v> check always);
gradgradcheck where twice differentiable; the Function classes an entry claims to cover really
run; and every registered primitive is covered by some entry.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from op_db import all_specs

import deepgrad as dg
from deepgrad.autograd import Function, Tensor, grad, gradcheck, gradgradcheck

SPECS = all_specs()
FULL_JACOBIAN_MAX = 64  # total input elements up to which gradcheck builds the whole Jacobian
GRADGRAD_MAX = 24  # ... and gradgradcheck runs (it costs one double backward per element)
GRADGRAD_CASES = 3  # per entry, the first small cases


def _params(specs, select=lambda spec, case: True):
    out = []
    for spec in specs:
        for i, c in enumerate(spec.cases):
            if select(spec, c):
                out.append(pytest.param(spec, c, id=f"{spec.name}-{i}-{c!r}"))
    return out


def _numel(case) -> int:
    return sum(int(np.prod(s)) for s in case.shapes)


def _gradgrad_selected(spec, c) -> bool:
    if (
        not spec.twice_differentiable
        or spec.kind != "float"
        or _numel(c) > GRADGRAD_MAX
        or _numel(c) == 0
    ):
        return False
    small = [x for x in spec.cases if 0 < _numel(x) <= GRADGRAD_MAX]
    return any(c is x for x in small[:GRADGRAD_CASES])


def _devices():
    # CUDA cases are generated only where CuPy and a GPU are present (no wall of skips elsewhere).
    return ["cpu"] + (
        [pytest.param("cuda", marks=pytest.mark.cuda)] if dg.backend.cuda_available() else []
    )


def _outputs(result) -> list:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _host(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _inputs(spec, case, dtype, device="cpu", requires_grad=False) -> list:
    arrays = spec.make_inputs(case)
    wanted = spec.grad_inputs if spec.grad_inputs is not None else range(len(arrays))
    tensors = []
    for i, a in enumerate(arrays):
        if spec.kind == "float":
            a = a.astype(dtype)
        t = dg.tensor(a, device=device)
        if requires_grad and spec.kind == "float" and i in wanted:
            t.requires_grad_(True)
        tensors.append(t)
    return tensors


# -- 1. forward ------------------------------------------------------------------------------
def _forward_params():
    params = []
    for dtype in ("float32", "float64"):
        keep = lambda spec, c, dtype=dtype: spec.kind == "float" or dtype == "float64"
        for p in _params(SPECS, keep):
            spec, c = p.values
            params.append(pytest.param(spec, c, dtype, id=f"{p.id}-{dtype}"))
    return params


@pytest.mark.parametrize("device", _devices())
@pytest.mark.parametrize("spec,case,dtype", _forward_params())
def test_forward_matches_reference(spec, case, dtype, device):
    if device not in spec.devices:
        pytest.skip(f"{spec.name} does not run on {device}")
    tensors = _inputs(spec, case, dtype, device)
    with np.errstate(all="ignore"):
        expected = _outputs(spec.ref(*[_host(t) for t in tensors], **case.kwargs))
        got = _outputs(spec.op(*tensors, **case.kwargs))
    assert len(got) == len(expected), (
        f"{spec.name}: {len(got)} outputs, reference has {len(expected)}"
    )
    for k, (out, ref) in enumerate(zip(got, expected)):
        ref = np.asarray(ref)
        assert isinstance(out, Tensor), f"{spec.name}: output {k} is a {type(out).__name__}"
        assert out.device.type == device
        assert out.shape == ref.shape, (
            f"{spec.name}: output {k} shape {out.shape}, reference {ref.shape}"
        )
        if ref.dtype.kind == "f" and spec.kind == "float":
            assert out.dtype == np.dtype(dtype), f"{spec.name}: {dtype} input gave {out.dtype}"
        else:
            assert out.dtype == ref.dtype, (
                f"{spec.name}: output {k} dtype {out.dtype}, reference {ref.dtype}"
            )
        if ref.dtype.kind in "fc":
            rtol, atol = (spec.rtol32, spec.atol32) if dtype == "float32" else (1e-10, 1e-12)
            np.testing.assert_allclose(_host(out), ref, rtol=rtol, atol=atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(_host(out), ref)


# -- 2. gradients ----------------------------------------------------------------------------
def directional_check(
    fn, inputs, eps: float = 1e-6, rtol: float = 1e-4, atol: float = 1e-7
) -> None:
    """<u, J v> from backward against (u . f(x + eps v) - u . f(x - eps v)) / (2 eps)."""
    rng = np.random.default_rng(7)
    wanted = [t for t in inputs if t.requires_grad]
    outs = _outputs(fn(*inputs))
    us = [rng.standard_normal(o.shape) if o.dtype.kind == "f" else None for o in outs]
    vs = [rng.standard_normal(t.shape) for t in wanted]
    pairs = [(o, u) for o, u in zip(outs, us) if o.requires_grad and u is not None]
    analytical = 0.0
    if pairs:
        grads = grad(
            [o for o, _ in pairs], wanted, [dg.tensor(u) for _, u in pairs], allow_unused=True
        )
        analytical = sum(float((_host(g) * v).sum()) for g, v in zip(grads, vs) if g is not None)

    def projected(sign: float) -> float:
        moved, j = [], 0
        for t in inputs:
            if t.requires_grad:
                moved.append(dg.tensor(np.asarray(t._data + sign * eps * vs[j]), dtype=t.dtype))
                j += 1
            else:
                moved.append(t)
        with dg.no_grad():
            results = _outputs(fn(*moved))
        return sum(
            float((_host(o).astype(np.float64) * u).sum())
            for o, u in zip(results, us)
            if u is not None
        )

    numerical = (projected(1.0) - projected(-1.0)) / (2 * eps)
    assert abs(analytical - numerical) <= atol + rtol * abs(numerical), (
        f"directional derivative: backward gives {analytical:.10g}, finite differences {numerical:.10g}"
    )


def _call(spec, case):
    return lambda *ts: spec.op(*ts, **case.kwargs)


@pytest.mark.parametrize(
    "spec,case", _params(SPECS, lambda s, c: s.differentiable and s.kind == "float")
)
def test_gradcheck(spec, case):
    if "cpu" not in spec.devices:
        pytest.skip(f"{spec.name} needs {spec.devices}")
    tensors = _inputs(spec, case, "float64", requires_grad=True)
    if not any(t.requires_grad for t in tensors):
        pytest.skip("no input requires grad")
    if _numel(case) <= FULL_JACOBIAN_MAX:
        assert gradcheck(_call(spec, case), tensors, **spec.gradcheck_kwargs)
    directional_check(_call(spec, case), tensors, **spec.gradcheck_kwargs)


@pytest.mark.parametrize("spec,case", _params(SPECS, _gradgrad_selected))
def test_gradgradcheck(spec, case):
    if "cpu" not in spec.devices:
        pytest.skip(f"{spec.name} needs {spec.devices}")
    tensors = _inputs(spec, case, "float64", requires_grad=True)
    assert gradgradcheck(_call(spec, case), tensors, **spec.gradcheck_kwargs)


# -- 3. the table covers every primitive -----------------------------------------------------
# The registry is keyed by module-qualified name; the table names deepgrad's primitives by class
# name, which test_deepgrad_primitive_names_are_unique keeps unambiguous.
def _deepgrad_primitives() -> dict[str, type]:
    return {
        cls.__name__: cls
        for cls in Function.registry.values()
        if cls.__module__.startswith("deepgrad.")
    }


class _Recorder:
    """Record the Function classes applied while active (by wrapping Function.apply)."""

    def __enter__(self):
        self.seen = set()
        self._original = Function.__dict__["apply"]
        original, seen = self._original.__func__, self.seen

        def apply(cls, *inputs, **constants):
            seen.add(cls.__name__)
            return original(cls, *inputs, **constants)

        Function.apply = classmethod(apply)
        return self.seen

    def __exit__(self, *exc):
        Function.apply = self._original


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in SPECS])
def test_covers_are_exercised(spec):
    """Each name in ``covers`` is a registered primitive that the op (forward or backward) runs."""
    unknown = [name for name in spec.covers if name not in _deepgrad_primitives()]
    assert not unknown, f"{spec.name}: covers names no registered Function: {unknown}"
    if "cpu" not in spec.devices:
        pytest.skip(f"{spec.name} needs {spec.devices}")
    with _Recorder() as seen:
        for c in spec.cases:
            tensors = _inputs(spec, c, "float64", requires_grad=spec.differentiable)
            outs = [o for o in _outputs(spec.op(*tensors, **c.kwargs)) if o.requires_grad]
            wanted = [t for t in tensors if t.requires_grad]
            if outs and wanted:
                seeds = [dg.ones_like(o) for o in outs]
                grads = grad(outs, wanted, seeds, create_graph=True, allow_unused=True)
                second = [g for g in grads if g is not None and g.requires_grad]
                if second and spec.twice_differentiable:
                    grad([g.sum() for g in second], wanted, allow_unused=True)
    missing = sorted(set(spec.covers) - seen)
    assert not missing, (
        f"{spec.name}: claims to cover {missing}, which never ran (ran: {sorted(seen)})"
    )


def _import_primitive_modules() -> None:
    for package_name in ("deepgrad.autograd", "deepgrad.ops", "deepgrad.nn"):
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(info.name)


def test_every_registered_primitive_has_an_entry():
    _import_primitive_modules()
    registered = {
        name for name, cls in _deepgrad_primitives().items() if cls.forward is not Function.forward
    }
    covered = set().union(*(spec.covers for spec in SPECS))
    missing = sorted(registered - covered)
    assert not missing, (
        f"primitives with no op-table entry: {missing}; add an OpSpec with covers=(...) to tests/ops/op_db.py "
        "(or op_db_nn.py / op_db_conv.py)."
    )


def test_deepgrad_primitive_names_are_unique():
    _import_primitive_modules()
    names = [
        cls.__name__ for cls in Function.registry.values() if cls.__module__.startswith("deepgrad.")
    ]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    assert not duplicated, (
        f"two deepgrad primitives share a class name (the op table cannot tell them apart): {duplicated}"
    )


def test_entry_names_are_unique_and_cases_nonempty():
    names = [s.name for s in SPECS]
    assert len(names) == len(set(names))
    for spec in SPECS:
        assert spec.cases, f"{spec.name}: no shape cases"
