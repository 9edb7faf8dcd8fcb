"""Fuzzing every entry of the op table (seeded, time-boxed; issue 12, item 5).

For each ``OpSpec`` of ``tests/ops/op_db*.py``, hypothesis draws one of its cases and changes it:
float32 or float64, one input broadcast (sizes set to 1, leading dims dropped), a size-0
dimension, and edge values (NaN, +-inf, denormals, +-0, huge) put at random places.

- forward: with the case's own shapes, the op must compute and agree with NumPy's reference
  (NaN where NumPy gives NaN, the same infinities, the finite values within the entry's
  tolerance). With changed shapes it must agree where it computes; it may refuse shapes outside
  its (PyTorch's, often stricter than NumPy's) rules, but only with a documented kind
  (``ALLOWED``) whose message names the operation.
- backward (finite inputs, float64): gradcheck on the changed shapes.

``KNOWN`` lists findings not fixed yet: those entries are expected to fail here (xfail), and each
should be pinned by a deterministic strict-xfail test. The findings fixed so far are kept as
ordinary regression tests at the end of this file (``test_fixed_finding``).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))

from op_db import Case, all_specs

import deepgrad as dg
from deepgrad.autograd import gradcheck
from deepgrad.backend import DeviceError, DTypeError, ShapeError

SPECS = all_specs()
# A fixed seed (not derandomize, whose examples change whenever this file is edited) and no database.
FUZZ = settings(
    max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
GRAD_FUZZ = settings(
    max_examples=2, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
SEED = 20261212
ALLOWED = (ShapeError, DTypeError, DeviceError, ValueError, TypeError, IndexError)
EDGES = {
    "nan": np.nan,
    "inf": np.inf,
    "-inf": -np.inf,
    "denormal": 1e-310,  # float64 subnormal; becomes 0 or a float32 subnormal (1e-40) below
    "-0": -0.0,
    "huge": 1e30,
}
FULL_JACOBIAN_MAX = 48


# Backward helpers applied directly: their keyword arguments encode the input shapes (window
# geometry, recurrence sizes), so only dtypes and edge values are fuzzed, not the shapes.
INTERNAL = {
    "conv2d_weight_grad",
    "window_scatter2d",
    "window_spread2d",
    "rnn_recurrence",
    "lstm_recurrence",
    "gru_recurrence",
}
KNOWN = {  # op table entry name -> the finding (forward fuzz: xfail)
    "scatter_value": "scatter into a size-0 dim with an out-of-range index raises NumPy's raw 'cannot "
    "unravel if shape has zero entries' (no op name); PyTorch raises an index error",
}
KNOWN_BACKWARD: dict[str, str] = {}  # the same for the backward fuzz


def _ids(specs, known=None):
    known = KNOWN if known is None else known
    return [
        pytest.param(
            s,
            id=s.name,
            marks=[pytest.mark.xfail(reason=known[s.name], strict=False)]
            if s.name in known
            else [],
        )
        for s in specs
        if "cpu" in s.devices
    ]


@st.composite
def variants(draw, spec):
    """(case with changed shapes, dtype, {input: [(flat position fraction, edge name)]})."""
    case = draw(st.sampled_from(list(spec.cases)))
    shapes = [list(s) for s in case.shapes]
    change = (
        "none" if spec.name in INTERNAL else draw(st.sampled_from(["none", "broadcast", "empty"]))
    )
    if change == "broadcast" and len(shapes) >= 2:
        i = draw(st.integers(0, len(shapes) - 1))
        shapes[i] = [1 if draw(st.booleans()) else n for n in shapes[i]]
        shapes[i] = shapes[i][draw(st.integers(0, len(shapes[i]))) :]
    elif change == "empty" and shapes and shapes[0]:
        axis = draw(st.integers(-len(shapes[0]), -1))
        size = shapes[0][axis]
        for s in shapes:  # the same axis (counted from the right) of every input of that size
            if len(s) >= -axis and s[axis] == size:
                s[axis] = 0
    dtype = draw(st.sampled_from(["float32", "float64"]))
    edges = draw(
        st.lists(
            st.tuples(st.floats(0, 1, exclude_max=True), st.sampled_from(sorted(EDGES))), max_size=3
        )
    )
    return Case(tuple(tuple(s) for s in shapes), case.kwargs), dtype, edges


def _arrays(spec, case, dtype, edges, seed=0):
    try:
        arrays = spec.make_inputs(case, seed)
    except (ValueError, IndexError, TypeError):
        return None  # the entry's own input recipe cannot build these shapes
    if spec.kind != "float":
        return arrays
    arrays = [a.astype(dtype) for a in arrays]
    for fraction, name in edges:
        target = arrays[int(fraction * 997) % len(arrays)] if arrays else None
        if target is not None and target.size:
            value = EDGES[name] if not (name == "denormal" and dtype == "float32") else 1e-40
            target.reshape(-1)[int(fraction * target.size)] = value
    return arrays


def _outputs(result) -> list:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _names(spec) -> list[str]:
    return [spec.name.split("_")[0].lower(), *(c.lower() for c in spec.covers)]


def _check_refusal(spec, error: Exception) -> None:
    """A documented kind whose message names the operation (its name or a primitive it covers)."""
    message = str(error).lower()
    assert isinstance(error, ALLOWED), f"{spec.name}: undocumented {type(error).__name__}: {error}"
    assert any(name in message for name in _names(spec)) or ": " in message, (
        f"{spec.name}: the {type(error).__name__} does not name the operation: {error}"
    )


@pytest.mark.parametrize("spec", _ids(SPECS))
def test_forward_fuzz(spec):
    @seed(SEED)
    @FUZZ
    @given(variant=variants(spec))
    def run(variant):
        case, dtype, edges = variant
        arrays = _arrays(spec, case, dtype, edges)
        if arrays is None:
            return
        reference = spec.ref
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "Mean of empty slice"
            try:
                expected = _outputs(reference(*[a.copy() for a in arrays], **case.kwargs))
            except (
                Exception
            ):  # NumPy refuses these inputs: deepgrad must refuse them cleanly, or cope
                expected = None
            try:
                got = _outputs(spec.op(*[dg.tensor(a) for a in arrays], **case.kwargs))
            except Exception as error:
                _check_refusal(spec, error)
                own_shapes = any(case.shapes == c.shapes for c in spec.cases)
                assert expected is None or not own_shapes, (
                    f"{spec.name}{case!r} {dtype}: NumPy accepts, deepgrad raises {error!r}"
                )
                return
        if expected is None:
            return
        _compare(spec, case, dtype, got, expected)

    run()


def _compare(spec, case, dtype, got, expected) -> None:
    where = f"{spec.name}{case!r} {dtype}"
    assert len(got) == len(expected), f"{where}: {len(got)} outputs, reference {len(expected)}"
    for out, ref in zip(got, expected):
        ref = np.asarray(ref)
        host = out.detach().numpy()
        assert host.shape == ref.shape, f"{where}: shape {host.shape}, reference {ref.shape}"
        if ref.dtype.kind not in "fc":
            np.testing.assert_array_equal(host, ref, err_msg=where)
            continue
        rtol, atol = (spec.rtol32, spec.atol32) if dtype == "float32" else (1e-7, 1e-10)
        ref = ref.astype(host.dtype) if host.dtype.kind == "f" else ref
        np.testing.assert_array_equal(
            np.isnan(host), np.isnan(ref), err_msg=f"{where}: NaN positions differ"
        )
        np.testing.assert_array_equal(
            np.isposinf(host), np.isposinf(ref), err_msg=f"{where}: +inf differs"
        )
        np.testing.assert_array_equal(
            np.isneginf(host), np.isneginf(ref), err_msg=f"{where}: -inf differs"
        )
        finite = np.isfinite(ref) & np.isfinite(host)
        np.testing.assert_allclose(host[finite], ref[finite], rtol=rtol, atol=atol, err_msg=where)


@pytest.mark.parametrize(
    "spec", _ids([s for s in SPECS if s.differentiable and s.kind == "float"], known=KNOWN_BACKWARD)
)
def test_backward_fuzz(spec):
    @seed(SEED)
    @GRAD_FUZZ
    @given(variant=variants(spec), seed=st.integers(0, 3))
    def run(variant, seed):
        case, _, _ = variant
        arrays = _arrays(spec, case, "float64", [], seed)
        if arrays is None:
            return
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                spec.ref(*[a.copy() for a in arrays], **case.kwargs)
        except Exception:
            return  # shapes NumPy refuses: covered by the forward fuzz
        wanted = spec.grad_inputs if spec.grad_inputs is not None else range(len(arrays))
        tensors = [dg.tensor(a, requires_grad=i in wanted) for i, a in enumerate(arrays)]
        if not any(t.requires_grad for t in tensors):
            return
        try:
            spec.op(*[dg.tensor(a) for a in arrays], **case.kwargs)
        except ALLOWED:
            return  # a refusal: judged by the forward fuzz
        if sum(a.size for a in arrays) <= FULL_JACOBIAN_MAX:
            assert gradcheck(
                lambda *ts: spec.op(*ts, **case.kwargs), tensors, **spec.gradcheck_kwargs
            )
        else:
            outs = [o for o in _outputs(spec.op(*tensors, **case.kwargs)) if o.requires_grad]
            grads = dg.autograd.grad(
                [o.sum() for o in outs], [t for t in tensors if t.requires_grad], allow_unused=True
            )
            for g, t in zip(grads, [t for t in tensors if t.requires_grad]):
                assert g is None or g.shape == t.shape

    run()


# -- the fixed findings of issue 12, kept as regression tests ----------------------------------------
def _grad_of(op, *arrays):
    tensors = [dg.tensor(a, requires_grad=True) for a in arrays]
    op(*tensors).sum().backward()
    return [t.grad for t in tensors]


def _refusal_names(name: str, call) -> bool:
    try:
        call()
    except ALLOWED as error:
        return name in str(error).lower()
    return False


def _pool_inf_grad() -> bool:
    """An inf gradient stays at the winning positions; the others get 0, not NaN (0 * inf)."""
    grad = _grad_of(
        lambda x: dg.nn.functional.max_pool2d(x, 2) * np.inf, np.arange(16.0).reshape(1, 1, 4, 4)
    )[0].numpy()[0, 0]
    wins = np.zeros((4, 4), dtype=bool)
    wins[1::2, 1::2] = True
    return bool(np.all(np.isposinf(grad[wins])) and np.all(grad[~wins] == 0))


FIXED_CASES = {
    "max_pool2d backward: an inf gradient stays at the winning position (no NaN elsewhere)": (
        _pool_inf_grad
    ),
    "clamp with a NaN tensor bound gives NaN": lambda: np.isnan(
        dg.clamp(dg.tensor([1.0, 2.0]), min=dg.tensor([np.nan, 0.0])).numpy()[0]
    ),
    "logsumexp over a size-0 dim is -inf": lambda: (
        dg.logsumexp(dg.zeros(3, 0), dim=1).tolist() == [-np.inf] * 3
    ),
    "log_softmax over a size-0 dim is empty": lambda: (
        dg.nn.functional.log_softmax(dg.zeros(3, 0), dim=1).shape == (3, 0)
    ),
    "softmax over a size-0 dim is empty": lambda: (
        dg.nn.functional.softmax(dg.zeros(3, 0), dim=1).shape == (3, 0)
    ),
    "norm(p=inf) over a size-0 dim raises an error naming norm": lambda: _refusal_names(
        "norm", lambda: dg.norm(dg.zeros(3, 0), p=np.inf, dim=1)
    ),
    "batch_norm of a (4, 0) input is empty": lambda: (
        dg.nn.functional.batch_norm(dg.zeros(4, 0), None, None, training=True).shape == (4, 0)
    ),
}


@pytest.mark.parametrize("claim", sorted(FIXED_CASES))
def test_fixed_finding(claim):
    """Issue 12: findings of this fuzzing, fixed; each must stay fixed."""
    assert FIXED_CASES[claim]()


# -- known findings, pinned (strict: each fails today; a fix makes it XPASS) ------------------------
KNOWN_CASES = {
    "scatter with an out-of-range index into a size-0 dim raises an error naming scatter": lambda: (
        _refusal_names(
            "scatter", lambda: dg.zeros(3, 0).scatter(1, dg.tensor([[3], [1], [0]]), 2.5)
        )
    ),
}


@pytest.mark.xfail(strict=True, reason="known finding of the fuzzing, not fixed yet (see KNOWN)")
@pytest.mark.parametrize("claim", sorted(KNOWN_CASES))
def test_known_finding(claim):
    assert KNOWN_CASES[claim]()
