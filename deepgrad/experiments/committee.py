"""Committees: train N members of a classifier recipe with different seeds, then average them.

``deepgrad train mnist-cnn --committee N`` is ``train_committee``. Member k is the recipe's
run with seed ``seed + k`` (its own initialization, shuffling and distortions), in the folder
``member-<k>/`` (a whole run folder). The committee is ``models.Ensemble`` of the members' best
weights: it averages their class probabilities. The folder gets::

    committee.json   the settings, each member's test error and loss, the committee's
    committee.png    each member's test error, their average and the committee's (matplotlib)
    member-<k>/      the members' run folders

Deck 001's MNIST table: "committee of 35 conv. nets, 1-20-P-40-P-150-10, elastic distortions",
0.23% test error (Ciresan, Meier & Schmidhuber, 2012).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad.autograd import no_grad
from deepgrad.data import DataLoader
from deepgrad.experiments.config import RecipeError, RunConfig
from deepgrad.experiments.outputs import _figure, have_matplotlib
from deepgrad.experiments.recipes import RECIPES, Recipe, get_recipe
from deepgrad.experiments.recipes.base import EVAL_BATCH
from deepgrad.experiments.records import close_figure, prepare_dir, write_json
from deepgrad.experiments.runs import CHECKPOINT_EVERY, RunResult, train_run
from deepgrad.io import load
from deepgrad.models.ensemble import Ensemble

COMMITTEE_FILE = "committee.json"


@dataclass
class CommitteeResult:
    """What ``train_committee`` did.

    Attributes:
        folder: the committee's folder.
        runs: the members' RunResults (``runs[k].run_dir`` is ``folder / f"member-{k}"``).
        seeds: the members' seeds.
        member_errors: each member's test error (fraction of misclassified test samples).
        committee_error: the committee's test error.
        committee_loss: the committee's test negative log-likelihood (nats per sample).
        seconds: wall time, training and evaluation.
        lines: what to print after the numbers (the picture written).
    """

    folder: Path
    runs: list[RunResult]
    seeds: list[int]
    member_errors: list[float]
    committee_error: float
    committee_loss: float
    seconds: float
    lines: list[str] = field(default_factory=list)

    @property
    def mean_member_error(self) -> float:
        """The average member's test error."""
        return float(np.mean(self.member_errors))


def committee_recipes() -> list[str]:
    """The recipes a committee can be made of: the classifiers (headline accuracy)."""
    return [name for name, r in RECIPES.items() if r.headline == "accuracy"]


def check_committee(recipe: Recipe, members: int) -> None:
    """RecipeError unless ``recipe`` is a classifier and ``members`` >= 2."""
    if recipe.headline != "accuracy":
        raise RecipeError(
            f"--committee averages class probabilities: {recipe.name!r} is not a classifier; "
            f"recipes that are: {', '.join(committee_recipes())}"
        )
    if isinstance(members, bool) or not isinstance(members, int) or members < 2:
        raise RecipeError(f"--committee needs at least 2 members (got {members!r}).")


def train_committee(
    config: RunConfig,
    members: int,
    out: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    plots: bool = True,
    checkpoint_every: int | None = CHECKPOINT_EVERY,
) -> CommitteeResult:
    """Train ``members`` runs of ``config``'s recipe, seeds ``config.seed + k``, and evaluate
    each member and their committee (``models.Ensemble``) on the test data.

    Args:
        config: the settings every member shares (its seed is the first member's).
        members: how many members; at least 2.
        out: the committee's folder, new or empty. Default: ``runs/<recipe>-committee-<time>``.
        progress, log, plots, checkpoint_every: as in ``train_run`` (``log`` also gets one line
            per member as it finishes).

    Returns:
        A ``CommitteeResult``; ``committee.json`` holds the same numbers.

    Raises:
        RecipeError: the recipe is not a classifier, ``members`` < 2, or ``out`` is not empty.
        RunInterrupted: a member's training was interrupted (its folder says where; the
            members before it are complete, and no committee.json is written).
    """
    recipe = get_recipe(config.recipe)
    check_committee(recipe, members)
    folder = prepare_dir(out, f"{config.recipe}-committee")
    if any(folder.iterdir()):
        raise RecipeError(
            f"--out {folder} is not empty (got {len(list(folder.iterdir()))} entries); "
            "a committee needs a new or empty folder"
        )
    say = log or (lambda line: None)
    started = time.perf_counter()
    seeds = [config.seed + k for k in range(members)]
    runs = []
    for k, seed in enumerate(seeds):
        say(f"member {k + 1}/{members} (seed {seed}):")
        member = dataclasses.replace(config, seed=seed)
        run = train_run(
            member, folder / f"member-{k}", progress, None, False, plots, False, checkpoint_every
        )
        runs.append(run)
        say(f"  test error {_error(run.test):.2%}   ({run.seconds:.0f} s)")
    errors, committee_error, committee_loss = evaluate_committee(
        recipe, [r.config for r in runs], [r.run_dir for r in runs]
    )
    result = CommitteeResult(
        folder, runs, seeds, errors, committee_error, committee_loss, time.perf_counter() - started
    )
    _write_committee(result, config)
    if plots and have_matplotlib():
        _plot_committee(result, folder / "committee.png")
        result.lines.append(f"committee picture: {folder / 'committee.png'}")
    return result


def _error(test: dict[str, Any] | None) -> float:
    return float("nan") if not test else 1.0 - float(test["accuracy"])


def load_members(
    recipe: Recipe, configs: list[RunConfig], run_dirs: list[Path]
) -> tuple[Ensemble, Any]:
    """The members' models with the best weights of their runs, as an ``Ensemble``, and the
    test dataset (the same for every member: the splits are fixed)."""
    data = recipe.data(dataclasses.replace(configs[0], augment=False))
    models = []
    for member, run_dir in zip(configs, run_dirs):
        model = recipe.build_model(member, data)
        model.load_state_dict(load(run_dir / "best.safetensors"))
        models.append(model)
    return Ensemble(models), data.test


def evaluate_committee(
    recipe: Recipe, configs: list[RunConfig], run_dirs: list[Path]
) -> tuple[list[float], float, float]:
    """(each member's test error, the committee's test error, its test NLL in nats per sample)
    of the members saved in ``run_dirs``, on the CPU, in evaluation mode."""
    committee, test = load_members(recipe, configs, run_dirs)
    wrong = np.zeros(len(committee) + 1)
    nll, count = 0.0, 0
    committee.eval()
    with no_grad():
        for x, y in DataLoader(test, batch_size=EVAL_BATCH):
            member_log_probs = committee.member_log_probs(x)
            log_p = committee.combine(member_log_probs).numpy()
            labels = y.numpy()
            wrong[:-1] += (member_log_probs.argmax(dim=-1).numpy() != labels).sum(axis=1)
            wrong[-1] += (log_p.argmax(axis=-1) != labels).sum()
            nll -= float(log_p[np.arange(len(labels)), labels].sum())
            count += len(labels)
    errors = wrong / count
    return [float(e) for e in errors[:-1]], float(errors[-1]), nll / count


def _write_committee(result: CommitteeResult, config: RunConfig) -> None:
    write_json(
        result.folder / COMMITTEE_FILE,
        {
            "recipe": config.recipe,
            "config": config.to_dict(),
            "members": len(result.runs),
            "seeds": result.seeds,
            "member_dirs": [run.run_dir.name for run in result.runs],
            "member_test_error": result.member_errors,
            "member_test_loss": [
                float(run.test["loss"]) if run.test else None for run in result.runs
            ],
            "mean_member_test_error": result.mean_member_error,
            "committee_test_error": result.committee_error,
            "committee_test_loss": result.committee_loss,
            "seconds": result.seconds,
        },
    )


def _plot_committee(result: CommitteeResult, path: Path) -> None:
    """Bars: each member's test error; lines: their average and the committee's."""
    fig = _figure(6, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    percent = [100 * e for e in result.member_errors]
    ax.bar([str(s) for s in result.seeds], percent, color="0.7", label="members")
    ax.axhline(100 * result.mean_member_error, color="C0", ls="--", label="average member")
    ax.axhline(100 * result.committee_error, color="C3", label="committee")
    ax.set_xlabel("member (seed)")
    ax.set_ylabel("test error (%)")
    ax.set_title(
        f"committee of {len(result.runs)}: {100 * result.committee_error:.2f}% vs "
        f"average member {100 * result.mean_member_error:.2f}%"
    )
    ax.set_ylim(0, max(1.5 * max(percent), 1.0))  # room for the legend above the bars
    ax.legend(loc="upper center", ncol=3, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    close_figure(fig)


__all__ = [
    "COMMITTEE_FILE",
    "CommitteeResult",
    "check_committee",
    "committee_recipes",
    "evaluate_committee",
    "load_members",
    "train_committee",
]
