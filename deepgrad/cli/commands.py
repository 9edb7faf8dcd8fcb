"""The ``deepgrad`` subcommands: each takes the parsed arguments, runs the experiment through
``deepgrad.experiments`` and prints its results; ``COMMANDS`` maps a name to its function."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepgrad.cli.errors import EXIT_INTERRUPTED
from deepgrad.cli.parser import run_settings
from deepgrad.experiments.committee import COMMITTEE_FILE, check_committee, train_committee
from deepgrad.experiments.compare import compare_run
from deepgrad.experiments.config import RecipeError, RunConfig
from deepgrad.experiments.inspection import (
    evaluate_checkpoint,
    evaluate_pretrained,
    lr_find_run,
    summarize,
)
from deepgrad.experiments.parallel import start_processes
from deepgrad.experiments.recipes import get_recipe
from deepgrad.experiments.records import doctor_report
from deepgrad.experiments.runs import RunInterrupted, resume_run, train_run
from deepgrad.models.zoo import ZOO


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
    """``deepgrad train``; under ``mpiexec -n N`` every process runs it, rank 0 alone prints."""
    rank, _ = start_processes(args.dist_timeout)
    if rank == 0:
        return _train_or_resume(args)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        return _train_or_resume(args)


def _train_or_resume(args: argparse.Namespace) -> int:
    if args.resume is not None:
        if getattr(args, "committee", None) is not None:
            raise RecipeError("--resume continues one run; leave --committee out")
        if args.out is not None or args.overwrite:
            raise RecipeError(
                "--resume continues the run in its own folder (got --out or --overwrite too); "
                "leave them out"
            )
        print(f"deepgrad train: resuming {args.resume}", flush=True)
        settings = {**run_settings(args), "recipe": args.recipe}
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
    config = get_recipe(args.recipe).make_config(**run_settings(args))
    if getattr(args, "committee", None) is not None:
        return _train_committee(args, config)
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


def _train_committee(args: argparse.Namespace, config: RunConfig) -> int:
    """``deepgrad train RECIPE --committee N``: N members, then the committee's test error."""
    check_committee(get_recipe(config.recipe), args.committee)
    if args.overwrite:
        raise RecipeError("--overwrite replaces one run; give a committee a new or empty --out")
    print(
        f"deepgrad train {config.recipe} --committee {args.committee}: {config.optimizer} "
        f"lr {config.lr:g}, {config.epochs} epochs, batch {config.batch_size}, "
        f"seeds {config.seed}..{config.seed + args.committee - 1}",
        flush=True,
    )
    try:
        result = train_committee(
            config,
            args.committee,
            out=args.out,
            progress=not args.quiet,
            log=lambda line: print(line, flush=True),
            plots=args.plots,
            checkpoint_every=args.checkpoint_every or None,
        )
    except RunInterrupted as stop:
        print(
            f"\ninterrupted: the member in {stop.run_dir}/ stopped in epoch {stop.epoch}; "
            "the committee was not evaluated (the members before it are complete)",
            flush=True,
        )
        return EXIT_INTERRUPTED
    print()
    for seed, error in zip(result.seeds, result.member_errors):
        print(f"member seed {seed}: test error {error:.2%}")
    print(
        f"average member: test error {result.mean_member_error:.2%}\n"
        f"committee of {len(result.runs)}: test error {result.committee_error:.2%}   "
        f"test loss {_fmt(result.committee_loss)}"
    )
    print(f"trained in {result.seconds:.1f} s; written to {result.folder}/ ({COMMITTEE_FILE})")
    for line in result.lines:
        print(line)
    return 0


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
    settings = run_settings(args)
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
    settings = run_settings(args)
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
    if args.checkpoint in ZOO and not Path(args.checkpoint).exists():
        return _evaluate_zoo(args.checkpoint, args.split)
    config, results = evaluate_checkpoint(args.checkpoint, args.split)
    recipe = get_recipe(config.recipe)
    print(f"{config.recipe}, {args.checkpoint}:")
    print(_metrics_line(args.split, results, recipe.headline))
    return 0


def _evaluate_zoo(name: str, split: str) -> int:
    """A zoo model on its recipe's data; on the test split, exit 1 unless the record reproduces."""
    record, results = evaluate_pretrained(name, split)
    print(f"{name} (model zoo; recipe {record.recipe}, seed {record.settings.get('seed')}):")
    print(_metrics_line(split, results, record.metric))
    if split != "test":
        return 0
    got = float(results[record.metric])
    same = math.isclose(got, record.value, rel_tol=1e-4, abs_tol=1e-6)
    verdict = "reproduced" if same else "NOT reproduced"
    print(f"recorded test {record.metric} {_fmt(record.value)}: {verdict} (measured {_fmt(got)})")
    return 0 if same else 1


def _summary(args: argparse.Namespace) -> int:
    recipe = get_recipe(args.recipe)
    config = recipe.make_config(**run_settings(args))
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
