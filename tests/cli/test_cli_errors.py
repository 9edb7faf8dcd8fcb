"""Bad arguments exit non-zero with a message that names what is allowed."""

from __future__ import annotations

import pytest
from cli_helpers import run

import deepgrad.cuda
from deepgrad.experiments.recipes import RECIPES


def test_no_command_and_help(capsys):
    code, _, err = run(capsys)
    assert code == 2 and "COMMAND" in err
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0
    for name, recipe in RECIPES.items():
        assert name in out and recipe.summary in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["train", "mnist-lstm"],
            ["invalid choice: 'mnist-lstm'", "mnist-mlp", "char-rnn", "moons"],
        ),
        (
            ["train", "moons", "--optimizer", "lbfgs"],
            ["invalid choice: 'lbfgs'", "sgd", "momentum", "adam"],
        ),
        (
            ["train", "moons", "--init", "he"],
            ["invalid choice: 'he'", "zeros", "normal", "xavier", "kaiming"],
        ),
        (["train", "moons", "--activation", "swish"], ["invalid choice: 'swish'", "relu", "tanh"]),
        (["train", "moons", "--epochs", "0"], ["--epochs", "must be a positive int (got 0)"]),
        (
            ["train", "moons", "--epochs", "two"],
            ["--epochs", "must be a positive int (got str 'two')"],
        ),
        (["train", "moons", "--dropout", "1.5"], ["--dropout", "must be in [0, 1) (got 1.5)"]),
        (["train", "moons", "--lr", "-1"], ["--lr", "must be > 0 (got -1.0)"]),
        (["train", "moons", "--lr", "inf"], ["--lr", "must be > 0 (got inf)"]),
        (["train", "moons", "--early-stopping", "-1"], ["--early-stopping", "non-negative int"]),
        (["train", "moons", "--out", ""], ["--out", "must name a folder (got '')"]),
        (["train", "--resume", ""], ["--resume", "must name a folder (got '')"]),
        (["train"], ["give the RECIPE to train, or --resume RUN_DIR"]),
        (["train", "moons", "--device", "tpu"], ["invalid choice: 'tpu'", "cpu", "cuda"]),
        (["train", "moons", "--set", "hidden"], ["KEY=VALUE"]),
        (["evaluate"], ["CHECKPOINT"]),
        (["compare", "moons"], ["--vary"]),
    ],
)
def test_argparse_errors_list_the_allowed_values(argv, expected, capsys):
    code, _, err = run(capsys, *argv)
    assert code == 2
    for text in expected:
        assert text in err, (text, err)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["train", "gan", "--init", "xavier", "--limit", "32"],
            ["recipe 'gan' has no init setting", "mnist-mlp", "moons"],
        ),
        (["train", "vae", "--augment"], ["recipe 'vae' has no augment setting", "mnist-mlp"]),
        (["train", "moons", "--set", "depth=3"], ["no option 'depth'", "n, noise, hidden"]),
        (["train", "moons", "--set", "hidden=8xa"], ["option hidden", "256x64"]),
        (
            ["train", "mnist-cnn", "--set", "arch=resnet"],
            ["unknown value 'resnet'", "lenet5, convnet"],
        ),
        (["train", "moons", "--set", "n=5", "--set", "n=6"], ["--set n is given twice"]),
        (["train", "char-rnn", "--limit", "1"], ["limit must be at least 2"]),
        (["compare", "moons", "--vary", "init"], ["KEY=VALUE1,VALUE2", "init=zeros,xavier"]),
        (["compare", "moons", "--vary", "init="], ["at least one value"]),
        (
            ["compare", "moons", "--vary", "colour=red,blue"],
            ["unknown key 'colour'", "init", "activation", "optimizer", "regularization", "hidden"],
        ),
        (
            ["compare", "moons", "--vary", "init=zeros,he"],
            ["variant 'he'", "init must be one of", "kaiming"],
        ),
        (
            ["compare", "moons", "--vary", "regularization=none,bagging"],
            ["unknown value 'bagging'", "none, l2, dropout, early-stopping"],
        ),
        (["compare", "moons", "--vary", "lr=0.1,fast"], ["'fast' is not a valid lr"]),
        (["compare", "moons", "--vary", "init=zeros,zeros"], ["listed twice"]),
        (["compare", "moons", "--vary", "init=zeros", "--vary", "init=xavier"], ["varied once"]),
        (
            ["compare", "vae", "--vary", "regularization=none,dropout"],
            ["recipe 'vae' has no dropout setting"],
        ),
        (["lr-find", "gan"], ["no single loss"]),
        (
            ["lr-find", "moons", "--start-lr", "1", "--end-lr", "0.1"],
            ["--start-lr must be below --end-lr"],
        ),
    ],
)
def test_settings_a_recipe_cannot_take_exit_2_with_the_allowed_values(
    argv, expected, capsys, tmp_path
):
    code, out, err = (
        run(capsys, *argv, "--out", tmp_path)
        if argv[0] in ("train", "compare", "lr-find")
        else run(capsys, *argv)
    )
    assert code == 2, (out, err)
    assert err.startswith(f"deepgrad {argv[0]}: error: ")
    for text in expected:
        assert text in err, (text, err)
    assert not list(tmp_path.iterdir())  # nothing was trained or written


@pytest.mark.skipif(deepgrad.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_says_why_before_training(tmp_path, capsys):
    code, _, err = run(capsys, "train", "moons", "--device", "cuda", "--out", tmp_path)
    assert code == 2 and "device cuda:" in err and "--device cpu" in err
    assert deepgrad.cuda.unavailable_reason() in err
    assert not list(tmp_path.iterdir())


def test_missing_files_exit_1(tmp_path, capsys):
    code, _, err = run(capsys, "evaluate", tmp_path / "nothing.safetensors")
    assert code == 1 and "no checkpoint file" in err
    (tmp_path / "w.safetensors").write_bytes(b"")
    code, _, err = run(capsys, "evaluate", tmp_path / "w.safetensors")
    assert code == 1 and "config.json" in err
    code, _, err = run(capsys, "doctor", tmp_path / "absent")
    assert code == 1 and "no run folder" in err
    code, _, err = run(capsys, "doctor", tmp_path)
    assert code == 1 and "history.json or last.safetensors" in err
