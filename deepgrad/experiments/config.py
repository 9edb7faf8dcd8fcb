"""The settings of one training run (``RunConfig``), recipe options, and optimizers by name.

A ``RunConfig`` is what ``deepgrad train`` writes to ``config.json``: enough to rebuild the
data, the model and the optimizer of a run (``deepgrad evaluate`` reads it back).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from deepgrad import optim

OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
# the learning rate each optimizer gets when neither the recipe (for its own optimizer)
# nor --lr sets one
DEFAULT_LRS: dict[str, float] = {
    "sgd": 0.1,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adam": 1e-3,
    "adamw": 1e-3,
    "rmsprop": 1e-3,
    "adagrad": 1e-2,
}
MOMENTUM = 0.9
# the generic settings a recipe may use besides epochs, batch size, optimizer and the like
GENERIC = ("init", "activation", "dropout", "augment")


class RecipeError(ValueError):
    """A setting that a recipe cannot take; the message lists what is allowed."""


class RunFileError(ValueError):
    """A file of a run that is damaged or unusable; the message names the file and the fix.

    Raised by the readers of run folders (config.json, history.json, monitor.csv, checkpoints)
    in place of the parser's own error, which rarely names the file.

    Attributes:
        path: the file.
        problem: what is wrong with it.
        fix: what to do.

    Example:
        >>> str(RunFileError("runs/a/config.json", "is not valid JSON", "restore it"))
        'runs/a/config.json: is not valid JSON; restore it.'
    """

    def __init__(self, path: str | os.PathLike, problem: str, fix: str) -> None:
        self.path, self.problem, self.fix = os.fspath(path), problem, fix
        super().__init__(f"{self.path}: {problem}; {fix}.")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.path, self.problem, self.fix)


@dataclass
class RunConfig:
    """Everything that defines one training run.

    Attributes:
        recipe: the recipe's name ("mnist-mlp", ...).
        epochs, batch_size, lr: as usual.
        optimizer: one of ``OPTIMIZERS`` ("momentum" and "nesterov" are SGD with momentum 0.9).
        weight_decay: L2 penalty coefficient (added to the gradient; decoupled for "adamw").
        init, activation, dropout: model settings, None where the recipe does not use them.
        early_stopping: patience in epochs, or None for no early stopping.
        augment: random rotations and shifts of the training digits (MNIST classifiers).
        device: "cpu" or "cuda".
        seed: seeds initialization, shuffling, dropout and noise.
        limit: at most this many training (and test) samples; None for all.
        options: the recipe's own options (``Recipe.options``),
            e.g. ``{"hidden": (1000, 500, 100)}``.
    """

    recipe: str
    epochs: int
    batch_size: int
    lr: float
    optimizer: str
    weight_decay: float = 0.0
    init: str | None = None
    activation: str | None = None
    dropout: float | None = None
    early_stopping: int | None = None
    augment: bool = False
    device: str = "cpu"
    seed: int = 0
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (tuples become lists)."""
        data = dataclasses.asdict(self)
        data["options"] = {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """The config written by ``to_dict`` (lists of options become tuples again)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"RunConfig: unknown keys {unknown} in the config; "
                f"allowed: {', '.join(sorted(names))}."
            )
        data = dict(data)
        data["options"] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.get("options", {}).items()
        }
        return cls(**data)


@dataclass(frozen=True)
class Option:
    """One recipe-specific setting (``--set KEY=VALUE``).

    Its default, a help line and, for words, the choices.
    """

    default: Any
    help: str
    choices: tuple[str, ...] | None = None

    @property
    def kind(self) -> str:
        """What ``parse`` expects, from the default's type: "bool", "int", "float", "sizes" (a tuple
        of ints, written 256x64) or "str".
        """
        if isinstance(self.default, bool):
            return "bool"
        if isinstance(self.default, int):
            return "int"
        if isinstance(self.default, float):
            return "float"
        if isinstance(self.default, tuple):
            return "sizes"
        return "str"

    def parse(self, key: str, text: str) -> Any:
        """The value of ``text`` for this option, or a RecipeError saying what is expected."""
        kind = self.kind
        try:
            if kind == "bool":
                lowered = text.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if kind == "int":
                return int(text)
            if kind == "float":
                value = float(text)
                if not math.isfinite(value):
                    raise ValueError
                return value
            if kind == "sizes":
                sizes = tuple(int(part) for part in text.lower().split("x"))
                if not sizes or min(sizes) < 1:
                    raise ValueError
                return sizes
        except ValueError:
            expected = {
                "bool": "true or false",
                "int": "an integer",
                "float": "a number",
                "sizes": "positive integers joined by 'x', e.g. 256x64",
            }[kind]
            raise RecipeError(f"option {key}: expected {expected} (got {text!r}).") from None
        if self.choices is not None and text not in self.choices:
            raise RecipeError(
                f"option {key}: unknown value {text!r}; allowed: {', '.join(self.choices)}."
            )
        return text

    def format(self, value: Any) -> str:
        """``value`` as ``--set`` would spell it: tuples joined by "x", booleans as true/false."""
        if isinstance(value, tuple):
            return "x".join(str(v) for v in value)
        return str(value).lower() if isinstance(value, bool) else str(value)


def make_optimizer(
    name: str,
    params,
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] | None = None,
):
    """An optimizer by name over ``params`` (parameters or parameter groups).

    "sgd" is plain SGD, "momentum" SGD with momentum 0.9, "nesterov" SGD with Nesterov momentum 0.9;
    "adam", "adamw", "rmsprop", "adagrad" are the ``deepgrad.optim`` classes. ``betas`` applies to
    Adam and AdamW (e.g. (0.5, 0.999) for GANs).
    """
    if name not in OPTIMIZERS:
        raise ValueError(
            f"make_optimizer: unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}."
        )
    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return optim.SGD(
            params, lr=lr, momentum=MOMENTUM, nesterov=name == "nesterov", weight_decay=weight_decay
        )
    if name in ("adam", "adamw"):
        cls = optim.Adam if name == "adam" else optim.AdamW
        return cls(params, lr=lr, betas=betas or (0.9, 0.999), weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    return optim.Adagrad(params, lr=lr, weight_decay=weight_decay)


__all__ = [
    "DEFAULT_LRS",
    "GENERIC",
    "OPTIMIZERS",
    "Option",
    "RecipeError",
    "RunConfig",
    "RunFileError",
    "make_optimizer",
]
