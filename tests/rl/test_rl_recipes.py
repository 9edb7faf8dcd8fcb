"""``deepgrad train cartpole-reinforce`` and ``cartpole-dqn``: the run folder with the episode
returns, the settings that do not apply, and gymnasium's environment when it is installed."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_helpers import run

HAVE_GYM = importlib.util.find_spec("gymnasium") is not None


def _episodes(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "episodes.csv") as f:
        return list(csv.DictReader(f))


def test_reinforce_writes_the_learning_curve(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "cartpole-reinforce", "--epochs", "2", "--batch-size", "2"]
    argv += ["--set", "episodes_per_epoch=3", "--no-plots", "--quiet", "--out", out]
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    rows = _episodes(out)
    assert len(rows) == 12  # 2 epochs x 3 updates x 2 episodes
    assert all(float(r["return"]) == float(r["length"]) for r in rows)  # reward 1 per step
    summary = json.loads((out / "rl.json").read_text())
    assert summary["episodes"] == 12 and summary["solved_at_episode"] is None
    assert summary["env_steps"] == sum(int(r["length"]) for r in rows)
    for name in ("config.json", "metrics.csv", "best.safetensors", "doctor.txt", "results.json"):
        assert (out / name).is_file(), name
    assert "episodes: 12" in stdout and "greedy return" in stdout
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"loss", "return", "entropy"} <= set(header)


def test_dqn_writes_the_learning_curve(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "cartpole-dqn", "--epochs", "1", "--set", "episodes_per_epoch=2"]
    argv += ["--set", "learning_starts=64", "--no-plots", "--quiet", "--out", out]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    rows = _episodes(out)
    assert len(rows) >= 3  # the random warm-up's episodes, then 2 learning ones
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"loss", "return", "epsilon", "greedy_return"} <= set(header)
    config = json.loads((out / "config.json").read_text())
    assert config["options"]["env"] == "numpy" and config["batch_size"] == 64
    assert config["activation"] == "relu"
    results = json.loads((out / "results.json").read_text())
    assert results["monitor"] == "greedy_return"


def test_dqn_takes_the_activation_setting():
    from deepgrad import nn
    from deepgrad.experiments.recipes.rl import CartPoleDQN

    recipe = CartPoleDQN()
    config = recipe.make_config(activation="leaky_relu")
    model = recipe.build_model(config, recipe.data(config))
    assert [type(m) for m in model.net] == [nn.Linear, nn.LeakyReLU] * 2 + [nn.Linear]
    elu = recipe.build_model(recipe.make_config(activation="elu"), recipe.data(config))
    assert isinstance(elu.net[1], nn.ELU) and isinstance(elu.net[3], nn.ELU)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--set", "env=atari"], "unknown value 'atari'; allowed: numpy, gym"),
        (["--set", "baseline=median"], "allowed: value, mean"),
        (["--activation", "tanh"], "has no activation setting"),
        (["--set", "gamma=2"], "gamma must be in [0, 1]"),
        (["--set", "eval_episodes=0"], "eval_episodes must be >= 1"),
    ],
)
def test_bad_settings_are_refused(argv, expected, capsys):
    code, _, err = run(capsys, "train", "cartpole-reinforce", *argv)
    assert code != 0 and expected in err


def test_lr_find_does_not_apply(capsys):
    code, _, err = run(capsys, "lr-find", "cartpole-dqn")
    assert code != 0 and "no single loss" in err


@pytest.mark.skipif(not HAVE_GYM, reason="gymnasium is not installed (pip install 'deepgrad[rl]')")
def test_gymnasium_environment_on_request(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "cartpole-reinforce", "--epochs", "1", "--set", "episodes_per_epoch=2"]
    argv += ["--set", "env=gym", "--no-plots", "--quiet", "--out", out]
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    assert "gymnasium CartPole-v1" in stdout and len(_episodes(out)) == 2


def test_gym_without_gymnasium_says_how_to_install(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gymnasium" else real(name, *a),
    )
    code, _, err = run(capsys, "train", "cartpole-dqn", "--set", "env=gym")
    assert code != 0 and "pip install 'deepgrad[rl]'" in err
