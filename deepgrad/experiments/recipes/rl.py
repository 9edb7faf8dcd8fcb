"""Reinforcement-learning recipes: ``cartpole-reinforce`` and ``cartpole-dqn`` on CartPole-v1.

The run is the usual Trainer run (``runs.train_run``): the training "loader" is an
``EpisodeStream`` over the environment and the agent's updater (``deepgrad.rl``) plays the
episodes, so the run folder holds config.json, metrics.csv (one row per epoch of
``episodes_per_epoch`` updates: loss, mean episode return, greedy return ...), the checkpoints
(best = the epoch whose weights scored the highest mean return over ``eval_episodes`` greedy
episodes, played after every epoch on the same starting states), the Doctor's report and
learning_curves.png, plus:

    episodes.csv     one row per episode: return, length, mean of the last 100 returns
    returns.png      the episode returns, their 100-episode mean and the solved line (475)
    rl.json          episodes and environment steps played, when it was solved, and the greedy
                     return of the kept weights on 20 other episodes

A run stops once the mean return of 100 consecutive episodes reaches 475 (CartPole-v1's solved
threshold) unless ``--set stop_when_solved=false``. The environment is deepgrad's NumPy CartPole
(offline) or, with ``--set env=gym``, gymnasium's CartPole-v1 (``pip install deepgrad[rl]``).
"""

from __future__ import annotations

import csv
import importlib.util
import json
from abc import abstractmethod
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from deepgrad import nn
from deepgrad.experiments.config import Option, RecipeError, RunConfig
from deepgrad.experiments.recipes.base import Recipe, RecipeData
from deepgrad.models.common import make_activation
from deepgrad.rl import (
    BASELINES,
    SOLVED_RETURN,
    SOLVED_WINDOW,
    DQNUpdater,
    EpisodeLog,
    EpisodeStream,
    PolicyNetwork,
    QNetwork,
    ReinforceUpdater,
    greedy_returns,
    make_env,
)
from deepgrad.train import Trainer
from deepgrad.train.updater import Updater

ENVS = ("numpy", "gym")
EVAL_EPISODES = 20
EVAL_SEED = 20_000  # the final check's episodes differ from those that picked the checkpoint


def _no_supervised_loss(output: Any, target: Any) -> Any:
    raise NotImplementedError(
        "RL recipes have no supervised loss: their updater computes the loss from episodes."
    )


class _CartPoleRecipe(Recipe):
    """What both CartPole recipes share: the environment as data, the episode log, the outputs."""

    # the best checkpoint: the epoch whose weights played best greedily (EpisodeUpdater)
    monitor, mode, headline = "greedy_return", "max", "return"
    supports_lr_find = False
    # the logged loss is a policy-gradient or TD loss, not a curve to minimize: it grows with the
    # returns (the value and Q targets grow), and there is no validation data to overfit
    doctor_skips = ("diverging", "flat_loss", "overfitting")
    min_limit = 1
    common_options: ClassVar[dict[str, Option]] = {
        "env": Option("numpy", "numpy: deepgrad's CartPole; gym: gymnasium's CartPole-v1", ENVS),
        "gamma": Option(0.99, "discount factor"),
        "episodes_per_epoch": Option(10, "Trainer steps (updates) per epoch"),
        "stop_when_solved": Option(True, "stop when 100 episodes average >= 475"),
        "eval_episodes": Option(10, "greedy episodes after every epoch (they pick the best)"),
    }

    def check_config(self, config: RunConfig) -> None:
        super().check_config(config)
        if config.device != "cpu":
            raise RecipeError(f"recipe {self.name!r} runs on the cpu only (got {config.device}).")
        if config.options["env"] == "gym" and importlib.util.find_spec("gymnasium") is None:
            raise RecipeError(
                "option env=gym needs gymnasium: pip install 'deepgrad[rl]' (or use env=numpy)."
            )
        if not 0.0 <= config.options["gamma"] <= 1.0:
            raise RecipeError(f"option gamma must be in [0, 1] (got {config.options['gamma']}).")
        if config.options["eval_episodes"] < 1:
            raise RecipeError(
                f"option eval_episodes must be >= 1 (got {config.options['eval_episodes']}); "
                "the greedy evaluation picks the best checkpoint."
            )

    def data(self, config: RunConfig) -> RecipeData:
        env = make_env(config.options["env"])
        source = "gymnasium CartPole-v1" if config.options["env"] == "gym" else "NumPy CartPole"
        return RecipeData(
            train=env,
            val=None,
            test=None,
            notes=[f"environment: {source} (solved: mean return >= 475 over 100 episodes)"],
            info={"log": EpisodeLog(SOLVED_RETURN, SOLVED_WINDOW)},
        )

    def loaders(self, config: RunConfig, data: RecipeData) -> tuple:
        o = config.options
        stream = EpisodeStream(
            data.train,
            data.info["log"],
            o["episodes_per_epoch"],
            seed=config.seed,
            eval_env=make_env(o["env"]),
            eval_episodes=o["eval_episodes"],
        )
        return stream, None, None

    def make_trainer(self, config, model, optimizer, callbacks, monitor, progress: bool):
        return Trainer(
            model,
            _no_supervised_loss,
            optimizer,
            callbacks=callbacks,
            monitor=monitor,
            progress=progress,
            updater=self.make_updater(config),
        )

    @abstractmethod
    def make_updater(self, config: RunConfig) -> Updater:
        """The agent's updater, built from the run's settings."""

    def example_input(self, config: RunConfig, data: RecipeData) -> tuple[tuple[int, ...], str]:
        return (1, int(np.prod(data.train.observation_space.shape))), "float32"

    def outputs(
        self, config: RunConfig, model: nn.Module, data: RecipeData, out_dir: Path, plots: bool
    ) -> list[str]:
        log: EpisodeLog = data.info["log"]
        _write_episodes(log, out_dir / "episodes.csv")
        greedy = greedy_returns(model, make_env(config.options["env"]), EVAL_EPISODES, EVAL_SEED)
        summary = {
            "episodes": len(log.returns),
            "env_steps": int(sum(log.lengths)),
            "solved_at_episode": log.solved_at,
            "best_mean_return_100": _best_window_mean(log),
            "greedy_eval_episodes": EVAL_EPISODES,
            "greedy_mean_return": float(np.mean(greedy)),
        }
        (out_dir / "rl.json").write_text(json.dumps(summary, indent=2) + "\n")
        best = summary["best_mean_return_100"]
        if log.solved_at is not None:
            verdict = f"solved after {log.solved_at} episodes"
        elif best is None:
            verdict = f"not solved (fewer than {log.window} episodes)"
        else:
            verdict = f"not solved (best {log.window}-episode mean {best:.1f})"
        lines = [
            f"episodes: {summary['episodes']} ({summary['env_steps']} environment steps); "
            + verdict,
            (
                f"greedy return of the kept weights: {summary['greedy_mean_return']:.1f} "
                f"(mean of {EVAL_EPISODES} episodes)"
            ),
            f"episode returns: {out_dir / 'episodes.csv'}",
        ]
        if plots:
            _plot_returns(log, out_dir / "returns.png", f"{self.name} (seed {config.seed})")
            lines.append(f"returns plot: {out_dir / 'returns.png'}")
        return lines


def _moving_averages(returns: list[float], window: int) -> np.ndarray:
    """The mean of the last ``window`` returns at each episode (of fewer at the start)."""
    values = np.asarray(returns, dtype=np.float64)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - window)
    return (sums[ends] - sums[starts]) / (ends - starts)


def _best_window_mean(log: EpisodeLog) -> float | None:
    if len(log.returns) < log.window:
        return None
    return float(_moving_averages(log.returns, log.window)[log.window - 1 :].max())


def _write_episodes(log: EpisodeLog, path: Path) -> None:
    means = _moving_averages(log.returns, log.window)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["episode", "return", "length", f"mean_return_{log.window}"])
        for i, (ret, length, mean) in enumerate(zip(log.returns, log.lengths, means), start=1):
            writer.writerow([i, ret, length, round(float(mean), 3)])


def _plot_returns(log: EpisodeLog, path: Path, title: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    episodes = np.arange(1, len(log.returns) + 1)
    ax.plot(episodes, log.returns, lw=0.6, alpha=0.5, label="episode return")
    ax.plot(
        episodes, _moving_averages(log.returns, log.window), lw=1.8, label=f"mean of {log.window}"
    )
    ax.axhline(log.threshold, color="k", ls="--", lw=0.8, label=f"solved ({log.threshold:g})")
    if log.solved_at is not None:
        ax.axvline(log.solved_at, color="g", ls=":", lw=1.0, label=f"solved at {log.solved_at}")
    ax.set(xlabel="episode", ylabel="return", title=title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)  # a plain Figure (not pyplot): nothing keeps it after this


class CartPoleReinforce(_CartPoleRecipe):
    """REINFORCE with a learned value baseline. Measured (NumPy CartPole, 2 shared cores under a
    load of about 10): solved on seeds 0, 1, 2 after 327, 350, 284 episodes, in 106, 77, 59 s."""

    name = "cartpole-reinforce"
    summary = "REINFORCE with a baseline on CartPole-v1 (policy gradient, Categorical policy)"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 200,
        "batch_size": 1,
        "lr": 5e-3,
        "optimizer": "adam",
    }
    options: ClassVar[dict[str, Option]] = {
        **_CartPoleRecipe.common_options,
        "hidden": Option((128,), "hidden layer sizes of the policy (and value) network"),
        "baseline": Option(
            "value", "value: learned V(s); mean: running mean return; none: no baseline", BASELINES
        ),
        "entropy": Option(0.0, "weight of the entropy bonus"),
    }

    # and with the value baseline the model holds two networks (policy and value), whose first
    # and last layers are not one chain of gradients
    doctor_skips = (*_CartPoleRecipe.doctor_skips, "vanishing_gradients")

    def build_model(self, config: RunConfig, data: RecipeData) -> nn.Module:
        env = data.train
        return PolicyNetwork(
            int(np.prod(env.observation_space.shape)),
            int(env.action_space.n),
            config.options["hidden"],
            value=config.options["baseline"] == "value",
        )

    def make_updater(self, config: RunConfig) -> ReinforceUpdater:
        o = config.options
        return ReinforceUpdater(
            episodes=config.batch_size,
            gamma=o["gamma"],
            baseline=o["baseline"],
            entropy_coef=o["entropy"],
            stop_when_solved=o["stop_when_solved"],
        )


class CartPoleDQN(_CartPoleRecipe):
    """DQN (double-DQN 3-step targets, Huber loss, Polyak target, learning-rate decay).

    Measured on the NumPy CartPole (2 cores shared with other jobs, load 2-6), with the
    defaults: solved on seeds 0, 1, 2, 3 after 355, 296, 613, 385 episodes (77k, 60k, 187k,
    75k environment steps) in 268, 95, 449, 173 s.

    With one-step targets (``n_step=1``, the defaults before) seeds 1, 2, 3 solve (seed 3: 643
    episodes) but seed 0 does not: its greedy policy reaches 500 and then collapses. Played
    greedily, the collapsed policy balances the pole and lets the cart drift to the edge of the
    track (x = 2.4) within 150-250 moves; that failure is a hundred moves or more after its
    cause, and a one-step target carries it back one move at a time. Also measured on seed
    0 with one-step targets (runs stopped once clearly unsolved): gamma 0.99, best 100-episode
    mean about 430 after 800 episodes (118k steps), oscillating between 500 and 100-300;
    AMSGrad (steps that shrink with the TD errors), 500 for 40 episodes, then the same drift
    (mean 200 at 900 episodes). ELU, return-driven and reduce-on-plateau learning rates, a
    256x256 network and batch 128 (measured earlier) each failed some seed. The buffer (200k)
    already keeps every transition of a run. Where a run does not solve, it ends with the best
    greedy checkpoint.
    """

    name = "cartpole-dqn"
    summary = "DQN on CartPole-v1 (replay buffer, target network, epsilon-greedy, Huber loss)"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 200,
        "batch_size": 64,
        "lr": 1e-3,
        "optimizer": "adam",
        "activation": "relu",
    }
    uses = ("activation",)
    # Measured on CartPole-v1 (the lab and the closing note): gamma 0.98 rather than 0.99, a
    # buffer that keeps the early failures, and 3-step targets (the cart's slow drift off the
    # track is learned in time) made the difference between a policy that reaches 500 and
    # collapses again and one that holds it for 100 episodes (see the class docstring).
    options: ClassVar[dict[str, Option]] = {
        **_CartPoleRecipe.common_options,
        "gamma": Option(0.98, "discount factor"),
        "hidden": Option((128, 128), "hidden layer sizes of the Q network"),
        "buffer": Option(200_000, "replay buffer capacity"),
        "learning_starts": Option(1000, "random moves that fill the buffer before learning"),
        "epsilon_end": Option(0.01, "final exploration rate (from 1.0)"),
        "epsilon_decay": Option(10_000, "environment steps of the linear epsilon decay"),
        "target_update": Option(1, "updates between target-network updates"),
        "tau": Option(0.005, "target-network step: 1 copies, < 1 is Polyak averaging"),
        "lr_end": Option(5e-5, "learning rate reached linearly after lr_decay env steps"),
        "lr_decay": Option(80_000, "environment steps of the learning-rate decay"),
        "double": Option(True, "double-DQN targets"),
        "n_step": Option(3, "moves per stored transition (n-step targets; 1: one-step DQN)"),
    }

    def build_model(self, config: RunConfig, data: RecipeData) -> nn.Module:
        env = data.train
        return QNetwork(
            int(np.prod(env.observation_space.shape)),
            int(env.action_space.n),
            config.options["hidden"],
            activation=partial(make_activation, config.activation or "relu"),
        )

    def make_updater(self, config: RunConfig) -> DQNUpdater:
        o = config.options
        return DQNUpdater(
            batch_size=config.batch_size,
            buffer_size=o["buffer"],
            gamma=o["gamma"],
            epsilon_end=o["epsilon_end"],
            epsilon_decay=o["epsilon_decay"],
            target_update=o["target_update"],
            tau=o["tau"],
            lr_end=o["lr_end"],
            lr_decay=o["lr_decay"],
            learning_starts=o["learning_starts"],
            double=o["double"],
            n_step=o["n_step"],
            seed=config.seed,
            stop_when_solved=o["stop_when_solved"],
        )


__all__ = ["CartPoleDQN", "CartPoleReinforce"]
