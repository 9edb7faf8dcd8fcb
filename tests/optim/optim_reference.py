"""Independent NumPy re-derivations of one optimizer step, from the papers' update rules.

Each function takes the parameter ``p``, its gradient ``g`` (float64 arrays), a dict ``s`` for
its state (filled on the first call), the step number ``t`` (1, 2, ...) and the options with
the documented defaults, and returns the new parameter. Written with whole-array
expressions, out of place, with no reference to deepgrad's code.
"""

from __future__ import annotations

import numpy as np


def sgd(
    p, g, s, t, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False
):
    d = (-g if maximize else g) + weight_decay * p
    if momentum:
        s["v"] = d.copy() if t == 1 else momentum * s["v"] + (1 - dampening) * d
        d = d + momentum * s["v"] if nesterov else s["v"]
    return p - lr * d


def adagrad(
    p,
    g,
    s,
    t,
    lr=1e-2,
    lr_decay=0.0,
    weight_decay=0.0,
    initial_accumulator_value=0.0,
    eps=1e-10,
    maximize=False,
):
    d = (-g if maximize else g) + weight_decay * p
    s["G"] = s.get("G", np.full_like(p, initial_accumulator_value)) + d**2
    rate = lr / (1 + (t - 1) * lr_decay)
    return p - rate * d / (np.sqrt(s["G"]) + eps)


def rmsprop(
    p,
    g,
    s,
    t,
    lr=1e-2,
    alpha=0.99,
    eps=1e-8,
    weight_decay=0.0,
    momentum=0.0,
    centered=False,
    maximize=False,
):
    d = (-g if maximize else g) + weight_decay * p
    s["E2"] = alpha * s.get("E2", 0.0) + (1 - alpha) * d**2
    if centered:
        s["E1"] = alpha * s.get("E1", 0.0) + (1 - alpha) * d
        rms = np.sqrt(s["E2"] - s["E1"] ** 2) + eps
    else:
        rms = np.sqrt(s["E2"]) + eps
    if momentum > 0:
        s["buf"] = momentum * s.get("buf", 0.0) + d / rms
        return p - lr * s["buf"]
    return p - lr * d / rms


def adam(
    p,
    g,
    s,
    t,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    maximize=False,
    decoupled=False,
):
    b1, b2 = betas
    d = -g if maximize else g
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        d = d + weight_decay * p
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * d
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * d**2
    v = s["v"]
    if amsgrad:
        s["vmax"] = np.maximum(s.get("vmax", 0.0), s["v"])
        v = s["vmax"]
    m_hat = s["m"] / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def adamw(
    p,
    g,
    s,
    t,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=1e-2,
    amsgrad=False,
    maximize=False,
):
    return adam(p, g, s, t, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled=True)


def adamax(p, g, s, t, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
    b1, b2 = betas
    d = (-g if maximize else g) + weight_decay * p
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * d
    s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(d) + eps)
    return p - lr / (1 - b1**t) * s["m"] / s["u"]


def nadam(
    p,
    g,
    s,
    t,
    lr=2e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    momentum_decay=4e-3,
    decoupled_weight_decay=False,
    maximize=False,
):
    b1, b2 = betas
    d = -g if maximize else g
    if decoupled_weight_decay:
        p = p * (1 - lr * weight_decay)
    else:
        d = d + weight_decay * p

    def mu(step):
        return b1 * (1 - 0.5 * 0.96 ** (step * momentum_decay))

    s["prod"] = s.get("prod", 1.0) * mu(t)
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * d
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * d**2
    denom = np.sqrt(s["v"] / (1 - b2**t)) + eps
    gradient_part = (1 - mu(t)) / (1 - s["prod"]) * d / denom
    momentum_part = mu(t + 1) / (1 - s["prod"] * mu(t + 1)) * s["m"] / denom
    return p - lr * gradient_part - lr * momentum_part


REFERENCES = {
    "SGD": sgd,
    "Adagrad": adagrad,
    "RMSprop": rmsprop,
    "Adam": adam,
    "AdamW": adamw,
    "Adamax": adamax,
    "NAdam": nadam,
}
