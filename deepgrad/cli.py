"""The ``deepgrad`` command: train the seeds' models, compare variants, find a learning rate,
evaluate checkpoints, summarize models and diagnose runs.

    deepgrad train mnist-mlp                      the main job: seed 004's MNIST classifier
    deepgrad train --resume runs/mnist-mlp-...    continue a run from its last checkpoint
    deepgrad train autoencoder --set kind=sparse  a recipe with one of its options changed
    deepgrad compare mnist-mlp --vary init=zeros,normal,xavier,kaiming
    deepgrad lr-find mnist-mlp --optimizer momentum
    deepgrad evaluate runs/mnist-mlp-.../best.safetensors
    deepgrad summary mnist-cnn
    deepgrad doctor runs/mnist-mlp-...
    deepgrad --version

``main(argv)`` runs it in-process and returns the exit status: 0 on success, 2 for bad
arguments (the message lists what is allowed), 1 for any other error (a missing, damaged or
unwritable file, a full disk), 130 when interrupted (Ctrl-C or SIGTERM; the records are written
first). Every error is one line on stderr that names the file or setting and what to do;
``deepgrad --debug ...`` adds the traceback. ``report_error`` holds the table of messages.
"""

from __future__ import annotations

import argparse
import errno
import importlib.metadata
import logging
import math
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import deepgrad
from deepgrad.backend import validation
from deepgrad.experiments.compare import REGULARIZATIONS, compare_run
from deepgrad.experiments.config import OPTIMIZERS, RecipeError, RunFileError
from deepgrad.experiments.inspection import evaluate_checkpoint, lr_find_run, summarize
from deepgrad.experiments.recipes import DEVICES, RECIPES, get_recipe
from deepgrad.experiments.records import doctor_report
from deepgrad.experiments.runs import CHECKPOINT_EVERY, RunInterrupted, resume_run, train_run
from deepgrad.io import SerializationError
from deepgrad.models.common import ACTIVATIONS, INITS
from deepgrad.train.guards import NonFiniteLossError

EXIT_USAGE = 2
EXIT_ERROR = 1
EXIT_MISSING = EXIT_ERROR  # the old name: a missing file is one of the errors
EXIT_INTERRUPTED = 130


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


def _settings(args: argparse.Namespace) -> dict[str, Any]:
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
        "evaluate", help="evaluate a checkpoint of a run on its test data"
    )
    evaluate.add_argument(
        "checkpoint", metavar="CHECKPOINT", help="best.safetensors or last.safetensors of a run"
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


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.4f}"
    return "-" if value is None else str(value)


def _metrics_line(prefix: str, results: dict[str, Any], first: str) -> str:
    keys = [first] + [k for k in results if k != first] if first in results else list(results)
    return "   ".join(
        f"{prefix} {k} {_fmt(results[k])}" for k in keys if isinstance(results[k], (int, float))
    )


def _train(args: argparse.Namespace) -> int:
    if args.resume is not None:
        if args.out is not None or args.overwrite:
            raise RecipeError(
                "--resume continues the run in its own folder (got --out or --overwrite too); "
                "leave them out"
            )
        print(f"deepgrad train: resuming {args.resume}", flush=True)
        settings = {**_settings(args), "recipe": args.recipe}
        return _report_run(
            lambda: resume_run(
                args.resume,
                settings,
                not args.quiet,
                lambda line: print(line, flush=True),
                args.plots,
                args.checkpoint_every or None,
            )
        )
    if args.recipe is None:
        raise RecipeError("give the RECIPE to train, or --resume RUN_DIR to continue a run")
    config = get_recipe(args.recipe).make_config(**_settings(args))
    print(
        f"deepgrad train {config.recipe}: {config.optimizer} lr {config.lr:g}, "
        f"{config.epochs} epochs, batch {config.batch_size}, seed {config.seed}",
        flush=True,
    )
    return _report_run(
        lambda: train_run(
            config,
            out=args.out,
            progress=not args.quiet,
            log=lambda line: print(line, flush=True),
            plots=args.plots,
            overwrite=args.overwrite,
            checkpoint_every=args.checkpoint_every or None,
        )
    )


def _report_run(train: Callable[[], Any]) -> int:
    """Run ``train`` (train_run or resume_run) and print its results, or where it stopped."""
    try:
        result = train()
    except RunInterrupted as stop:
        saved = (
            f"state saved to {stop.checkpoint}; "
            if stop.checkpoint
            else f"the state after step {stop.step} was not saved (--resume continues from the "
            "newest checkpoint before it); "
        )
        print(
            f"\ninterrupted in epoch {stop.epoch} after step {stop.step}: {saved}"
            f"records in {stop.run_dir}/; "
            f"continue with: deepgrad train --resume {stop.run_dir}",
            flush=True,
        )
        return EXIT_INTERRUPTED
    recipe = get_recipe(result.config.recipe)
    if result.test is not None:
        print(_metrics_line("test", result.test, recipe.headline))
    if result.best_epoch is not None and recipe.monitor != "epoch":
        print(
            f"(weights of epoch {result.best_epoch}, "
            f"best {result.monitor} {_fmt(result.best_value)})"
        )
    print(f"trained in {result.seconds:.1f} s; run written to {result.run_dir}/")
    for line in result.lines:
        print(line)
    return 0


def _lr_find(args: argparse.Namespace) -> int:
    recipe = get_recipe(args.recipe)
    settings = _settings(args)
    config = recipe.make_config(**settings)
    if args.start_lr >= args.end_lr:
        raise RecipeError(
            f"--start-lr must be below --end-lr (got {args.start_lr:g} and {args.end_lr:g})."
        )
    result, folder = lr_find_run(config, args.out, args.start_lr, args.end_lr, args.steps)
    print(
        f"learning-rate range test on {config.recipe} ({config.optimizer}): "
        f"{len(result.lrs)} steps, "
        f"lr {args.start_lr:g} -> {result.lrs[-1] if result.lrs else args.start_lr:g}"
        + (" (stopped: the loss blew up)" if result.diverged else "")
    )
    if result.suggestion is None:
        print("no suggestion: too few steps were recorded; use more --steps or a wider range.")
    else:
        print(
            f"suggested learning rate: {result.suggestion:.3g}   (deepgrad train {config.recipe} "
            f"--optimizer {config.optimizer} --lr {result.suggestion:.3g})"
        )
    plot = folder / "lr_finder.png"
    print(
        f"written to {folder}/"
        + (f" (plot: {plot})" if plot.exists() else " (no plot: matplotlib is missing)")
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    settings = _settings(args)
    seed = 0 if settings["seed"] is None else settings["seed"]
    print(
        f"deepgrad compare {args.recipe}: {' x '.join(args.vary)} (same seed {seed}, same data)",
        flush=True,
    )
    comparison = compare_run(
        args.recipe,
        settings,
        args.vary,
        out=args.out,
        progress=not args.quiet,
        log=lambda line: print(line, flush=True),
        plots=args.plots,
    )
    rows, columns = comparison.rows, comparison.columns
    table = [[_fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]
    print()
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in table:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
    extra = " and comparison.png" if (comparison.folder / "comparison.png").exists() else ""
    print(
        f"\nwritten to {comparison.folder}/ "
        f"(comparison.csv, comparison.json{extra}; one folder per variant)"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    config, results = evaluate_checkpoint(args.checkpoint, args.split)
    recipe = get_recipe(config.recipe)
    print(f"{config.recipe}, {args.checkpoint}:")
    print(_metrics_line(args.split, results, recipe.headline))
    return 0


def _summary(args: argparse.Namespace) -> int:
    recipe = get_recipe(args.recipe)
    config = recipe.make_config(**_settings(args))
    print(summarize(config))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    print(doctor_report(args.run_dir))
    return 0


COMMANDS = {
    "train": _train,
    "lr-find": _lr_find,
    "compare": _compare,
    "evaluate": _evaluate,
    "summary": _summary,
    "doctor": _doctor,
}


# -- errors: one line each, naming the file or setting and the fix -----------------------------
_OS_FIXES = {
    errno.ENOSPC: "the disk is full: free some space and run the command again "
    "(a training run continues with deepgrad train --resume RUN_DIR)",
    errno.EDQUOT: "the disk quota is used up: free some space and run the command again",
    errno.EACCES: "permission denied: choose a file or folder you may use (--out), "
    "or change its permissions",
    errno.EPERM: "operation not permitted: choose a file or folder you may use (--out)",
    errno.EROFS: "the file system is read-only: choose a folder elsewhere (--out)",
    errno.ENOENT: "no such file or folder: check the path",
    errno.EEXIST: "it exists and is not a folder: give a new or empty folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder: give a folder path",
    errno.EISDIR: "it is a folder: give a file",
}


def _os_error(error: OSError) -> str:
    if error.filename is None:  # our own FileNotFoundError("no config.json in ...")
        return str(error)
    names = f"{error.filename}" + (f" -> {error.filename2}" if error.filename2 else "")
    fix = _OS_FIXES.get(error.errno, f"{error.strerror or error}: check the path and try again")
    return f"{names}: {fix}"


# (exception type, exit status, message); the first matching row wins
ERRORS: tuple[tuple[type[BaseException], int, Callable[[Any], str]], ...] = (
    (RecipeError, EXIT_USAGE, str),
    (RunFileError, EXIT_ERROR, str),
    (
        SerializationError,
        EXIT_ERROR,
        lambda e: f"{e}; the file is damaged or not a deepgrad file: give another one",
    ),
    (OSError, EXIT_ERROR, _os_error),
    (
        NonFiniteLossError,
        EXIT_ERROR,
        lambda e: (
            f"{str(e).split(';')[0]}: the run diverged or the data holds NaN/inf; its records "
            "are written (doctor.txt says which): lower --lr, or check the data"
        ),
    ),
    (
        Exception,
        EXIT_ERROR,
        lambda e: (
            f"{type(e).__name__}: {e} (unexpected: run again with --debug for the "
            "traceback and report it if it is a bug)"
        ),
    ),
)


def report_error(error: BaseException, command: str) -> tuple[int, str]:
    """The exit status and the one-line message of an error of ``deepgrad COMMAND`` (``ERRORS``)."""
    for kind, status, describe in ERRORS:
        if isinstance(error, kind):
            return status, f"deepgrad {command}: error: " + " ".join(describe(error).split())
    raise error


class _OneLineFormatter(logging.Formatter):
    """Log records (warnings of the library) as one line each. Records that carry a traceback
    report a second failure while an error is being handled (a callback's cleanup on a full
    disk): the error's own line says what to do, so they show only with --debug."""

    def format(self, record: logging.LogRecord) -> str:
        return f"deepgrad: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("SIGTERM")  # handled like Ctrl-C: records written, exit 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    handler = logging.StreamHandler(sys.stderr)
    if not args.debug:
        handler.setFormatter(_OneLineFormatter())
        handler.addFilter(handler.formatter)
    logging.getLogger("deepgrad").addHandler(handler)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"\ndeepgrad {args.command}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - every error becomes one line (ERRORS)
        status, line = report_error(error, args.command)
        if args.debug:
            traceback.print_exception(error, file=sys.stderr)
        print(line, file=sys.stderr)
        return status
    finally:
        logging.getLogger("deepgrad").removeHandler(handler)
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
