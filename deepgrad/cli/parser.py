"""The ``deepgrad`` command's argument parser: the subcommands, their options and the checks of
their values (argparse ``type=`` functions built on ``deepgrad.backend.validation``)."""

from __future__ import annotations

import argparse
import importlib.metadata
import math
from collections.abc import Callable
from typing import Any

import deepgrad
from deepgrad.backend import validation
from deepgrad.experiments.compare import REGULARIZATIONS
from deepgrad.experiments.config import OPTIMIZERS, RecipeError
from deepgrad.experiments.parallel import DEFAULT_TIMEOUT
from deepgrad.experiments.recipes import DEVICES, RECIPES
from deepgrad.experiments.runs import CHECKPOINT_EVERY
from deepgrad.models.common import ACTIVATIONS, INITS


def package_version() -> str:
    """The installed distribution's version, else ``deepgrad.__version__`` (a source tree)."""
    try:
        return importlib.metadata.version("deepgrad")
    except importlib.metadata.PackageNotFoundError:
        return deepgrad.__version__


def _recipes_epilog() -> str:
    lines = ["recipes:"]
    for recipe in RECIPES.values():
        d = recipe.defaults
        lines.append(f"  {recipe.name:<20} {recipe.summary}")
        lines.append(
            f"  {'':<20}   defaults: {d['epochs']} epochs, batch {d['batch_size']}, "
            f"{d['optimizer']} lr {d['lr']:g}"
            + "".join(
                f", {k} {d[k]}" for k in ("init", "activation", "dropout") if k in recipe.uses
            )
        )
        lines.append(f"  {'':<20}   options (--set): {recipe.describe_options()}")
    return "\n".join(lines)


def _checked(check: Callable[..., Any], convert: Callable[[str], Any], **limits: Any):
    """An argparse ``type=``: ``convert`` the text, then ``check`` it with backend.validation;
    its error becomes an ArgumentTypeError (argparse names the option, exit 2)."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = text  # the check reports it as the wrong type
        try:
            return check(value, "the value", "deepgrad", **limits)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error).removeprefix("deepgrad: ")) from None

    return parse


_positive_int = _checked(validation.positive_int, int)
_nonnegative_int = _checked(validation.non_negative_int, int)


def _number(low: float, high: float = math.inf, low_open: bool = False):
    """An argparse ``type=`` for a finite float in [low, high) (or (low, high))."""
    return _checked(
        validation.in_interval,
        float,
        low=low,
        high=high,
        include_low=not low_open,
        include_high=False,
    )


def _folder(text: str) -> str:
    """An argparse ``type=`` for --out and --resume: a folder, not the empty string (which would
    quietly mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"must name a folder (got {text!r}); give a path, or leave the option out"
        )
    return text


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE such as kind=sparse (got {text!r})")
    return key.strip(), value.strip()


def _add_settings(parser: argparse.ArgumentParser, model_only: bool = False) -> None:
    """The options that make a RunConfig (train, lr-find, compare; summary takes the model ones)."""
    group = parser.add_argument_group("settings (default: the recipe's)")
    if not model_only:
        group.add_argument("--epochs", type=_positive_int, help="epochs to train")
        group.add_argument("--lr", type=_number(0.0, low_open=True), help="learning rate")
        group.add_argument(
            "--optimizer", choices=OPTIMIZERS, help="momentum/nesterov: SGD with momentum 0.9"
        )
        group.add_argument("--weight-decay", type=_number(0.0), help="L2 penalty coefficient")
        group.add_argument(
            "--early-stopping",
            type=_nonnegative_int,
            metavar="PATIENCE",
            help="stop after PATIENCE epochs without improvement; keep the best weights",
        )
        group.add_argument(
            "--augment",
            action="store_true",
            default=None,
            help="random rotations and shifts of the training digits",
        )
        group.add_argument("--device", choices=DEVICES, help="cpu (default) or cuda (needs CuPy)")
        group.add_argument(
            "--seed", type=int, help="seed of initialization, shuffling and noise (default 0)"
        )
        group.add_argument(
            "--limit",
            type=_positive_int,
            metavar="N",
            help="use at most N training (and test) samples: quick runs",
        )
    group.add_argument("--batch-size", type=_positive_int, help="samples per batch")
    group.add_argument("--init", choices=INITS, help="weight initialization (normal: N(0, 1/n))")
    group.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        metavar="NAME",
        help=f"hidden activation: {', '.join(ACTIVATIONS)}",
    )
    group.add_argument("--dropout", type=_number(0.0, 1.0), help="dropout probability")
    group.add_argument(
        "--set",
        dest="options",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a recipe option (see the list of recipes)",
    )


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    keys = (
        "epochs",
        "batch_size",
        "lr",
        "optimizer",
        "weight_decay",
        "init",
        "activation",
        "dropout",
        "early_stopping",
        "augment",
        "device",
        "seed",
        "limit",
    )
    settings = {key: getattr(args, key, None) for key in keys}
    options: dict[str, str] = {}
    for key, value in args.options:
        if key in options:
            raise RecipeError(f"--set {key} is given twice.")
        options[key] = value
    settings["options"] = options
    return settings


def build_parser() -> argparse.ArgumentParser:
    """The ``deepgrad`` parser: train, lr-find, compare, evaluate, summary and doctor."""
    parser = argparse.ArgumentParser(
        prog="deepgrad",
        description="Train, compare and inspect the models of the deepgrad course (the seeds).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_recipes_epilog(),
    )
    parser.add_argument("--version", action="version", version=f"deepgrad {package_version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(commands)
    _add_lr_find(commands)
    _add_compare(commands)
    _add_inspection(commands)
    for command in commands.choices.values():  # --debug also after the command's name
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


def _add_recipe_argument(parser: argparse.ArgumentParser, optional: bool = False) -> None:
    recipes = list(RECIPES)
    parser.add_argument(
        "recipe",
        choices=recipes,
        metavar="RECIPE",
        nargs="?" if optional else None,
        help=f"one of: {', '.join(recipes)}" + (" (not needed with --resume)" if optional else ""),
    )


def _add_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train a recipe and write its run folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_recipes_epilog(),
    )
    _add_recipe_argument(train, optional=True)
    _add_settings(train)
    train.add_argument(
        "--out",
        type=_folder,
        metavar="DIR",
        help="the run folder, new or empty (default: runs/RECIPE-DATE-TIME)",
    )
    train.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        type=_folder,
        help="continue the run in RUN_DIR from its newest checkpoint, with its own settings "
        "(a larger --epochs trains it longer)",
    )
    train.add_argument(
        "--checkpoint-every",
        type=_nonnegative_int,
        default=CHECKPOINT_EVERY,
        metavar="N",
        help="also checkpoint every N steps inside epochs, so a killed run loses at most N "
        f"steps; 0: at epoch ends and interruptions only (default: {CHECKPOINT_EVERY})",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--no-plots", dest="plots", action="store_false", help="draw no pictures (faster)"
    )
    train.add_argument(
        "--committee",
        type=_positive_int,
        metavar="N",
        help="train N members (seeds SEED, SEED+1, ...) of a classifier recipe and report each "
        "one's test error and that of their committee (averaged probabilities)",
    )
    train.add_argument(
        "--dist-timeout",
        type=_number(0.0, low_open=True),
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="under mpiexec -n N: how long a process waits for the others before the run fails "
        f"naming the rank it waited for (a dead or hung process) (default: {DEFAULT_TIMEOUT:g})",
    )


def _add_lr_find(commands: argparse._SubParsersAction) -> None:
    lr_find = commands.add_parser(
        "lr-find",
        help="learning-rate range test: suggest a learning rate",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_recipes_epilog(),
    )
    _add_recipe_argument(lr_find)
    _add_settings(lr_find)
    lr_find.add_argument(
        "--start-lr", type=_number(0.0, low_open=True), default=1e-7, help="default: 1e-7"
    )
    lr_find.add_argument(
        "--end-lr", type=_number(0.0, low_open=True), default=10.0, help="default: 10"
    )
    lr_find.add_argument(
        "--steps", type=_positive_int, default=100, help="batches (rates) to try; default: 100"
    )
    lr_find.add_argument(
        "--out", type=_folder, metavar="DIR", help="where to write lr_finder.json/.png"
    )


def _add_compare(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser(
        "compare",
        help="train variants of a recipe (same seed and data) and compare them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "--vary keys: epochs, lr, batch-size, optimizer, init, activation, dropout, "
            "weight-decay,\n"
            f"early-stopping, seed, regularization ({', '.join(REGULARIZATIONS)}), "
            "and the recipe's options.\n"
            "Several --vary combine into a grid.\n\n" + _recipes_epilog()
        ),
    )
    _add_recipe_argument(compare)
    compare.add_argument(
        "--vary",
        action="append",
        default=[],
        required=True,
        metavar="KEY=V1,V2,...",
        help="a setting and its values, e.g. init=zeros,normal,xavier,kaiming",
    )
    _add_settings(compare)
    compare.add_argument(
        "--out",
        type=_folder,
        metavar="DIR",
        help="the comparison folder (default: runs/RECIPE-compare-...)",
    )
    compare.add_argument("--quiet", action="store_true", help="no progress bars")
    compare.add_argument(
        "--no-plots", dest="plots", action="store_false", help="draw no pictures (faster)"
    )


def _add_inspection(commands: argparse._SubParsersAction) -> None:
    """evaluate, summary and doctor: look at a run or a recipe without training."""
    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a checkpoint of a run, or a model-zoo model, on its test data",
    )
    evaluate.add_argument(
        "checkpoint",
        metavar="CHECKPOINT",
        help="best.safetensors or last.safetensors of a run, or the name of a model-zoo model "
        "(deepgrad.models.list()): then its recorded test metric is checked",
    )
    evaluate.add_argument(
        "--split", choices=("test", "val", "train"), default="test", help="default: test"
    )

    summary = commands.add_parser(
        "summary", help="layers, output shapes and parameters of a recipe's model"
    )
    _add_recipe_argument(summary)
    _add_settings(summary, model_only=True)

    doctor = commands.add_parser("doctor", help="the Doctor's diagnosis of a run, from its records")
    doctor.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by deepgrad train")
