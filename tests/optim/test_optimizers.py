"""Optimizers: one table, checked against NumPy re-derivations, torch.optim, and on test functions."""

from __future__ import annotations

import copy
import tracemalloc

import numpy as np
import pytest
from optim_reference import REFERENCES

import deepgrad as dg
from deepgrad import optim
from deepgrad.optim import SGD, Adagrad, Adam, Adamax, AdamW, NAdam, Optimizer, RMSprop

# (optimizer name, options): every optimizer with its main options.
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True)),
    ("Adam", dict(lr=0.01, eps=1e-3, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.01, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in options.items())}" for name, options in CASES]


def _problem(seed: int = 0):
    """Two parameters and a smooth nonlinear gradient field g(p) = a·p + c + 0.5·sin(3p)."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,)]
    starts = [rng.standard_normal(shape) for shape in shapes]
    a = [rng.uniform(0.5, 2.0, shape) for shape in shapes]
    c = [rng.standard_normal(shape) for shape in shapes]

    def grad(i, p):
        return a[i] * p + c[i] + 0.5 * np.sin(3 * p)

    return starts, grad


def _grads_from(params, grad):
    for i, param in enumerate(params):
        param.grad = dg.tensor(grad(i, param.detach().numpy()), dtype=param.dtype)


# -- (a) the update formula, re-derived in NumPy ----------------------------------------------------
@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_steps_match_the_update_formula(name, options):
    starts, grad = _problem()
    params = [dg.tensor(start.copy(), dtype=dg.float64, requires_grad=True) for start in starts]
    opt = getattr(optim, name)(params, **options)
    expected = [start.copy() for start in starts]
    states = [{} for _ in starts]
    for t in range(1, 8):
        grads = [grad(i, p) for i, p in enumerate(expected)]
        for param, g in zip(params, grads):
            param.grad = dg.tensor(g)
        opt.step()
        expected = [
            REFERENCES[name](p, g, s, t, **options) for p, g, s in zip(expected, grads, states)
        ]
        for param, want in zip(params, expected):
            np.testing.assert_allclose(param.detach().numpy(), want, rtol=1e-12, atol=1e-14)


# -- (b) parity with torch.optim ----------------------------------------------------------------------
@pytest.mark.parity
@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_ten_steps_match_torch(name, options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    init = {
        "w1": rng.standard_normal((5, 3)).astype(np.float32),
        "b1": rng.standard_normal(5).astype(np.float32),
        "w2": rng.standard_normal((2, 5)).astype(np.float32),
        "b2": rng.standard_normal(2).astype(np.float32),
    }
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)

    ours = {k: dg.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    theirs = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    opt = getattr(optim, name)(list(ours.values()), **options)
    torch_opt = getattr(torch.optim, name)(list(theirs.values()), **options)
    for _ in range(10):
        torch_opt.zero_grad()
        hidden = torch.tanh(torch.tensor(x) @ theirs["w1"].T + theirs["b1"])
        diff = hidden @ theirs["w2"].T + theirs["b2"] - torch.tensor(y)
        (diff * diff).mean().backward()
        # The same gradients for both, so that only the optimizers' arithmetic can differ
        # (maximize=True climbs the loss, which would amplify float noise between the two autograds).
        for key in init:
            ours[key].grad = dg.tensor(theirs[key].grad.numpy().copy())
        torch_opt.step()
        opt.step()
    for key in init:
        np.testing.assert_allclose(
            ours[key].detach().numpy(),
            theirs[key].detach().numpy(),
            rtol=1e-5,
            atol=1e-6,
            err_msg=key,
        )


# -- (c) convergence on a quadratic and on Rosenbrock -------------------------------------------------
# (name, options, steps allowed). Rates tuned per optimizer; the step budgets leave ~1.5x headroom
# over the steps each needed when tuned.
QUADRATIC = [
    ("SGD", dict(lr=0.1), 200),
    ("SGD", dict(lr=0.05, momentum=0.9), 300),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True), 200),
    ("Adagrad", dict(lr=0.5), 150),
    ("RMSprop", dict(lr=0.05), 150),
    ("RMSprop", dict(lr=0.02, momentum=0.9, centered=True), 300),
    ("Adam", dict(lr=0.1), 300),
    ("Adam", dict(lr=0.1, amsgrad=True), 300),
    ("AdamW", dict(lr=0.1), 300),
    ("Adamax", dict(lr=0.1), 300),
    ("NAdam", dict(lr=0.1), 250),
]
ROSENBROCK = [
    ("SGD", dict(lr=2e-3), 4000),
    ("SGD", dict(lr=1e-3, momentum=0.9), 2000),
    ("SGD", dict(lr=1e-3, momentum=0.9, nesterov=True), 2000),
    ("Adagrad", dict(lr=1.0), 12000),
    ("RMSprop", dict(lr=2e-3), 7000),
    ("RMSprop", dict(lr=0.02, momentum=0.9, centered=True), 1000),
    ("Adam", dict(lr=0.1), 1500),
    ("Adam", dict(lr=0.1, amsgrad=True), 1500),
    ("AdamW", dict(lr=0.1, weight_decay=1e-4), 1500),  # decay moves the minimum: keep it small here
    ("Adamax", dict(lr=0.1), 3500),
    ("NAdam", dict(lr=0.01), 4500),
]


def _minimize(name, options, gradient, start, target, tol, steps):
    """Run up to ``steps`` steps; return how many were needed to get within ``tol`` of ``target``."""
    p = dg.tensor(np.array(start), dtype=dg.float64, requires_grad=True)
    opt = getattr(optim, name)([p], **options)
    for step in range(1, steps + 1):
        p.grad = dg.tensor(gradient(p.detach().numpy()))
        opt.step()
        if np.max(np.abs(p.detach().numpy() - target)) < tol:
            return step
    return None


@pytest.mark.parametrize("name,options,steps", QUADRATIC, ids=[f"{n}-{o}" for n, o, _ in QUADRATIC])
def test_converges_on_an_ill_conditioned_quadratic(name, options, steps):
    # f(x) = (x0² + 10·x1²) / 2, minimum at 0; condition number 10.
    hessian = np.array([1.0, 10.0])
    needed = _minimize(name, options, lambda x: hessian * x, (1.5, -2.0), np.zeros(2), 1e-4, steps)
    assert needed is not None, f"{name}{options} did not reach |x| < 1e-4 within {steps} steps"


@pytest.mark.parametrize(
    "name,options,steps", ROSENBROCK, ids=[f"{n}-{o}" for n, o, _ in ROSENBROCK]
)
def test_converges_on_rosenbrock(name, options, steps):
    # f(a, b) = (1 - a)² + 100·(b - a²)², minimum at (1, 1), from (-1.5, 2) around the curved valley.
    def gradient(x):
        a, b = x
        return np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])

    needed = _minimize(name, options, gradient, (-1.5, 2.0), np.ones(2), 1e-2, steps)
    assert needed is not None, f"{name}{options} did not reach (1, 1) ± 1e-2 within {steps} steps"


def test_rosenbrock_through_autograd():
    a = dg.tensor(-1.5, dtype=dg.float64, requires_grad=True)
    b = dg.tensor(2.0, dtype=dg.float64, requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    for _ in range(1000):
        opt.zero_grad()
        loss = (1 - a) ** 2 + 100 * (b - a * a) ** 2
        loss.backward()
        opt.step()
    assert abs(a.item() - 1) < 1e-2 and abs(b.item() - 1) < 2e-2


# -- the base class: groups, skipping, in place, state dicts --------------------------------------------
@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_updates_in_place_without_temporaries(name, options):
    param = dg.zeros(250_000, requires_grad=True)
    param.grad = dg.ones(250_000)
    opt = getattr(optim, name)([param], **options)
    opt.step()  # the first step makes the state and the scratch buffers
    array, version = param._data, param._version
    state_arrays = {k: v._data for k, v in opt.state[param].items() if isinstance(v, dg.Tensor)}
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000, (
        f"a step allocated {peak} bytes; the parameter is 1 MB, updates must reuse buffers"
    )
    assert param._data is array and param.dtype == dg.float32
    assert param._version == version + 1
    assert all(opt.state[param][k]._data is v for k, v in state_arrays.items())


@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_skips_parameters_without_gradient(name, options):
    used, unused = dg.ones(3, requires_grad=True), dg.ones(2, requires_grad=True)
    opt = getattr(optim, name)([used, unused], **options)
    used.grad = dg.tensor([1.0, -1.0, 2.0])
    opt.step()
    np.testing.assert_array_equal(unused.detach().numpy(), np.ones(2))
    assert unused not in opt.state and used in opt.state
    assert not np.array_equal(used.detach().numpy(), np.ones(3))


@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_state_dict_round_trip_continues_bit_exactly(name, options):
    starts, grad = _problem(2)
    first = [dg.tensor(s.astype(np.float32), requires_grad=True) for s in starts]
    opt = getattr(optim, name)(first, **options)
    for _ in range(4):
        _grads_from(first, grad)
        opt.step()
    # a second optimizer built with other settings takes over the state mid-run
    second = [dg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in first]
    other = getattr(optim, name)(second, lr=0.5 * options["lr"])
    other.load_state_dict(opt.state_dict())
    assert other.param_groups[0]["lr"] == options["lr"]
    for _ in range(5):
        _grads_from(first, grad)
        opt.step()
        _grads_from(second, grad)
        other.step()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_state_dict_refers_to_params_by_index_and_survives_save_load(tmp_path):
    w, b, extra = (
        dg.ones(2, 2, requires_grad=True),
        dg.ones(2, requires_grad=True),
        dg.ones(3, requires_grad=True),
    )
    opt = Adam([{"params": [w, b]}, {"params": [extra], "lr": 0.1}], lr=0.01)
    for p in (w, b, extra):
        p.grad = dg.ones(*p.shape)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sd["state"][2]["step"] == 1 and isinstance(sd["state"][2]["exp_avg"], dg.Tensor)
    assert sd["param_groups"][1]["lr"] == 0.1
    if not hasattr(dg, "save"):
        pytest.skip("deepgrad.save is not available yet")
    dg.save(sd, tmp_path / "opt.safetensors")
    loaded = dg.load(tmp_path / "opt.safetensors")
    w2, b2, extra2 = (
        dg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in (w, b, extra)
    )
    opt2 = Adam([{"params": [w2, b2]}, {"params": [extra2]}], lr=0.5)
    opt2.load_state_dict(loaded)
    assert opt2.param_groups[1]["lr"] == 0.1
    for p, q in ((w, w2), (b, b2), (extra, extra2)):
        p.grad, q.grad = dg.ones(*p.shape) * 0.3, dg.ones(*p.shape) * 0.3
    opt.step()
    opt2.step()
    for p, q in ((w, w2), (b, b2), (extra, extra2)):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_load_state_dict_casts_state_to_the_parameter_dtype_and_copies():
    p = dg.ones(3, requires_grad=True)
    opt = Adam([p], lr=0.1)
    p.grad = dg.ones(3)
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    sd["state"][0]["exp_avg"] = dg.tensor(
        sd["state"][0]["exp_avg"].detach().numpy(), dtype=dg.float64
    )
    q = dg.ones(3, requires_grad=True)
    opt2 = Adam([q], lr=0.1)
    opt2.load_state_dict(sd)
    loaded = opt2.state[q]["exp_avg"]
    assert loaded.dtype == dg.float32
    assert loaded._data is not sd["state"][0]["exp_avg"]._data
    assert opt2.state[q]["exp_avg_sq"]._data is not sd["state"][0]["exp_avg_sq"]._data


def test_load_state_dict_errors():
    a, b = dg.ones(2, requires_grad=True), dg.ones(3, requires_grad=True)
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = dg.ones(2), dg.ones(3)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(
        ValueError,
        match=r"SGD.load_state_dict: group sizes differ \(state dict \[2\], optimizer \[1\]\)",
    ):
        SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="2 parameter group.* this optimizer has 1"):
        SGD([a, b], lr=0.1).load_state_dict({"state": {}, "param_groups": sd["param_groups"] * 2})
    with pytest.raises(
        ValueError, match=r"state 'momentum_buffer' of parameter 0 has shape \(2,\).*shape \(3,\)"
    ):
        SGD([b, a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        SGD([a, b], lr=0.1).load_state_dict({"lr": 0.1})


def test_per_group_options_and_defaults():
    slow, fast = dg.zeros(2, requires_grad=True), dg.zeros(2, requires_grad=True)
    opt = SGD([{"params": [slow], "lr": 0.01}, {"params": fast, "momentum": 0.5}], lr=0.1)
    assert opt.param_groups[0]["momentum"] == 0.0 and opt.param_groups[1]["lr"] == 0.1
    for _ in range(2):
        slow.grad, fast.grad = dg.ones(2), dg.ones(2)
        opt.step()
    np.testing.assert_allclose(slow.detach().numpy(), [-0.02, -0.02], rtol=1e-6)
    np.testing.assert_allclose(
        fast.detach().numpy(), [-0.1 - 0.15, -0.1 - 0.15], rtol=1e-6
    )  # buffer 1, then 1.5


def test_add_param_group_and_its_checks():
    a, b = dg.zeros(2, requires_grad=True), dg.zeros(2, requires_grad=True)
    opt = Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "betas": (0.5, 0.9)})
    assert opt.param_groups[1]["betas"] == (0.5, 0.9) and opt.param_groups[1]["lr"] == 0.1
    with pytest.raises(ValueError, match="a parameter appears twice"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(
        ValueError, match=r"Adam: unknown option\(s\) \['momentum'\].*allowed: \['amsgrad'"
    ):
        opt.add_param_group({"params": [dg.zeros(1, requires_grad=True)], "momentum": 0.9})
    with pytest.raises(ValueError, match=r"Adam: betas\[1\] must be in \[0, 1\) \(got 1.0\)"):
        opt.add_param_group({"params": [dg.zeros(1, requires_grad=True)], "betas": (0.9, 1.0)})
    with pytest.raises(ValueError, match="a parameter appears twice"):
        SGD([a, a], lr=0.1)
    with pytest.raises(ValueError, match="a parameter appears twice"):
        SGD([{"params": [a]}, {"params": [b, a]}], lr=0.1)


@pytest.mark.parametrize(
    "build,error,message",
    [
        (
            lambda p: Adam([p], betas=(1.2, 0.999)),
            ValueError,
            r"Adam: betas\[0\] must be in \[0, 1\) \(got 1.2\)",
        ),
        (lambda p: Adam([p], lr=-1e-3), ValueError, r"Adam: lr must be >= 0 \(got -0.001\)"),
        (lambda p: Adam([p], betas=0.9), ValueError, r"Adam: betas must be a pair"),
        (lambda p: AdamW([p], weight_decay=-0.1), ValueError, r"AdamW: weight_decay must be >= 0"),
        (
            lambda p: SGD([p], lr=0.1, nesterov=True),
            ValueError,
            r"SGD: nesterov=True needs momentum > 0",
        ),
        (
            lambda p: SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
            ValueError,
            "dampening = 0",
        ),
        (lambda p: SGD([p], lr="0.1"), TypeError, r"SGD: lr must be a number \(got str '0.1'\)"),
        (lambda p: SGD([p], lr=0.1, nesterov=1), TypeError, r"SGD: nesterov must be True or False"),
        (lambda p: Adagrad([p], eps=-1.0), ValueError, r"Adagrad: eps must be >= 0"),
        (
            lambda p: Adagrad([p], initial_accumulator_value=-0.1),
            ValueError,
            "initial_accumulator_value must be >= 0",
        ),
        (lambda p: RMSprop([p], alpha=-0.5), ValueError, r"RMSprop: alpha must be >= 0"),
        (lambda p: RMSprop([p], momentum=-0.5), ValueError, r"RMSprop: momentum must be >= 0"),
        (
            lambda p: Adamax([p], betas=(0.9, -0.1)),
            ValueError,
            r"Adamax: betas\[1\] must be in \[0, 1\)",
        ),
        (
            lambda p: NAdam([p], momentum_decay=-1.0),
            ValueError,
            r"NAdam: momentum_decay must be >= 0",
        ),
        (
            lambda p: SGD(p, lr=0.1),
            TypeError,
            r"SGD: params must be an iterable .*got a single Tensor",
        ),
        (lambda p: SGD([], lr=0.1), ValueError, r"SGD: got an empty parameter list"),
        (
            lambda p: SGD({p}, lr=0.1),
            TypeError,
            r"SGD: params must be an ordered sequence \(got a set",
        ),
        (lambda p: SGD([{"params": {p}}], lr=0.1), TypeError, r"ordered sequence \(got a set"),
        (lambda p: SGD([p * 2], lr=0.1), ValueError, r"SGD: can't optimize a non-leaf tensor"),
        (
            lambda p: SGD([p, 3.0], lr=0.1),
            TypeError,
            r"SGD: params must be Tensors \(got float at position 1\)",
        ),
        (lambda p: SGD([dg.tensor([1, 2])], lr=0.1), TypeError, r"only floating-point tensors"),
        (lambda p: SGD({"params": [p]}, lr=0.1), TypeError, r"got a dict"),
    ],
)
def test_constructor_validation(build, error, message):
    param = dg.zeros(2, requires_grad=True)
    with pytest.raises(error, match=message):
        build(param)


def test_default_options_are_the_documented_ones():
    p = dg.zeros(1, requires_grad=True)
    assert Adam([p]).defaults == dict(
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False
    )
    assert AdamW([p]).defaults["weight_decay"] == 1e-2 and isinstance(AdamW([p]), Adam)
    assert Adagrad([p]).defaults == dict(
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
        maximize=False,
    )
    assert RMSprop([p]).defaults == dict(
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0.0,
        momentum=0.0,
        centered=False,
        maximize=False,
    )
    assert Adamax([p]).defaults["lr"] == 2e-3
    assert NAdam([p]).defaults["momentum_decay"] == 4e-3 and NAdam([p]).defaults["lr"] == 2e-3
    with pytest.raises(TypeError):
        SGD([p])  # lr is required


def test_step_rejects_a_gradient_of_the_wrong_shape_or_dtype():
    a, b = dg.zeros(2, requires_grad=True), dg.zeros(3, requires_grad=True)
    opt = SGD([a, b], lr=0.1)
    b.grad = dg.ones(1)
    with pytest.raises(
        dg.ShapeError, match=r"SGD.step: parameter 1 has shape \(3,\) but its grad has shape \(1,\)"
    ):
        opt.step()
    b.grad = dg.ones(3, dtype=dg.float64)
    with pytest.raises(
        dg.DTypeError, match="SGD.step: parameter 1 is float32 but its grad is float64"
    ):
        opt.step()


def test_zero_grad():
    p = dg.ones(3, requires_grad=True)
    opt = SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.zero_grad()
    assert p.grad is None
    (p * p).sum().backward()
    grad_array = p.grad._data
    opt.zero_grad(set_to_none=False)
    assert p.grad._data is grad_array
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros(3))
    opt.zero_grad(set_to_none=False)  # no error without gradients to clear either
    p.grad = None
    opt.zero_grad(set_to_none=False)
    assert p.grad is None


def test_step_with_closure_returns_the_loss_and_records_under_no_grad():
    p = dg.tensor([3.0], requires_grad=True)
    opt = SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with dg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.detach().numpy(), [3.0 - 0.25 * 6.0])


def test_scheduler_style_lr_change_takes_effect_at_the_next_step():
    p = dg.zeros(1, requires_grad=True)
    opt = SGD([p], lr=1.0)
    p.grad = dg.ones(1)
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [-1.5])


def test_repr_lists_groups():
    opt = SGD([dg.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


def test_every_optimizer_is_exported_and_is_an_optimizer():
    for name in REFERENCES:
        cls = getattr(optim, name)
        assert issubclass(cls, Optimizer) and cls.__doc__ and "←" in cls.__doc__


def test_a_custom_optimizer_writes_only_its_update():
    class SignSGD(Optimizer):
        def __init__(self, params, lr=0.01):
            super().__init__(params, {"lr": lr})

        def _update(self, param, grad, state, group):
            param -= group["lr"] * np.sign(grad)

    w = dg.tensor([0.5, -2.0, 0.0], requires_grad=True)
    opt = SignSGD([w], lr=0.25)
    w.grad = dg.tensor([3.0, -0.1, 0.0])
    opt.step()
    np.testing.assert_array_equal(w.detach().numpy(), [0.25, -1.75, 0.0])
    assert opt.state[w] == {} and opt.state_dict()["param_groups"] == [{"lr": 0.25, "params": [0]}]
    with pytest.raises(TypeError, match="abstract"):
        Optimizer([w], {"lr": 0.1})


@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_every_array_update_goes_through_update(name, options, monkeypatch):
    """``_update`` is the one place a step writes parameter arrays: a tracer can hook it there.

    Wrapping it sees every parameter exactly once per step, with the raw arrays ``step`` passes;
    with it replaced by a no-op, a step changes no parameter at all.
    """
    starts, grad = _problem(3)
    params = [dg.tensor(s.astype(np.float32), requires_grad=True) for s in starts]
    opt = getattr(optim, name)(params, **options)
    cls = type(opt)
    seen = []
    original = cls._update

    def recording(self, param, g, state, group):
        seen.append(id(param))
        before = param.copy()
        original(self, param, g, state, group)
        assert not np.array_equal(param, before)

    monkeypatch.setattr(cls, "_update", recording)
    _grads_from(params, grad)
    opt.step()
    assert seen == [id(p._data) for p in params]
    monkeypatch.setattr(cls, "_update", lambda self, param, g, state, group: None)
    frozen = [p.detach().numpy().copy() for p in params]
    _grads_from(params, grad)
    opt.step()
    for param, before in zip(params, frozen):
        np.testing.assert_array_equal(param.detach().numpy(), before)
