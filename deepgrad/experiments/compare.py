"""Comparisons: train variants of a recipe (same seed, same data) and tabulate them.

``deepgrad compare RECIPE --vary KEY=V1,V2,...`` is ``compare_run``: each ``--vary`` spec names a
setting and its values, several specs make a grid, and every variant is checked before any trains.
The folder gets comparison.csv, comparison.json and, with matplotlib, comparison.png, plus one
run folder per variant.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepgrad.experiments.config import RecipeError, RunConfig
from deepgrad.experiments.outputs import have_matplotlib
from deepgrad.experiments.recipes import Recipe, get_recipe
from deepgrad.experiments.records import close_figure, prepare_dir, write_json
from deepgrad.experiments.runs import RunResult, train_run
from deepgrad.train import plots as train_plots

# --vary regularization=... names: which settings each one changes
REGULARIZATIONS: dict[str, dict[str, Any]] = {
    "none": {"weight_decay": 0.0, "dropout": None, "early_stopping": None},
    "l2": {"weight_decay": 5e-4},
    "dropout": {"dropout": 0.3},
    "early-stopping": {"early_stopping": 3},
}
# --vary keys that are settings of make_config, with how to read their values
_SETTINGS: dict[str, Callable[[str], Any]] = {
    "init": str,
    "activation": str,
    "optimizer": str,
    "lr": float,
    "batch_size": int,
    "epochs": int,
    "dropout": float,
    "weight_decay": float,
    "early_stopping": int,
    "seed": int,
}


def vary_keys(recipe: Recipe) -> list[str]:
    """The keys ``--vary`` accepts for a recipe."""
    return [k.replace("_", "-") for k in _SETTINGS] + ["regularization"] + list(recipe.options)


def parse_vary(spec: str, recipe: Recipe) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """A ``--vary`` spec as its key and variants.

    ``"init=zeros,xavier"`` ->
    ``("init", [("zeros", {"init": "zeros"}), ("xavier", {"init": "xavier"})])``.

    Each value comes with the make_config settings it means. RecipeError for a malformed spec or an
    unknown key or value, listing what is allowed.
    """
    if "=" not in spec:
        raise RecipeError(
            f"--vary expects KEY=VALUE1,VALUE2,... such as init=zeros,xavier (got {spec!r})."
        )
    key, _, text = spec.partition("=")
    key = key.strip()
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise RecipeError(f"--vary {key}: give at least one value after '=' (got {spec!r}).")
    if len(set(values)) != len(values):
        raise RecipeError(f"--vary {key}: a value is listed twice (got {', '.join(values)}).")
    name = key.replace("-", "_")
    variants = []
    if key == "regularization":
        for value in values:
            if value not in REGULARIZATIONS:
                raise RecipeError(
                    f"--vary regularization: unknown value {value!r}; "
                    f"allowed: {', '.join(REGULARIZATIONS)}."
                )
            variants.append((value, dict(REGULARIZATIONS[value])))
    elif name in _SETTINGS:
        for value in values:
            try:
                parsed = _SETTINGS[name](value)
            except ValueError:
                raise RecipeError(f"--vary {key}: {value!r} is not a valid {key} value.") from None
            variants.append((value, {name: parsed}))
    elif key in recipe.options:
        for value in values:
            variants.append((value, {"options": {key: recipe.options[key].parse(key, value)}}))
    else:
        raise RecipeError(
            f"--vary: unknown key {key!r} for recipe {recipe.name!r}; "
            f"allowed: {', '.join(vary_keys(recipe))}."
        )
    return key, variants


def _merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        if key == "options":
            merged["options"] = {**merged.get("options", {}), **value}
        else:
            merged[key] = value
    return merged


@dataclass
class Comparison:
    """The result of ``compare_run``: one row per variant, and where it was written."""

    folder: Path
    rows: list[dict[str, Any]]
    columns: list[str]
    runs: dict[str, RunResult]


def plan_variants(
    recipe: Recipe, settings: dict[str, Any], specs: list[str]
) -> list[tuple[str, RunConfig]]:
    """(name, config) of every combination of the ``--vary`` specs, all checked before training."""
    if not specs:
        raise RecipeError("compare: give at least one --vary KEY=VALUE1,VALUE2,...")
    parsed = [parse_vary(spec, recipe) for spec in specs]
    keys = [key for key, _ in parsed]
    if len(set(keys)) != len(keys):
        raise RecipeError(f"compare: each key may be varied once (got {', '.join(keys)}).")
    plan = []
    for combo in itertools.product(*(variants for _, variants in parsed)):
        name = (
            ",".join(f"{key}={value}" for key, (value, _) in zip(keys, combo))
            if len(keys) > 1
            else combo[0][0]
        )
        change = dict(settings)
        for _, setting in combo:
            change = _merge(change, setting)
        try:
            plan.append((name, recipe.make_config(**change)))
        except RecipeError as error:
            raise RecipeError(f"compare: variant {name!r}: {error}") from None
    return plan


def compare_run(
    recipe_name: str,
    settings: dict[str, Any],
    specs: list[str],
    out: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    plots: bool = True,
) -> Comparison:
    """Train each variant (same seed, same data) and tabulate them.

    Writes comparison.csv, comparison.json and (with matplotlib) comparison.png.

    Args:
        recipe_name: the recipe.
        settings: the make_config settings shared by all variants (from the command line).
        specs: ``--vary`` specs such as "init=zeros,xavier"; several are combined (a grid).
        out: the folder (each variant in a sub-folder).
            Default: a new ``runs/<recipe>-compare-...``.
        progress: progress bars. Default: True.
        log: called with progress lines (which variant trains). Default: print.
        plots: draw each variant's learning curves and the overlaid comparison. Default: True.
    """
    say = log or (lambda line: None)
    recipe = get_recipe(recipe_name)
    plan = plan_variants(recipe, settings, specs)
    folder = prepare_dir(out, f"{recipe_name}-compare")
    metric = compared_metric(recipe)
    runs: dict[str, RunResult] = {}
    rows = []
    for index, (name, config) in enumerate(plan, start=1):
        say(f"[{index}/{len(plan)}] {name}")
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        runs[name] = train_run(
            config, folder / slug, progress=progress, log=None, light=True, plots=plots
        )
        rows.append(comparison_row(name, runs[name], recipe, metric))
    comparison = Comparison(
        folder, rows, list(dict.fromkeys(key for row in rows for key in row)), runs
    )
    _write_comparison(comparison, recipe_name, specs, metric, plots)
    return comparison


def compared_metric(recipe: Recipe) -> str:
    """The epoch-log key a comparison ranks by: the recipe's monitored one if it is a val_ key."""
    return recipe.monitor if recipe.monitor.startswith("val_") else "val_loss"


def comparison_row(name: str, result: RunResult, recipe: Recipe, metric: str) -> dict[str, Any]:
    """One variant's row: final and best ``metric`` (its epoch), epochs, time, test headline."""
    history = result.history
    values = list(history[metric]) if metric in history.keys else []
    finite = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    best = (
        (max if recipe.mode == "max" and metric == recipe.monitor else min)(finite)
        if finite
        else math.nan
    )
    row = {
        "variant": name,
        f"final {metric}": values[-1] if values else math.nan,
        f"best {metric}": best,
        "best epoch": values.index(best) + 1 if finite else None,
    }
    if metric != "val_loss" and "val_loss" in history.keys:
        row["final val_loss"] = history["val_loss"][-1]
    row["epochs"] = len(history.epochs)
    row["time (s)"] = result.seconds
    if result.test is not None and recipe.headline in result.test:
        row[f"test {recipe.headline}"] = result.test[recipe.headline]
    return row


def _write_comparison(
    comparison: Comparison, recipe_name: str, specs: list[str], metric: str, plots: bool
) -> None:
    """comparison.csv, comparison.json and (with matplotlib) the overlaid curves, comparison.png."""
    folder, rows, runs = comparison.folder, comparison.rows, comparison.runs
    with open(folder / "comparison.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=comparison.columns)
        writer.writeheader()
        writer.writerows(rows)
    write_json(folder / "comparison.json", {"recipe": recipe_name, "vary": specs, "rows": rows})
    if plots and have_matplotlib():
        keys = tuple(
            k
            for k in ("loss", "val_loss", metric)
            if any(k in r.history.keys for r in runs.values())
        )
        close_figure(
            train_plots.compare_runs(
                {n: r.history for n, r in runs.items()},
                keys=tuple(dict.fromkeys(keys)),
                path=folder / "comparison.png",
                title=f"{recipe_name}: {' x '.join(specs)}",
            )
        )


__all__ = [
    "REGULARIZATIONS",
    "Comparison",
    "compare_run",
    "comparison_row",
    "parse_vary",
    "plan_variants",
    "vary_keys",
]
