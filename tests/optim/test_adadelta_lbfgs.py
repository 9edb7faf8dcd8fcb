"""Adadelta and LBFGS: NumPy references, torch.optim parity, convergence, state dicts and errors.

(These two live here rather than in the shared table of test_optimizers.py; Adadelta runs the
same kinds of checks as that table. LBFGS steps through a closure, so it has its own.)
"""

from __future__ import annotations

import copy
import tracemalloc

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optim
from deepgrad.backend import DTypeError
from deepgrad.optim import LBFGS, Adadelta, Optimizer
from deepgrad.optim.lbfgs import _Trial, cubic_interpolate, strong_wolfe, two_loop_direction

ADADELTA_CASES = [
    dict(),
    dict(lr=0.5, rho=0.8),
    dict(eps=1e-3, weight_decay=0.1),
    dict(lr=0.1, weight_decay=0.01, maximize=True),
]
ADADELTA_IDS = [
    "-".join(f"{k}={v}" for k, v in case.items()) or "defaults" for case in ADADELTA_CASES
]


def adadelta_reference(p, g, s, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    """One Adadelta step (Zeiler, 2012, with PyTorch's lr factor), out of place."""
    d = (-g if maximize else g) + weight_decay * p
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * d**2
    delta = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(s["v"] + eps) * d
    s["u"] = rho * s.get("u", 0.0) + (1 - rho) * delta**2
    return p - lr * delta


def _field(seed: int = 0):
    """Starts for two parameters and a smooth gradient field g(p) = a·p + c + 0.5·sin(3p)."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,)]
    starts = [rng.standard_normal(shape) for shape in shapes]
    a = [rng.uniform(0.5, 2.0, shape) for shape in shapes]
    c = [rng.standard_normal(shape) for shape in shapes]
    return starts, lambda i, p: a[i] * p + c[i] + 0.5 * np.sin(3 * p)


def _set_grads(params, grad):
    for i, param in enumerate(params):
        param.grad = dg.tensor(grad(i, param.detach().numpy()), dtype=param.dtype)


# -- Adadelta --------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", ADADELTA_CASES, ids=ADADELTA_IDS)
def test_adadelta_matches_the_numpy_reference(options):
    starts, grad = _field()
    params = [dg.tensor(start.copy(), dtype=dg.float64, requires_grad=True) for start in starts]
    opt = Adadelta(params, **options)
    expected, states = [start.copy() for start in starts], [{} for _ in starts]
    for _ in range(8):
        grads = [grad(i, p) for i, p in enumerate(expected)]
        for param, g in zip(params, grads):
            param.grad = dg.tensor(g)
        opt.step()
        expected = [
            adadelta_reference(p, g, s, **options) for p, g, s in zip(expected, grads, states)
        ]
        for param, want in zip(params, expected):
            np.testing.assert_allclose(param.detach().numpy(), want, rtol=1e-12, atol=1e-14)
    state = opt.state[params[1]]
    assert state["step"] == 8 and set(state) == {"step", "square_avg", "acc_delta"}
    np.testing.assert_allclose(state["square_avg"].numpy(), states[1]["v"], rtol=1e-12)
    np.testing.assert_allclose(state["acc_delta"].numpy(), states[1]["u"], rtol=1e-12)


@pytest.mark.parity
@pytest.mark.parametrize("options", ADADELTA_CASES, ids=ADADELTA_IDS)
def test_adadelta_ten_steps_match_torch(options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    init = {
        "w1": rng.standard_normal((5, 3)).astype(np.float32),
        "b1": rng.standard_normal(5).astype(np.float32),
        "w2": rng.standard_normal((2, 5)).astype(np.float32),
    }
    x = torch.tensor(rng.standard_normal((16, 3)).astype(np.float32))
    y = torch.tensor(rng.standard_normal((16, 2)).astype(np.float32))
    ours = {k: dg.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    theirs = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    opt = Adadelta(list(ours.values()), **options)
    torch_opt = torch.optim.Adadelta(list(theirs.values()), **options)
    for _ in range(10):
        torch_opt.zero_grad()
        diff = torch.tanh(x @ theirs["w1"].T + theirs["b1"]) @ theirs["w2"].T - y
        (diff * diff).mean().backward()
        for key in init:  # the same gradients, so only the optimizers' arithmetic can differ
            ours[key].grad = dg.tensor(theirs[key].grad.numpy().copy())
        torch_opt.step()
        opt.step()
    for key in init:
        np.testing.assert_allclose(
            ours[key].detach().numpy(), theirs[key].detach().numpy(), rtol=1e-5, atol=1e-6
        )
        ours_state, torch_state = opt.state[ours[key]], torch_opt.state[theirs[key]]
        for name in ("square_avg", "acc_delta"):
            np.testing.assert_allclose(
                ours_state[name].numpy(), torch_state[name].numpy(), rtol=1e-5, atol=1e-7
            )


def _steps_to_reach(options, gradient, start, target, tol, steps):
    p = dg.tensor(np.array(start), dtype=dg.float64, requires_grad=True)
    opt = Adadelta([p], **options)
    for step in range(1, steps + 1):
        p.grad = dg.tensor(gradient(p.detach().numpy()))
        opt.step()
        if np.max(np.abs(p.detach().numpy() - target)) < tol:
            return step
    return None


def _rosenbrock_gradient(x):
    a, b = x
    return np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])


# step budgets: ~1.5x what each needed when tuned (637, 139 and 9384 steps)
@pytest.mark.parametrize("options,steps", [(dict(), 1000), (dict(eps=1e-4), 210)])
def test_adadelta_converges_on_an_ill_conditioned_quadratic(options, steps):
    hessian = np.array([1.0, 10.0])  # f(x) = (x0² + 10·x1²) / 2
    needed = _steps_to_reach(options, lambda x: hessian * x, (1.5, -2.0), np.zeros(2), 1e-4, steps)
    assert needed is not None, f"Adadelta{options} did not reach |x| < 1e-4 in {steps} steps"


def test_adadelta_converges_on_rosenbrock():
    # Adadelta's steps keep the size of recent steps, so it oscillates across the narrow
    # valley at lr=1: a smaller lr damps that.
    needed = _steps_to_reach(
        dict(lr=0.05), _rosenbrock_gradient, (-1.5, 2.0), np.ones(2), 1e-2, 14000
    )
    assert needed is not None, "Adadelta(lr=0.05) did not reach (1, 1) ± 1e-2 in 14000 steps"


def test_adadelta_state_dict_round_trip_continues_bit_exactly(tmp_path):
    starts, grad = _field(2)
    first = [dg.tensor(s.astype(np.float32), requires_grad=True) for s in starts]
    opt = Adadelta(first, lr=0.5, weight_decay=0.1)
    for _ in range(4):
        _set_grads(first, grad)
        opt.step()
    dg.save(opt.state_dict(), tmp_path / "adadelta.safetensors")
    second = [dg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in first]
    other = Adadelta(second, lr=0.1)
    other.load_state_dict(dg.load(tmp_path / "adadelta.safetensors"))
    assert other.param_groups[0]["lr"] == 0.5 and other.param_groups[0]["weight_decay"] == 0.1
    for _ in range(5):
        _set_grads(first, grad)
        opt.step()
        _set_grads(second, grad)
        other.step()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_adadelta_parameter_groups_take_their_own_options():
    starts, grad = _field(3)
    params = [dg.tensor(s.copy(), dtype=dg.float64, requires_grad=True) for s in starts]
    opt = Adadelta([{"params": [params[0]], "rho": 0.5}, {"params": [params[1]]}], lr=0.5)
    assert [g["rho"] for g in opt.param_groups] == [0.5, 0.9]
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.5]
    expected, states = [s.copy() for s in starts], [{}, {}]
    for _ in range(3):
        grads = [grad(i, p) for i, p in enumerate(expected)]
        for param, g in zip(params, grads):
            param.grad = dg.tensor(g)
        opt.step()
        expected = [
            adadelta_reference(expected[0], grads[0], states[0], lr=0.5, rho=0.5),
            adadelta_reference(expected[1], grads[1], states[1], lr=0.5),
        ]
    for param, want in zip(params, expected):
        np.testing.assert_allclose(param.detach().numpy(), want, rtol=1e-12)


def test_adadelta_updates_in_place_without_temporaries():
    param = dg.zeros(250_000, requires_grad=True)
    param.grad = dg.ones(250_000)
    opt = Adadelta([param], weight_decay=0.1)
    opt.step()  # the first step makes the state and the scratch buffers
    array = param._data
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000, f"a step allocated {peak} bytes for a 1 MB parameter"
    assert param._data is array and param.dtype == dg.float32


def test_adadelta_skips_parameters_without_gradient():
    used, unused = dg.ones(3, requires_grad=True), dg.ones(2, requires_grad=True)
    opt = Adadelta([used, unused])
    used.grad = dg.tensor([1.0, -1.0, 2.0])
    opt.step()
    np.testing.assert_array_equal(unused.detach().numpy(), np.ones(2))
    assert unused not in opt.state and used in opt.state


@pytest.mark.parametrize(
    "options,error,message",
    [
        (dict(lr=-1.0), ValueError, r"Adadelta: lr must be >= 0 \(got -1.0\)"),
        (dict(rho=1.0), ValueError, r"Adadelta: rho must be in \[0, 1\) \(got 1.0\)"),
        (dict(eps=-1e-6), ValueError, r"Adadelta: eps must be >= 0"),
        (dict(weight_decay=-0.1), ValueError, r"Adadelta: weight_decay must be >= 0"),
        (dict(maximize=1), TypeError, r"Adadelta: maximize must be True or False"),
    ],
)
def test_adadelta_rejects_bad_options(options, error, message):
    with pytest.raises(error, match=message):
        Adadelta([dg.zeros(2, requires_grad=True)], **options)


def test_adadelta_defaults_and_docstring():
    opt = Adadelta([dg.zeros(1, requires_grad=True)])
    assert opt.defaults == dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False)
    assert issubclass(optim.Adadelta, Optimizer) and "←" in Adadelta.__doc__


# -- LBFGS: the pieces -----------------------------------------------------------------------------
def test_two_loop_direction_is_minus_the_bfgs_inverse_hessian_times_g():
    rng = np.random.default_rng(0)
    n, pairs = 6, 4
    a = rng.standard_normal((n, n))
    hessian = a @ a.T + n * np.eye(n)  # y = A·s for an SPD A gives curvature s·y > 0
    steps = [rng.standard_normal(n) for _ in range(pairs)]
    changes = [hessian @ s for s in steps]
    rho = [1.0 / (s @ y) for s, y in zip(steps, changes)]
    h_diag = (steps[-1] @ changes[-1]) / (changes[-1] @ changes[-1])
    # H_{k+1} = (I - ρ·s·yᵀ)·H_k·(I - ρ·y·sᵀ) + ρ·s·sᵀ, from H_0 = h_diag·I (oldest pair first)
    inverse = h_diag * np.eye(n)
    for s, y, r in zip(steps, changes, rho):
        left = np.eye(n) - r * np.outer(s, y)
        inverse = left @ inverse @ left.T + r * np.outer(s, s)
    g = rng.standard_normal(n)
    d = two_loop_direction(g, steps, changes, rho, h_diag)
    np.testing.assert_allclose(d, -inverse @ g, rtol=1e-10, atol=1e-12)
    # the secant equation H·y = s holds for the newest pair
    np.testing.assert_allclose(
        -two_loop_direction(changes[-1], steps, changes, rho, h_diag), steps[-1]
    )


def _trial_on(poly, t):
    return _Trial(t, float(np.polyval(poly, t)), None, float(np.polyval(np.polyder(poly), t)))


def test_cubic_interpolate_finds_the_minimizer_of_a_cubic():
    poly = np.array(
        [1.0, -2.0, -3.0, 5.0]
    )  # φ(t) = t³ - 2t² - 3t + 5, local minimum at (2 + √13)/3
    minimum = (2 + np.sqrt(13)) / 3
    for a, b in [(0.0, 3.0), (3.0, 0.0), (1.0, 2.5)]:
        t = cubic_interpolate(_trial_on(poly, a), _trial_on(poly, b))
        assert t == pytest.approx(minimum, rel=1e-12)
    t = cubic_interpolate(_trial_on(poly, 0.0), _trial_on(poly, 1.0), bounds=(0.5, 1.5))
    assert t == 1.5  # the minimizer lies beyond the bounds: clamped
    flat = np.array([1.0, 0.0, 3.0, 0.0])  # φ(t) = t³ + 3t: increasing, no local minimizer
    t = cubic_interpolate(_trial_on(flat, 0.0), _trial_on(flat, 1.0), bounds=(2.0, 4.0))
    assert t == 3.0  # the middle of the bounds


@pytest.mark.parametrize("t0", [1e-3, 1.0, 50.0])
def test_strong_wolfe_returns_a_step_satisfying_both_conditions(t0):
    center = np.array([1.0, -2.0])
    x, d = np.array([3.0, 1.0]), np.array([-1.0, -1.5])

    def f_and_grad(point):
        r = point - center
        return float(r @ r + 0.1 * np.sum(r**4)), 2 * r + 0.4 * r**3

    def objective(t):
        return f_and_grad(x + t * d)

    f0, g0 = f_and_grad(x)
    gtd0 = float(g0 @ d)
    f, g, t, evals = strong_wolfe(objective, t0, d, f0, g0, gtd0)
    assert t > 0 and 1 <= evals <= 26
    assert f <= f0 + 1e-4 * t * gtd0  # sufficient decrease
    assert abs(float(g @ d)) <= 0.9 * abs(gtd0)  # curvature
    f_at_t, g_at_t = objective(t)
    assert f == f_at_t and np.array_equal(g, g_at_t)


def _wiggly_lines(count: int, seed: int = 7):
    """(a, b, ω, c, t0, max_ls) of lines f(x) = a·x² + Σ b·sin(ω·x + c): random, then one picked."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        a = rng.uniform(0.05, 1.0)
        b, omega, c = rng.uniform(0.1, 2.0, 3), rng.uniform(0.5, 6.0, 3), rng.uniform(0, 6.3, 3)
        yield a, b, omega, c, float(rng.choice([0.01, 0.3, 1.0, 5.0])), int(rng.choice([3, 25]))
    # φ rises from the 1st trial to the 2nd but still descends there: bracketing goes on
    # (the rise counts from the 3rd trial on, PyTorch's rule), where N&W would stop
    yield (
        0.2345,
        (1.2566, 1.2573, 0.4573),
        (3.4649, 3.0014, 5.1559),
        (0.4312, 1.4686, 3.5598),
        0.3,
        3,
    )


@pytest.mark.parity
def test_strong_wolfe_matches_torch_on_wiggly_lines():
    torch = pytest.importorskip("torch")
    torch_lbfgs = pytest.importorskip("torch.optim.lbfgs")
    torch_strong_wolfe = getattr(torch_lbfgs, "_strong_wolfe", None)
    if torch_strong_wolfe is None:
        pytest.skip("this torch has no torch.optim.lbfgs._strong_wolfe to compare with")
    for case, (a, b, omega, c, t0, max_ls) in enumerate(_wiggly_lines(60)):
        b, omega, c = np.array(b), np.array(omega), np.array(c)

        def f_and_grad(x, a=a, b=b, omega=omega, c=c):
            value = a * x * x + np.sum(b * np.sin(omega * x + c))
            return value, 2 * a * x + np.sum(b * omega * np.cos(omega * x + c))

        f0, slope = f_and_grad(0.0)
        d, g0 = np.array([-np.sign(slope)]), np.array([slope])  # search downhill from x = 0

        def ours_objective(t, d=d, f_and_grad=f_and_grad):
            f, g = f_and_grad(t * d[0])
            return f, np.array([g])

        def torch_objective(x, t, direction, f_and_grad=f_and_grad):
            f, g = f_and_grad(float(x + t * direction[0]))
            return f, torch.tensor([g], dtype=torch.float64)

        ours = strong_wolfe(ours_objective, t0, d, f0, g0, float(g0 @ d), max_ls=max_ls)
        theirs = torch_strong_wolfe(
            torch_objective,
            0.0,
            t0,
            torch.tensor(d),
            f0,
            torch.tensor(g0),
            float(g0 @ d),
            max_ls=max_ls,
        )
        assert ours[3] == theirs[3], f"case {case}: {ours[3]} evaluations, torch {theirs[3]}"
        assert float(ours[2]) == pytest.approx(float(theirs[2]), rel=1e-9, abs=1e-12), (
            f"case {case}"
        )
        assert float(ours[0]) == pytest.approx(float(theirs[0]), rel=1e-9, abs=1e-12), (
            f"case {case}"
        )


# -- LBFGS: against torch.optim.LBFGS --------------------------------------------------------------
def _least_squares(lib, tensor):
    rng = np.random.default_rng(4)
    x = tensor(rng.standard_normal((30, 3)))
    y = tensor(rng.standard_normal((30, 2)))
    params = [tensor(rng.standard_normal((3, 2))), tensor(np.zeros(2))]

    def loss_fn():
        diff = x @ params[0] + params[1] - y
        return (diff * diff).mean()

    return params, loss_fn


def _rosenbrock(lib, tensor):
    params = [tensor(np.array([-1.5, 2.0]))]

    def loss_fn():
        w = params[0]
        return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2

    return params, loss_fn


def _wiggly(lib, tensor):
    """Many local minima along every line: the line search brackets, zooms and safeguards."""
    params = [tensor(np.array([2.5, -1.0, 0.3, 4.0]))]

    def loss_fn():
        x = params[0]
        return (0.5 * x * x + 2 * lib.sin(3 * x)).sum() + 0.1 * x.sum() ** 2

    return params, loss_fn


def _kinks(lib, tensor):
    """|x - c| has kinks where no step meets the curvature condition: long zooms, safeguards."""
    params = [tensor(np.array([2.5, -1.0, 0.3, 4.0]))]
    c = tensor(np.array([0.5, 0.25, -1.0, 2.0]))

    def loss_fn():
        x = params[0]
        return (x - c).abs().sum() + 0.1 * (x * x).sum()

    return params, loss_fn


def _run_lbfgs(lib, problem, steps, **options):
    """Losses returned by each step(closure), final parameters and the state's counters."""
    if lib == "torch":
        import torch

        module, opt_class = torch, torch.optim.LBFGS

        def tensor(array):
            return torch.tensor(array, dtype=torch.float64)
    else:
        module, opt_class = dg, LBFGS

        def tensor(array):
            return dg.tensor(array, dtype=dg.float64)

    params, loss_fn = problem(module, tensor)
    for p in params:
        p.requires_grad_(True)
    opt = opt_class(params, **options)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    state = opt.state[params[0]]
    values = [p.detach().numpy().copy() for p in params]
    return losses, values, (state["func_evals"], state["n_iter"])


FIXED, WOLFE = dict(line_search_fn=None), dict(line_search_fn="strong_wolfe")
# (problem, options): each runs 5 step(closure) calls. The cases stay away from the float64
# noise floor and from ill-conditioned problems, where L-BFGS amplifies rounding differences
# ~1000x per iteration (torch against itself with the start perturbed by 1e-15 does the same).
LBFGS_PARITY = [
    (_least_squares, dict(FIXED, lr=0.1, max_iter=5)),
    (_least_squares, WOLFE),
    (_least_squares, dict(WOLFE, max_iter=4, history_size=2)),
    (_least_squares, dict(WOLFE, max_iter=1)),  # max_eval = 1: the line search has no budget
    (_rosenbrock, dict(FIXED, lr=0.05, history_size=3)),
    (_rosenbrock, WOLFE),
    (_rosenbrock, dict(WOLFE, max_iter=4, history_size=2)),
    (_rosenbrock, dict(WOLFE, lr=0.1)),  # first trials too short: the bracketing extrapolates
    (_wiggly, dict(FIXED, lr=0.05, history_size=3)),
    (_wiggly, WOLFE),
    (_wiggly, dict(WOLFE, max_iter=4, history_size=2)),
    (_wiggly, dict(WOLFE, lr=0.1)),
    (_kinks, WOLFE),
    (_kinks, dict(WOLFE, lr=2.0)),  # trials land near the bracket's ends: moved inside
]


@pytest.mark.parity
@pytest.mark.parametrize(
    "problem,options",
    LBFGS_PARITY,
    ids=[f"{problem.__name__[1:]}-{options}" for problem, options in LBFGS_PARITY],
)
def test_lbfgs_steps_match_torch(problem, options):
    pytest.importorskip("torch")
    ours = _run_lbfgs("deepgrad", problem, 5, **options)
    theirs = _run_lbfgs("torch", problem, 5, **options)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9, atol=1e-12)
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert ours[2] == theirs[2]  # the same numbers of closure calls and iterations


# -- LBFGS: behaviour ------------------------------------------------------------------------------
def test_lbfgs_minimizes_rosenbrock_with_strong_wolfe():
    w = dg.tensor([-1.5, 2.0], dtype=dg.float64, requires_grad=True)
    opt = LBFGS([w], line_search_fn="strong_wolfe", tolerance_change=1e-14)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
        loss.backward()
        calls.append(loss.item())
        return loss

    for _ in range(5):
        opt.step(closure)
    assert calls[-1] < 1e-6 and np.allclose(w.detach().numpy(), [1.0, 1.0], atol=1e-3)
    assert opt.state[w]["func_evals"] == len(calls)
    assert len(calls) <= 5 * 25  # each step(closure) stays within max_eval = 20·5//4


def test_lbfgs_fits_a_small_mlp():
    dg.manual_seed(0)
    model = dg.nn.Sequential(dg.nn.Linear(1, 16), dg.nn.Tanh(), dg.nn.Linear(16, 1))
    x = dg.tensor(np.linspace(-2, 2, 64, dtype=np.float32).reshape(-1, 1))
    y = dg.sin(2 * x)
    opt = LBFGS(model.parameters(), line_search_fn="strong_wolfe", max_iter=10)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    first = opt.step(closure).item()
    for _ in range(9):
        last = opt.step(closure).item()
    assert last < first / 20, f"loss went from {first} to {last}"
    assert all(p.dtype == dg.float32 for p in model.parameters())


@pytest.mark.parametrize("start", [[3.0, -4.0], [0.1, -0.2]])
def test_lbfgs_first_step_moves_at_most_lr_in_l1(start):
    # f(x) = |x|²/2, g = x: the first step is x - min(1, 1/Σ|g|)·lr·g
    x = dg.tensor(start, dtype=dg.float64, requires_grad=True)
    opt = LBFGS([x], lr=0.5, max_iter=1)

    def closure():
        opt.zero_grad()
        loss = (x * x).sum() / 2
        loss.backward()
        return loss

    opt.step(closure)
    g = np.array(start)
    expected = g - min(1.0, 1.0 / np.abs(g).sum()) * 0.5 * g
    np.testing.assert_allclose(x.detach().numpy(), expected, rtol=1e-15)
    assert opt.state[x]["t"] == min(1.0, 1.0 / np.abs(g).sum()) * 0.5


def test_lbfgs_stops_at_once_when_the_gradient_is_zero():
    w = dg.tensor([1.0, 1.0], dtype=dg.float64, requires_grad=True)
    opt = LBFGS([w])
    calls = []

    def closure():
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        calls.append(1)
        return loss

    loss = opt.step(closure)
    assert loss.item() == 0.0 and len(calls) == 1
    assert opt.state[w] == {"func_evals": 1, "n_iter": 0}


def test_lbfgs_state_dict_round_trip_continues_exactly(tmp_path):
    def build():
        rng = np.random.default_rng(5)
        params = [
            dg.tensor(rng.standard_normal((3, 2)), requires_grad=True),
            dg.tensor(rng.standard_normal(2), requires_grad=True),
        ]
        x, y = dg.tensor(rng.standard_normal((20, 3))), dg.tensor(rng.standard_normal((20, 2)))
        return (
            params,
            lambda: ((x @ params[0] + params[1] - y) ** 2).mean() + (params[0] ** 4).sum(),
        )

    def closure_for(opt, loss_fn):
        def closure():
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss

        return closure

    params, loss_fn = build()
    opt = LBFGS(params, max_iter=3, max_eval=20, history_size=4, line_search_fn="strong_wolfe")
    for _ in range(2):
        opt.step(closure_for(opt, loss_fn))
    state = opt.state_dict()["state"][0]
    assert state["n_iter"] == 6 and len(state["old_dirs"]) == len(state["old_stps"]) == 4
    assert state["d"].shape == (8,) and state["prev_flat_grad"].shape == (8,)
    dg.save(opt.state_dict(), tmp_path / "lbfgs.safetensors")

    twins, twin_loss_fn = build()
    for twin, param in zip(twins, params):
        twin.data.copy_(param.data)
    other = LBFGS(twins, max_iter=3)
    other.load_state_dict(dg.load(tmp_path / "lbfgs.safetensors"))
    assert other.param_groups[0]["history_size"] == 4
    for _ in range(3):
        expected = opt.step(closure_for(opt, loss_fn)).item()
        assert other.step(closure_for(other, twin_loss_fn)).item() == expected
    for a, b in zip(params, twins):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    # the loaded state is a copy: stepping the original did not change it
    assert other.state[twins[0]]["old_dirs"][0] is not opt.state[params[0]]["old_dirs"][0]


def test_lbfgs_load_state_dict_rejects_vectors_of_another_size():
    opt = LBFGS([dg.zeros(3, requires_grad=True)])
    saved = {
        "state": {0: {"func_evals": 1, "n_iter": 1, "d": dg.zeros(5)}},
        "param_groups": [dict(opt.state_dict()["param_groups"][0])],
    }
    with pytest.raises(ValueError, match=r"state 'd' holds vectors of shape \(5,\).*3 elements"):
        opt.load_state_dict(saved)


def test_lbfgs_defaults():
    opt = LBFGS([dg.zeros(2, requires_grad=True)], max_iter=8)
    group = {k: v for k, v in opt.param_groups[0].items() if k != "params"}
    assert group == dict(
        lr=1.0,
        max_iter=8,
        max_eval=10,
        tolerance_grad=1e-7,
        tolerance_change=1e-9,
        history_size=100,
        line_search_fn=None,
    )
    assert issubclass(optim.LBFGS, Optimizer) and "←" in LBFGS.__doc__


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(lr=0.0), r"LBFGS: lr must be > 0 \(got 0.0\)"),
        (dict(lr=-1.0), r"LBFGS: lr must be > 0 \(got -1.0\)"),
        (dict(history_size=0), r"LBFGS: history_size must be a positive int \(got 0\)"),
        (dict(max_iter=0), r"LBFGS: max_iter must be a positive int \(got 0\)"),
        (dict(max_eval=2.5), r"LBFGS: max_eval must be a positive int \(got float 2.5\)"),
        (dict(tolerance_grad=-1.0), r"LBFGS: tolerance_grad must be >= 0"),
        (
            dict(line_search_fn="wolfe"),
            r"unknown line_search_fn 'wolfe'; allowed: None .*'strong_wolfe'",
        ),
    ],
)
def test_lbfgs_rejects_bad_options(options, message):
    # A wrong type is a TypeError, a wrong value a ValueError (deepgrad.backend.validation).
    with pytest.raises((ValueError, TypeError), match=message):
        LBFGS([dg.zeros(2, requires_grad=True)], **options)


def test_lbfgs_needs_a_closure_and_one_group_of_one_dtype():
    w = dg.zeros(2, requires_grad=True)
    opt = LBFGS([w])
    with pytest.raises(TypeError, match=r"LBFGS.step: a closure is required \(got None\)"):
        opt.step()
    with pytest.raises(ValueError, match="LBFGS: only one parameter group is supported"):
        LBFGS([{"params": [w]}, {"params": [dg.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="LBFGS: only one parameter group is supported"):
        opt.add_param_group({"params": [dg.zeros(1, requires_grad=True)]})
    with pytest.raises(DTypeError, match="LBFGS: all parameters must share one dtype"):
        LBFGS([w, dg.zeros(2, dtype=dg.float64, requires_grad=True)])


def test_copy_of_lbfgs_state_dict_is_independent():
    w = dg.tensor([3.0, -1.0], dtype=dg.float64, requires_grad=True)
    opt = LBFGS([w], max_iter=2)

    def closure():
        opt.zero_grad()
        loss = (w**4).sum()
        loss.backward()
        return loss

    opt.step(closure)
    snapshot = copy.deepcopy(opt.state_dict())
    before = snapshot["state"][0]["d"].numpy().copy()
    opt.step(closure)
    assert not np.array_equal(opt.state[w]["d"].numpy(), before)
    np.testing.assert_array_equal(snapshot["state"][0]["d"].numpy(), before)
    assert snapshot["state"][0]["n_iter"] == 1 and opt.state[w]["n_iter"] == 2  # max_eval = 2
