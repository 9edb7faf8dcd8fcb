"""Learning-rate schedulers: against their formulas, against torch, state dicts, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.optim import SGD, Adagrad, Adam, lr_scheduler
from deepgrad.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

BASE_LRS = (0.1, 0.5)


def _optimizer(cls=SGD, **options):
    groups = [
        {"params": [dg.zeros(2, requires_grad=True)]},
        {"params": [dg.zeros(3, requires_grad=True)], "lr": 0.5},
    ]
    return cls(groups, lr=0.1, **options)


def _one_cycle_formula(
    t, base, max_lr=1.0, total=40, pct=0.3, div=25.0, final_div=1e4, anneal="cos"
):
    """lr and momentum of the two-phase 1cycle policy at step t (written from Smith & Topin)."""
    del base
    low = max_lr / div
    lowest = low / final_div
    warm = pct * total - 1

    def f(a, b, x):
        return b + (a - b) * (1 + math.cos(math.pi * x)) / 2 if anneal == "cos" else a + (b - a) * x

    if t <= warm:
        return f(low, max_lr, t / warm), f(0.95, 0.85, t / warm)
    x = (t - warm) / (total - 1 - warm)
    return f(max_lr, lowest, x), f(0.85, 0.95, x)


# (name, constructor, closed form lr(t, base_lr), steps)
FORMULAS = [
    ("StepLR", lambda o: StepLR(o, step_size=3, gamma=0.5), lambda t, b: b * 0.5 ** (t // 3), 30),
    (
        "MultiStepLR",
        lambda o: MultiStepLR(o, milestones=[9, 2, 5, 5], gamma=0.3),
        lambda t, b: b * 0.3 ** sum(m <= t for m in (2, 5, 5, 9)),
        30,
    ),
    ("ExponentialLR", lambda o: ExponentialLR(o, gamma=0.9), lambda t, b: b * 0.9**t, 30),
    (
        "CosineAnnealingLR",
        lambda o: CosineAnnealingLR(o, T_max=7, eta_min=0.01),
        lambda t, b: 0.01 + (b - 0.01) * (1 + math.cos(math.pi * t / 7)) / 2,
        30,
    ),
    (
        "LinearLR",
        lambda o: LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6),
        lambda t, b: b * (0.2 + 0.7 * min(t, 6) / 6),
        30,
    ),
    ("LambdaLR", lambda o: LambdaLR(o, lambda t: 1 / (1 + t)), lambda t, b: b / (1 + t), 30),
    (
        "OneCycleLR",
        lambda o: OneCycleLR(o, max_lr=1.0, total_steps=40),
        lambda t, b: _one_cycle_formula(t, b)[0],
        41,
    ),
    (
        "OneCycleLR-linear",
        lambda o: OneCycleLR(o, max_lr=1.0, total_steps=40, anneal_strategy="linear"),
        lambda t, b: _one_cycle_formula(t, b, anneal="linear")[0],
        41,
    ),
    (
        "SequentialLR",
        lambda o: SequentialLR(
            o,
            [
                LinearLR(o, start_factor=0.1, total_iters=4),
                ExponentialLR(o, gamma=0.8),
                StepLR(o, 2),
            ],
            milestones=[4, 9],
        ),
        lambda t, b: (
            b * (0.1 + 0.9 * t / 4)
            if t < 4
            else (b * 0.8 ** (t - 4) if t < 9 else b * 0.1 ** ((t - 9) // 2))
        ),
        25,
    ),
]


@pytest.mark.parametrize("name,build,formula,steps", FORMULAS, ids=[f[0] for f in FORMULAS])
def test_scheduler_follows_its_formula(name, build, formula, steps):
    opt = _optimizer(momentum=0.9)
    scheduler = build(opt)
    for t in range(steps):
        expected = [formula(t, base) for base in BASE_LRS]
        assert scheduler.last_epoch == t
        np.testing.assert_allclose(
            scheduler.get_last_lr(), expected, rtol=1e-12, atol=1e-15, err_msg=f"step {t}"
        )
        np.testing.assert_allclose(
            [g["lr"] for g in opt.param_groups], expected, rtol=1e-12, atol=1e-15
        )
        opt.step()
        if t < steps - 1:
            scheduler.step()


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_cycles_sgd_momentum_and_adam_beta1(anneal):
    for cls, read in ((SGD, lambda g: g["momentum"]), (Adam, lambda g: g["betas"][0])):
        opt = _optimizer(cls, **({"momentum": 0.9} if cls is SGD else {}))
        scheduler = OneCycleLR(
            opt, max_lr=[1.0, 2.0], epochs=4, steps_per_epoch=10, anneal_strategy=anneal
        )
        for t in range(41):
            for group, max_lr in zip(opt.param_groups, (1.0, 2.0)):
                lr, momentum = _one_cycle_formula(t, None, max_lr=max_lr, anneal=anneal)
                assert group["lr"] == pytest.approx(lr, rel=1e-12)
                assert read(group) == pytest.approx(momentum, rel=1e-12)
                if cls is Adam:
                    assert group["betas"][1] == 0.999
            if t < 40:
                scheduler.step()
        with pytest.raises(
            ValueError, match="OneCycleLR: stepped 41 times but the cycle has total_steps=40"
        ):
            scheduler.step()


def test_one_cycle_three_phase():
    opt = _optimizer(momentum=0.9)
    scheduler = OneCycleLR(
        opt, max_lr=1.0, total_steps=100, pct_start=0.25, three_phase=True, anneal_strategy="linear"
    )
    lrs, momenta = [], []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        momenta.append(opt.param_groups[0]["momentum"])
        scheduler.step()
    # up over steps 0..24, down over 24..48, then down to max_lr/25/1e4 at step 99
    assert (
        lrs[0] == pytest.approx(0.04)
        and lrs[24] == pytest.approx(1.0)
        and lrs[48] == pytest.approx(0.04)
    )
    assert lrs[99] == pytest.approx(0.04 / 1e4)
    assert lrs[12] == pytest.approx(0.04 + 0.96 * 12 / 24)
    assert (
        momenta[24] == pytest.approx(0.85)
        and momenta[48] == pytest.approx(0.95)
        and momenta[80] == pytest.approx(0.95)
    )


def test_reduce_on_plateau_by_hand():
    opt = SGD([dg.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = ReduceLROnPlateau(
        opt, factor=0.5, patience=2, threshold=0.0, threshold_mode="abs", cooldown=1, min_lr=0.2
    )
    metrics = [5, 4, 4, 4, 4, 4, 4, 4] + [3] * 12
    # reductions after 3 non-improving steps (patience 2): at steps 5 and 12; the cooldown step after
    # each does not count; at step 16 the rate stops at min_lr and stays there.
    expected = [1.0] * 4 + [0.5] * 7 + [0.25] * 4 + [0.2] * 5
    seen = []
    for value in metrics:
        scheduler.step(dg.tensor(float(value)))
        seen.append(opt.param_groups[0]["lr"])
    assert seen == expected
    assert scheduler.get_last_lr() == [0.2] and scheduler.last_epoch == 20


def test_reduce_on_plateau_max_mode_rel_threshold():
    opt = SGD([dg.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=0, threshold=0.1)
    scheduler.step(1.0)  # best = 1.0
    scheduler.step(1.05)  # not 10% better: reduce (patience 0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    scheduler.step(1.2)  # 20% better than 1.0
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1) and scheduler.best == 1.2


@pytest.mark.parametrize("name,build,formula,steps", FORMULAS, ids=[f[0] for f in FORMULAS])
def test_state_dict_round_trip(name, build, formula, steps):
    opt = _optimizer(momentum=0.9)
    scheduler = build(opt)
    for _ in range(7):
        opt.step()
        scheduler.step()
    opt_state, scheduler_state = opt.state_dict(), scheduler.state_dict()
    for _ in range(10):
        opt.step()
        scheduler.step()
    expected = scheduler.get_last_lr()

    resumed_opt = _optimizer(momentum=0.9)
    resumed = build(resumed_opt)
    resumed_opt.load_state_dict(opt_state)
    resumed.load_state_dict(scheduler_state)
    assert resumed.last_epoch == 7
    for _ in range(10):
        resumed_opt.step()
        resumed.step()
    assert resumed.get_last_lr() == expected
    assert [g["lr"] for g in resumed_opt.param_groups] == expected


def test_reduce_on_plateau_state_dict_round_trip():
    opt = SGD([dg.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = ReduceLROnPlateau(opt, patience=1, cooldown=2)
    for value in (3, 2, 2, 2):
        scheduler.step(value)
    state = scheduler.state_dict()
    assert "optimizer" not in state and state["best"] == 2
    other = ReduceLROnPlateau(SGD([dg.zeros(1, requires_grad=True)], lr=1.0))
    other.load_state_dict(state)
    assert (other.num_bad_epochs, other.cooldown_counter, other.patience) == (
        scheduler.num_bad_epochs,
        scheduler.cooldown_counter,
        1,
    )


def test_lambda_lr_per_group_and_state_dict_without_functions():
    opt = _optimizer()
    scheduler = LambdaLR(opt, [lambda t: 0.5**t, lambda t: t + 1])
    scheduler.step()
    scheduler.step()
    assert scheduler.get_last_lr() == pytest.approx([0.1 * 0.25, 0.5 * 3])
    assert "lr_lambdas" not in scheduler.state_dict()
    with pytest.raises(ValueError, match="expected 2 values of lr_lambda, one per parameter group"):
        LambdaLR(opt, [lambda t: 1.0])
    with pytest.raises(TypeError, match="lr_lambda must be callable"):
        LambdaLR(opt, 0.5)


def test_schedulers_share_initial_lr_and_resume_needs_it():
    opt = _optimizer()
    ExponentialLR(opt, gamma=0.5).step()
    second = StepLR(
        opt, step_size=1, gamma=0.1
    )  # starts from the original rates, not the decayed ones
    assert second.base_lrs == list(BASE_LRS)
    with pytest.raises(
        ValueError, match=r"resuming at last_epoch=4 but param_groups \[0, 1\] have no 'initial_lr'"
    ):
        StepLR(_optimizer(), step_size=2, last_epoch=4)
    resumed = StepLR(opt, step_size=2, gamma=0.1, last_epoch=4)
    assert resumed.last_epoch == 5 and resumed.get_last_lr() == pytest.approx(
        [0.1 * 0.01, 0.5 * 0.01]
    )


@pytest.mark.parametrize(
    "build,error,message",
    [
        (
            lambda o: StepLR(o, step_size=0),
            ValueError,
            r"StepLR: step_size must be a positive int \(got 0\)",
        ),
        (
            lambda o: StepLR(o, step_size=2, gamma=-1),
            ValueError,
            r"StepLR: gamma must be >= 0 \(got -1\)",
        ),
        (
            lambda o: MultiStepLR(o, milestones=[2, -1]),
            ValueError,
            r"MultiStepLR: milestones\[1\] must be a non-negative int \(got -1\)",
        ),
        (
            lambda o: CosineAnnealingLR(o, T_max=0),
            ValueError,
            "CosineAnnealingLR: T_max must be a positive int",
        ),
        (
            lambda o: LinearLR(o, start_factor=0.0),
            ValueError,
            r"LinearLR: start_factor must be in \(0, 1\]",
        ),
        (
            lambda o: LinearLR(o, end_factor=1.5),
            ValueError,
            r"LinearLR: end_factor must be in \[0, 1\] \(got 1.5\)",
        ),
        (
            lambda o: StepLR(object(), step_size=1),
            TypeError,
            "StepLR: expected a deepgrad Optimizer",
        ),
        (
            lambda o: OneCycleLR(o, max_lr=1.0),
            ValueError,
            "OneCycleLR: give total_steps, or both epochs",
        ),
        (
            lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="cosine"),
            ValueError,
            "'cos' or 'linear'",
        ),
        (
            lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5),
            ValueError,
            "pct_start must be in",
        ),
        (
            lambda o: OneCycleLR(o, max_lr=1.0, total_steps=3),
            ValueError,
            "phase 0 of the cycle has no steps",
        ),
        (
            lambda o: OneCycleLR(o, max_lr=[1.0], total_steps=10),
            ValueError,
            "expected 2 values of max_lr",
        ),
        (lambda o: ReduceLROnPlateau(o, mode="minimum"), ValueError, "mode must be 'min' or 'max'"),
        (lambda o: ReduceLROnPlateau(o, factor=1.0), ValueError, r"factor must be in \[0, 1\)"),
        (
            lambda o: ReduceLROnPlateau(o, threshold_mode="relative"),
            ValueError,
            "threshold_mode must be 'rel' or 'abs'",
        ),
        (
            lambda o: ReduceLROnPlateau(o, patience=-1),
            ValueError,
            r"patience must be a non-negative int \(got -1\)",
        ),
        (
            lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], milestones=[]),
            ValueError,
            "expected 1 milestones",
        ),
        (
            lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], milestones=[0]),
            ValueError,
            r"SequentialLR: milestones\[0\] must be a positive int \(got 0\)",
        ),
        (
            lambda o: SequentialLR(
                o, [StepLR(o, 2), StepLR(o, 3), StepLR(o, 4)], milestones=[4, 4]
            ),
            ValueError,
            "strictly increasing",
        ),
        (
            lambda o: StepLR(o, step_size=2.0),
            TypeError,
            r"StepLR: step_size must be a positive int \(got float 2.0\)",
        ),
        (
            lambda o: StepLR(o, step_size=2, last_epoch=-2),
            ValueError,
            r"last_epoch must be an int >= -1 \(got -2\)",
        ),
        (
            lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, div_factor=0),
            ValueError,
            "div_factor must be > 0",
        ),
        (
            lambda o: ReduceLROnPlateau(o, cooldown=True),
            TypeError,
            "cooldown must be a non-negative int",
        ),
        (
            lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(_optimizer(), 3)], milestones=[3]),
            ValueError,
            "different optimizer",
        ),
        (
            lambda o: SequentialLR(o, [ReduceLROnPlateau(o)], milestones=[]),
            TypeError,
            "cannot be sequenced",
        ),
    ],
)
def test_validation(build, error, message):
    with pytest.raises(error, match=message):
        build(_optimizer(momentum=0.9))


def test_one_cycle_needs_momentum_or_betas():
    with pytest.raises(
        ValueError, match="cycle_momentum=True needs an optimizer with momentum or betas .*Adagrad"
    ):
        OneCycleLR(_optimizer(Adagrad), max_lr=1.0, total_steps=10)
    OneCycleLR(_optimizer(Adagrad), max_lr=1.0, total_steps=10, cycle_momentum=False)


def test_every_scheduler_is_an_lr_scheduler():
    for cls in (
        StepLR,
        MultiStepLR,
        ExponentialLR,
        CosineAnnealingLR,
        LinearLR,
        LambdaLR,
        SequentialLR,
        OneCycleLR,
        ReduceLROnPlateau,
    ):
        assert issubclass(cls, LRScheduler) and cls.__doc__
        assert getattr(lr_scheduler, cls.__name__) is cls


# -- parity with torch.optim.lr_scheduler -----------------------------------------------------------------
PARITY = [
    ("StepLR", dict(step_size=3, gamma=0.5), 30),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3), 30),
    ("ExponentialLR", dict(gamma=0.9), 30),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01), 30),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.9, total_iters=6), 30),
    ("LambdaLR", dict(lr_lambda=lambda t: 1 / (1 + t)), 30),
    ("OneCycleLR", dict(max_lr=[1.0, 2.0], total_steps=30), 31),
    (
        "OneCycleLR",
        dict(max_lr=1.0, total_steps=30, three_phase=True, anneal_strategy="linear", pct_start=0.2),
        31,
    ),
]


def _torch_optimizer(torch, cls_name="SGD", **options):
    groups = [
        {"params": [torch.zeros(2, requires_grad=True)]},
        {"params": [torch.zeros(3, requires_grad=True)], "lr": 0.5},
    ]
    return getattr(torch.optim, cls_name)(groups, lr=0.1, **options)


@pytest.mark.parity
@pytest.mark.parametrize(
    "name,options,steps", PARITY, ids=[f"{p[0]}-{i}" for i, p in enumerate(PARITY)]
)
def test_matches_torch(name, options, steps):
    torch = pytest.importorskip("torch")
    opt, torch_opt = _optimizer(momentum=0.9), _torch_optimizer(torch, momentum=0.9)
    scheduler = getattr(lr_scheduler, name)(opt, **options)
    torch_scheduler = getattr(torch.optim.lr_scheduler, name)(torch_opt, **options)
    for t in range(steps):
        np.testing.assert_allclose(
            scheduler.get_last_lr(), torch_scheduler.get_last_lr(), rtol=1e-10, err_msg=f"step {t}"
        )
        ours = [g["momentum"] for g in opt.param_groups]
        theirs = [g["momentum"] for g in torch_opt.param_groups]
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        opt.step()
        torch_opt.step()
        if t < steps - 1:
            scheduler.step()
            torch_scheduler.step()


@pytest.mark.parity
def test_sequential_and_one_cycle_with_adam_match_torch():
    torch = pytest.importorskip("torch")
    opt, torch_opt = _optimizer(), _torch_optimizer(torch)
    ours = SequentialLR(
        opt,
        [
            LinearLR(opt, start_factor=0.1, total_iters=4),
            ExponentialLR(opt, 0.8),
            CosineAnnealingLR(opt, 5),
        ],
        [4, 9],
    )
    S = torch.optim.lr_scheduler
    theirs = S.SequentialLR(
        torch_opt,
        [
            S.LinearLR(torch_opt, start_factor=0.1, total_iters=4),
            S.ExponentialLR(torch_opt, 0.8),
            S.CosineAnnealingLR(torch_opt, 5),
        ],
        [4, 9],
    )
    adam, torch_adam = _optimizer(Adam), _torch_optimizer(torch, "Adam")
    cycle = OneCycleLR(adam, max_lr=1.0, epochs=3, steps_per_epoch=10)
    torch_cycle = S.OneCycleLR(torch_adam, max_lr=1.0, epochs=3, steps_per_epoch=10)
    for t in range(25):
        np.testing.assert_allclose(
            ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-10, err_msg=f"step {t}"
        )
        np.testing.assert_allclose(cycle.get_last_lr(), torch_cycle.get_last_lr(), rtol=1e-10)
        assert adam.param_groups[0]["betas"] == pytest.approx(
            torch_adam.param_groups[0]["betas"], rel=1e-12
        )
        for o in (opt, torch_opt, adam, torch_adam):
            o.step()
        for s in (ours, theirs, cycle, torch_cycle):
            s.step()


@pytest.mark.parity
@pytest.mark.parametrize(
    "mode,threshold_mode", [("min", "rel"), ("min", "abs"), ("max", "rel"), ("max", "abs")]
)
def test_reduce_on_plateau_matches_torch(mode, threshold_mode):
    torch = pytest.importorskip("torch")
    opt, torch_opt = _optimizer(), _torch_optimizer(torch)
    options = dict(
        mode=mode,
        threshold_mode=threshold_mode,
        threshold=0.05,
        patience=2,
        cooldown=1,
        factor=0.5,
        min_lr=[0.01, 0.02],
    )
    ours = ReduceLROnPlateau(opt, **options)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **options)
    walk = np.cumsum(np.random.default_rng(0).normal(0, 1, 80)) + 100
    for value in walk:
        ours.step(float(value))
        theirs.step(float(value))
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    assert ours.get_last_lr() != [0.1, 0.5]  # the walk did trigger reductions
