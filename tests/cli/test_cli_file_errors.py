"""Every error of the ``deepgrad`` command is one line on stderr that names the file and what to do,
with exit status 1 (2 for usage errors) and no traceback; ``--debug`` shows the traceback."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from cli_helpers import run

import deepgrad.cli
from deepgrad.experiments import train_recipe

TINY = ["--set", "n=200", "--set", "hidden=8", "--quiet", "--no-plots"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-epoch moons run (copied, never changed, by the tests)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    train_recipe(
        "moons", out=out, progress=False, log=None, epochs=2, options={"n": 200, "hidden": (8,)}
    )
    return out


@pytest.fixture
def damaged(finished, tmp_path):
    """A copy of the finished run, to damage."""
    return pathlib.Path(shutil.copytree(finished, tmp_path / "run"))


def _cut(path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _one_line(err: str, command: str) -> str:
    assert err.startswith(f"deepgrad {command}: error: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_truncated_history_json(damaged, capsys):
    _cut(damaged / "history.json", 60)
    code, _, err = run(capsys, "doctor", damaged)
    assert code == 1
    assert f"{damaged / 'history.json'}: is damaged: not valid JSON" in _one_line(err, "doctor")
    assert "delete it to read the history from last.safetensors" in err
    (damaged / "history.json").unlink()  # the fix the message gives works
    assert run(capsys, "doctor", damaged)[0] == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"recipe": "moons", "epo', "is damaged: not valid JSON"),
        ("[1, 2]", "holds a list, not a run's settings"),
        ('{"recipe": "moons"}', "is not a valid run config (RunConfig.__init__() missing"),
        (
            '{"recipe": "moons", "colour": 1}',
            "is not a valid run config (RunConfig: unknown keys ['colour']",
        ),
    ],
)
def test_an_invalid_config_json(content, problem, damaged, capsys):
    (damaged / "config.json").write_text(content)
    for argv in (
        ["evaluate", damaged / "best.safetensors"],
        ["doctor", damaged],
        ["train", "--resume", damaged],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 1, (argv, err)
        assert f"{damaged / 'config.json'}: {problem}" in _one_line(err, argv[0]), err
        assert "restore it from a copy, or train the run again." in err


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.75, -1])
def test_a_truncated_monitor_csv(keep, damaged, capsys):
    size = (damaged / "monitor.csv").stat().st_size
    _cut(damaged / "monitor.csv", int(keep * size) if keep > 0 else size + keep)
    code, _, err = run(capsys, "doctor", damaged)
    assert code == 1
    assert f"{damaged / 'monitor.csv'}: is damaged at line" in _one_line(err, "doctor")
    assert "delete it to diagnose the run from its history alone" in err


@pytest.mark.parametrize("name", ["best.safetensors", "last.safetensors"])
def test_a_truncated_checkpoint_given_to_evaluate(name, damaged, capsys):
    _cut(damaged / name, 200)
    code, _, err = run(capsys, "evaluate", damaged / name)
    assert code == 1
    assert f"{damaged / name}: is damaged or not a deepgrad checkpoint" in _one_line(
        err, "evaluate"
    )
    assert "evaluate best.safetensors or last.safetensors of a run" in err


def test_a_checkpoint_of_another_model_given_to_evaluate(damaged, capsys):
    config = json.loads((damaged / "config.json").read_text())
    config["options"]["hidden"] = [16]
    (damaged / "config.json").write_text(json.dumps(config))
    code, _, err = run(capsys, "evaluate", damaged / "best.safetensors")
    assert code == 1
    assert f"does not fit the model of {damaged / 'config.json'}" in _one_line(err, "evaluate")


def test_resume_from_a_truncated_last_checkpoint(damaged, capsys):
    _cut(damaged / "last.safetensors", 200)
    code, _, err = run(capsys, "train", "--resume", damaged)
    assert code == 1
    assert f"{damaged / 'last.safetensors'}: is damaged or not a Trainer checkpoint" in _one_line(
        err, "train"
    )
    assert "delete it to train the run again from its start" in err


def test_missing_files(tmp_path, capsys):
    code, _, err = run(capsys, "evaluate", tmp_path / "nothing.safetensors")
    assert code == 1 and "no checkpoint file" in _one_line(err, "evaluate")
    code, _, err = run(capsys, "doctor", tmp_path / "absent")
    assert code == 1 and "no run folder" in _one_line(err, "doctor")


def test_an_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    code, _, err = run(capsys, "train", "moons", *TINY, "--out", tmp_path / "a-file")
    assert code == 1
    assert (
        f"{tmp_path / 'a-file'}: is a file, not a folder; give --out a new or empty folder"
        in _one_line(err, "train")
    )
    code, _, err = run(capsys, "train", "moons", *TINY, "--out", tmp_path / "a-file" / "run")
    assert code == 1
    assert (
        f"{tmp_path / 'a-file' / 'run'}: a part of the path is a file, not a folder"
        in _one_line(err, "train")
    )


def test_an_out_in_a_read_only_folder(tmp_path, capsys, monkeypatch):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    original = pathlib.Path.mkdir

    def mkdir(self, *args, **kwargs):  # what a read-only folder does (the tests may run as root)
        if read_only in self.parents:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    code, _, err = run(capsys, "train", "moons", *TINY, "--out", read_only / "run")
    assert code == 1
    assert (
        f"{read_only / 'run'}: permission denied: choose a file or folder you may use (--out)"
        in _one_line(err, "train")
    )


def _full_disk(monkeypatch, allowed: int) -> None:
    """Every fsync after the first ``allowed`` ones fails as on a full disk."""
    calls = []
    original = os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) > allowed:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_before_training(tmp_path, capsys, monkeypatch):
    _full_disk(monkeypatch, allowed=0)
    code, _, err = run(capsys, "train", "moons", *TINY, "--out", tmp_path)
    assert code == 1
    assert f"{tmp_path / 'config.json'}: the disk is full: free some space" in _one_line(
        err, "train"
    )
    assert list(tmp_path.iterdir()) == []  # no half-written file or temporary left


def test_a_full_disk_during_training(tmp_path, capsys, monkeypatch):
    _full_disk(monkeypatch, allowed=1)  # config.json is written; the first checkpoint is not
    code, _, err = run(capsys, "train", "moons", *TINY, "--out", tmp_path)
    assert code == 1
    assert f"{tmp_path}: the disk is full: free some space" in _one_line(err, "train")
    assert "deepgrad train --resume RUN_DIR" in err
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    capsys, monkeypatch, tmp_path
):
    def broken(run_dir):
        raise RuntimeError("boom")

    monkeypatch.setattr(deepgrad.cli.commands, "doctor_report", broken)
    code, _, err = run(capsys, "doctor", tmp_path)
    assert code == 1
    assert "RuntimeError: boom (unexpected: run again with --debug" in _one_line(err, "doctor")
    for argv in (["--debug", "doctor", tmp_path], ["doctor", tmp_path, "--debug"]):
        code, _, err = run(capsys, *argv)
        assert (
            code == 1
            and "Traceback (most recent call last)" in err
            and 'raise RuntimeError("boom")' in err
        )
        assert (
            err.rstrip("\n")
            .splitlines()[-1]
            .startswith("deepgrad doctor: error: RuntimeError: boom")
        )


def test_debug_is_a_global_flag_in_the_help(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--debug" in out and "show the traceback" in out


def test_the_command_prints_no_traceback(damaged):
    """In a real process: one line on stderr, exit 1; --debug shows the traceback."""
    _cut(damaged / "best.safetensors", 100)
    command = [sys.executable, "-m", "deepgrad.cli", "evaluate", str(damaged / "best.safetensors")]
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(deepgrad.__file__).parents[1])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(
        f"deepgrad evaluate: error: {damaged / 'best.safetensors'}: is damaged"
    )
    done = subprocess.run(
        [*command, "--debug"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 1 and "Traceback (most recent call last)" in done.stderr
