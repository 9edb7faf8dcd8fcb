"""``deepgrad train --resume RUN_DIR`` continues a run with its own settings (only --epochs may grow);
``--out`` never silently replaces a run (``--overwrite`` does, on purpose)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from cli_helpers import run

from deepgrad.experiments import RecipeError, train_recipe
from deepgrad.experiments.records import load_history
from deepgrad.train.checkpoint import load_checkpoint

# a moons run of about 0.5 s: 140 training points, 5 steps per epoch
TINY = ["--set", "n=200", "--set", "hidden=8", "--quiet", "--no-plots"]


def _train(capsys, out, epochs, *extra):
    code, stdout, stderr = run(
        capsys, "train", "moons", "--epochs", epochs, *TINY, *extra, "--out", out
    )
    assert code == 0, stderr
    return stdout


def _same_weights(a, b) -> None:
    first, second = load_checkpoint(a / "last.safetensors"), load_checkpoint(b / "last.safetensors")
    assert int(first["global_step"]) == int(second["global_step"])
    for part in ("model", "optimizer"):
        for key, value in first[part].items():
            if hasattr(value, "numpy"):
                assert np.array_equal(value.numpy(), second[part][key].numpy()), (part, key)
    assert first["optimizer"].keys() == second["optimizer"].keys()


@pytest.fixture
def straight(tmp_path_factory):
    """An uninterrupted 3-epoch run, the reference of resumed ones."""
    return tmp_path_factory.mktemp("straight") / "run"


def test_resume_with_a_larger_epochs_ends_as_an_uninterrupted_run(tmp_path, capsys, straight):
    _train(capsys, straight, 3)
    out = tmp_path / "run"
    _train(capsys, out, 2)
    # the settings given again, unchanged (the run's values), are accepted
    code, stdout, stderr = run(
        capsys,
        "train",
        "--resume",
        out,
        "--epochs",
        3,
        "--set",
        "hidden=8",
        "--lr",
        0.01,
        "--quiet",
        "--no-plots",
    )
    assert code == 0, stderr
    assert f"resuming {out}" in stdout and "resuming after step 10" in stdout
    assert json.loads((out / "config.json").read_text())["epochs"] == 3
    assert [r["epoch"] for r in load_history(out).epochs] == [1, 2, 3]
    assert json.loads((out / "results.json").read_text())["epochs_run"] == 3
    _same_weights(out, straight)


def test_resume_before_the_first_checkpoint_starts_the_run_again(tmp_path, capsys, straight):
    _train(capsys, straight, 3)
    out = tmp_path / "run"
    _train(capsys, out, 3)
    for path in out.iterdir():  # as if killed during epoch 1: only config.json was written
        if path.name != "config.json":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    code, stdout, stderr = run(capsys, "train", "--resume", out, "--quiet", "--no-plots")
    assert code == 0, stderr
    assert "resuming after step" not in stdout
    _same_weights(out, straight)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["--lr", "0.5"], "--lr differs from the run's (run: 0.01, given: 0.5)"),
        (["--batch-size", "4"], "--batch-size differs from the run's (run: 32, given: 4)"),
        (["--optimizer", "sgd"], "--optimizer differs from the run's (run: adam, given: sgd)"),
        (["--seed", "1"], "--seed differs from the run's (run: 0, given: 1)"),
        (["--dropout", "0.5"], "--dropout differs from the run's (run: 0.0, given: 0.5)"),
        (["--set", "n=300"], "--set n differs from the run's (run: 200, given: 300)"),
        (["--set", "hidden=8x8"], "--set hidden differs from the run's (run: 8, given: 8x8)"),
        (["--set", "depth=2"], "recipe 'moons' has no option 'depth'"),
        (["mnist-mlp"], "--recipe differs from the run's (run: moons, given: mnist-mlp)"),
        (["--epochs", "1"], "--epochs must be at least the run's 2 (got 1)"),
        (["--out", "elsewhere"], "--resume continues the run in its own folder"),
        (["--overwrite"], "--resume continues the run in its own folder"),
    ],
)
def test_resume_refuses_changed_settings_and_names_them(given, expected, tmp_path, capsys):
    out = tmp_path / "run"
    _train(capsys, out, 2)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, _, err = run(capsys, "train", "--resume", out, *given)
    assert code == 2
    assert err.startswith("deepgrad train: error: ") and err.count("\n") == 1, err
    assert expected in err, err
    if "differs" in expected:
        assert "only --epochs may grow" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_resume_needs_a_run_folder(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--resume", tmp_path / "absent")
    assert code == 1 and f"no run folder '{tmp_path / 'absent'}'" in err
    code, _, err = run(capsys, "train", "--resume", tmp_path)
    assert code == 1 and f"no config.json in {tmp_path}" in err


def test_a_non_empty_out_is_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    _train(capsys, out, 2)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, _, err = run(capsys, "train", "moons", "--epochs", 1, *TINY, "--out", out)
    assert code == 2 and err.count("\n") == 1
    assert f"--out {out} is not empty" in err
    assert f"use --resume {out} to continue the run in it, or --overwrite to replace it" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    # --overwrite replaces the run: nothing of the 2-epoch run is left
    (out / "notes.txt").write_text("mine")
    _train(capsys, out, 1, "--overwrite")
    assert len(load_history(out).epochs) == 1 and not (out / "notes.txt").exists()
    assert json.loads((out / "config.json").read_text())["epochs"] == 1


def test_overwrite_never_empties_a_folder_that_holds_no_run(tmp_path, capsys):
    (tmp_path / "thesis.tex").write_text("precious")
    code, _, err = run(capsys, "train", "moons", *TINY, "--overwrite", "--out", tmp_path)
    assert code == 2 and "holds no run (no config.json)" in err
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_an_empty_existing_out_is_used(tmp_path, capsys):
    _train(capsys, tmp_path, 1)
    assert (tmp_path / "last.safetensors").is_file()


def test_train_recipe_refuses_a_non_empty_out_too(tmp_path):
    (tmp_path / "x").write_text("")
    with pytest.raises(RecipeError, match="is not empty"):
        train_recipe("moons", out=tmp_path, progress=False, log=None, epochs=1)
    with pytest.raises(RecipeError, match="must name a folder"):
        train_recipe("moons", out="", progress=False, log=None, epochs=1)
