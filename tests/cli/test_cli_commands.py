"""``deepgrad lr-find``, ``compare``, ``evaluate``, ``summary`` and ``doctor`` at tiny sizes."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import HAVE_MATPLOTLIB, run

import deepgrad
from deepgrad.models import mnist_mlp
from deepgrad.models.mlp import MNIST_SIZES


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    from deepgrad.cli import main

    out = tmp_path_factory.mktemp("moons")
    assert (
        main(["train", "moons", "--epochs", "3", "--quiet", "--no-plots", "--out", str(out)]) == 0
    )
    return out


def test_evaluate_rebuilds_the_model_and_gives_the_runs_test_metrics(moons_run, capsys):
    results = json.loads((moons_run / "results.json").read_text())["test"]
    code, stdout, _ = run(capsys, "evaluate", moons_run / "best.safetensors")
    assert code == 0
    assert f"test accuracy {results['accuracy']:.4f}" in stdout
    assert f"test loss {results['loss']:.4f}" in stdout


def test_evaluate_reads_full_checkpoints_and_other_splits(moons_run, capsys):
    code, stdout, _ = run(capsys, "evaluate", moons_run / "last.safetensors", "--split", "val")
    assert code == 0 and "val accuracy" in stdout
    history = json.loads((moons_run / "history.json").read_text())
    last = history["epochs"][-1]
    assert f"val accuracy {last['val_accuracy']:.4f}" in stdout


def test_doctor_recomputes_the_saved_report(moons_run, capsys):
    code, stdout, _ = run(capsys, "doctor", moons_run)
    assert code == 0
    assert stdout.strip() == (moons_run / "doctor.txt").read_text().strip()
    assert (
        "gradients, hidden units" in stdout or "problem" in stdout
    )  # the monitor records were read back


def test_doctor_works_from_the_checkpoint_alone(moons_run, tmp_path, capsys):
    (tmp_path / "last.safetensors").write_bytes((moons_run / "last.safetensors").read_bytes())
    code, stdout, _ = run(capsys, "doctor", tmp_path)
    assert code == 0 and stdout.startswith("Doctor:") and "steps, 3 epochs" in stdout


def test_summary_lists_the_seed_network(capsys):
    code, stdout, _ = run(capsys, "summary", "mnist-mlp")
    assert code == 0
    total = sum(p.numel() for p in mnist_mlp().parameters())
    assert f"{total:,}" in stdout
    assert all(f"(64, {n})" in stdout.replace(" ", "").replace(",", ", ") for n in MNIST_SIZES[1:])


@pytest.mark.parametrize("recipe", ["mnist-cnn", "vae", "gan", "char-rnn", "stacked-autoencoder"])
def test_summary_of_other_recipes(recipe, capsys):
    code, stdout, stderr = run(capsys, "summary", recipe, "--batch-size", 2)
    assert code == 0, stderr
    assert "params" in stdout.lower() or "parameters" in stdout.lower()


def test_lr_find_prints_a_suggestion_and_saves_the_curve(tmp_path, capsys):
    code, stdout, stderr = run(capsys, "lr-find", "moons", "--steps", 40, "--out", tmp_path)
    assert code == 0, stderr
    data = json.loads((tmp_path / "lr_finder.json").read_text())
    assert len(data["lrs"]) == len(data["losses"]) and data["lrs"][0] == pytest.approx(1e-7)
    assert data["suggestion"] is not None and data["lrs"][0] < data["suggestion"] < data["lrs"][-1]
    assert f"suggested learning rate: {data['suggestion']:.3g}" in stdout
    if HAVE_MATPLOTLIB:
        assert (tmp_path / "lr_finder.png").is_file()


def _table(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_compare_initializations_shows_zero_init_does_not_learn(tmp_path, capsys):
    code, stdout, stderr = run(
        capsys,
        "compare",
        "moons",
        "--vary",
        "init=zeros,kaiming",
        "--epochs",
        4,
        "--quiet",
        "--out",
        tmp_path,
    )
    assert code == 0, stderr
    rows = {r["variant"]: r for r in _table(tmp_path / "comparison.csv")}
    assert set(rows) == {"zeros", "kaiming"}
    # zero weights never break the symmetry: the network stays a constant (chance on balanced moons)
    assert (
        float(rows["zeros"]["best val_accuracy"])
        < 0.75
        < float(rows["kaiming"]["best val_accuracy"])
    )
    for name in ("zeros", "kaiming"):
        assert name in stdout
        assert (tmp_path / name / "config.json").is_file()
        assert json.loads((tmp_path / name / "config.json").read_text())["init"] == name
    header = stdout.split("\n\n")[-2].splitlines()[0]
    assert "variant" in header and "best val_accuracy" in header and "time (s)" in header
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert [r["variant"] for r in saved["rows"]] == ["zeros", "kaiming"]
    if HAVE_MATPLOTLIB:
        assert (tmp_path / "comparison.png").is_file()


def test_compare_regularizations_and_a_grid(tmp_path, capsys):
    code, _, stderr = run(
        capsys,
        "compare",
        "moons",
        "--vary",
        "regularization=none,l2,dropout,early-stopping",
        "--no-plots",
        "--epochs",
        2,
        "--quiet",
        "--out",
        tmp_path / "reg",
    )
    assert code == 0, stderr
    configs = {
        r["variant"]: json.loads((tmp_path / "reg" / r["variant"] / "config.json").read_text())
        for r in _table(tmp_path / "reg" / "comparison.csv")
    }
    assert configs["l2"]["weight_decay"] > 0 and configs["none"]["weight_decay"] == 0
    assert configs["dropout"]["dropout"] > 0 and configs["none"]["dropout"] == 0
    assert (
        configs["early-stopping"]["early_stopping"] is not None
        and configs["none"]["early_stopping"] is None
    )
    code, _, stderr = run(
        capsys,
        "compare",
        "moons",
        "--vary",
        "optimizer=sgd,adam",
        "--vary",
        "lr=0.1,0.01",
        "--no-plots",
        "--epochs",
        1,
        "--quiet",
        "--out",
        tmp_path / "grid",
    )
    assert code == 0, stderr
    variants = [r["variant"] for r in _table(tmp_path / "grid" / "comparison.csv")]
    assert variants == [
        "optimizer=sgd,lr=0.1",
        "optimizer=sgd,lr=0.01",
        "optimizer=adam,lr=0.1",
        "optimizer=adam,lr=0.01",
    ]
    for row in _table(tmp_path / "grid" / "comparison.csv"):
        assert math.isfinite(float(row["final val_accuracy"]))


def test_compare_over_activations_and_recipe_options(tmp_path, capsys):
    code, _, stderr = run(
        capsys,
        "compare",
        "moons",
        "--vary",
        "activation=relu,tanh,sigmoid",
        "--no-plots",
        "--epochs",
        1,
        "--quiet",
        "--out",
        tmp_path / "act",
    )
    assert code == 0, stderr
    code, _, stderr = run(
        capsys,
        "compare",
        "moons",
        "--vary",
        "hidden=4,16x16",
        "--epochs",
        1,
        "--quiet",
        "--no-plots",
        "--out",
        tmp_path / "hidden",
    )
    assert code == 0, stderr
    config = json.loads((tmp_path / "hidden" / "16x16" / "config.json").read_text())
    assert config["options"]["hidden"] == [16, 16]


def test_the_console_script_module_runs(tmp_path):
    root = str(Path(deepgrad.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, "-m", "deepgrad.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode == 0
    for command in ("train", "lr-find", "compare", "evaluate", "summary", "doctor"):
        assert command in result.stdout
    assert "mnist-mlp" in result.stdout


def _pyproject_version() -> str:
    import tomllib

    pyproject = Path(deepgrad.__file__).resolve().parents[1] / "pyproject.toml"
    return tomllib.loads(pyproject.read_text())["project"]["version"]


def test_version_prints_the_package_version(capsys):
    code, stdout, stderr = run(capsys, "--version")
    assert code == 0 and stderr == ""
    assert stdout == f"deepgrad {_pyproject_version()}\n"
    assert deepgrad.__version__ == _pyproject_version()


def test_version_falls_back_to_the_module_version_without_installed_metadata(capsys, monkeypatch):
    import importlib.metadata

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    monkeypatch.setattr(deepgrad, "__version__", "9.8.7")
    code, stdout, _ = run(capsys, "--version")
    assert code == 0 and stdout == "deepgrad 9.8.7\n"
