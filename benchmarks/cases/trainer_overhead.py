"""Trainer overhead (issue 4): one epoch of 32 MLP steps (784-1000-500-100-10, ReLU, batch 128,
F.cross_entropy, SGD with momentum) by a hand-written loop, by the Trainer, by the Trainer with an
accuracy metric, and by the Trainer with a Monitor (default ``every``, and every step). Times are
per training step; ratios against the hand-written loop."""

import itertools

from harness import Case

from cases._mlp_data import SIZES, data

STEPS = 32


def _setup(config):
    import deepgrad as dg
    import deepgrad.nn.functional as F
    from deepgrad import nn
    from deepgrad.optim import SGD

    dg.manual_seed(0)
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(SIZES)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(SIZES) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    batches = []
    for seed in range(STEPS):
        x, y = data(config["batch"], seed)
        batches.append((dg.from_numpy(x), dg.from_numpy(y.astype("int64"))))
    return model, F.cross_entropy, SGD(model.parameters(), lr=0.01, momentum=0.9), batches


def hand_loop(config):
    model, loss_fn, opt, batches = _setup(config)

    def epoch():
        model.train()
        for x, y in batches:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            float(loss._data)  # a loop that reports its loss reads it once per step too

    return epoch


def _trainer(config, **kwargs):
    from deepgrad.train import Trainer

    model, loss_fn, opt, batches = _setup(config)
    trainer = Trainer(model, loss_fn, opt, progress=False, **kwargs)

    def epoch():
        trainer.fit(batches, epochs=1)

    return epoch


def trainer(config):
    return _trainer(config)


def trainer_accuracy(config):
    return _trainer(config, metrics=["accuracy"])


def trainer_monitor(config):
    return _trainer(config, monitor=True)


def trainer_monitor_every_step(config):
    from deepgrad.train import Monitor

    return _trainer(config, monitor=Monitor(every=1))


CASE = Case(
    name="trainer_overhead",
    description=f"MLP 784-1000-500-100-10 step inside an epoch of {STEPS}: hand loop vs Trainer (+metric, +Monitor)",
    implementations={
        "hand_loop": hand_loop,
        "trainer": trainer,
        "trainer+accuracy": trainer_accuracy,
        "trainer+monitor": trainer_monitor,
        "trainer+monitor(every=1)": trainer_monitor_every_step,
    },
    per=STEPS,
    reference=("hand_loop",),
    config={"batch": 128},
)
