"""deepgrad train RECIPE --committee N, and the deep MNIST recipes (mnist-resnet, mnist-deep-mlp)
at a tiny size."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import HAVE_MATPLOTLIB, run

import deepgrad as dg
from deepgrad.experiments import get_recipe
from deepgrad.experiments.recipes.deep import DEEP_MLP_SIZES, cosine_factor
from deepgrad.io import load
from deepgrad.nn import Linear

TINY = ["--epochs", 1, "--batch-size", 32, "--limit", 96, "--quiet"]


def test_committee_trains_its_members_and_reports_the_committee(tmp_path, capsys):
    out = tmp_path / "c"
    code, stdout, stderr = run(
        capsys,
        *["train", "mnist-cnn", "--committee", 2, "--seed", 5, *TINY, "--out", out],
        *["--set", "arch=convnet", "--augment", "--set", "distortion=elastic"],
    )
    assert code == 0, stderr
    record = json.loads((out / "committee.json").read_text())
    assert record["members"] == 2 and record["seeds"] == [5, 6]
    assert record["member_dirs"] == ["member-0", "member-1"]
    assert record["config"]["options"]["distortion"] == "elastic"
    for k, seed in enumerate(record["seeds"]):
        config = json.loads((out / f"member-{k}" / "config.json").read_text())
        assert config["seed"] == seed and config["augment"] is True
        assert (out / f"member-{k}" / "best.safetensors").is_file()
        assert f"member seed {seed}: test error {record['member_test_error'][k]:.2%}" in stdout
    assert f"committee of 2: test error {record['committee_test_error']:.2%}" in stdout
    assert f"average member: test error {np.mean(record['member_test_error']):.2%}" in stdout
    if HAVE_MATPLOTLIB:
        assert (out / "committee.png").is_file()
    # the committee's error, recomputed by hand: the average of the members' softmax
    recipe = get_recipe("mnist-cnn")
    config = recipe.make_config(limit=96, options={"arch": "convnet"})
    data = recipe.data(config)
    x, y = data.test.get_batch(np.arange(len(data.test)))
    probs = []
    for k in range(2):
        model = recipe.build_model(config, data)
        model.load_state_dict(load(out / f"member-{k}" / "best.safetensors"))
        with dg.no_grad():
            logits = model.eval()(dg.tensor(x)).numpy()
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs.append(e / e.sum(axis=1, keepdims=True))
    labels = np.asarray(y)
    assert record["member_test_error"] == pytest.approx(
        [float((p.argmax(1) != labels).mean()) for p in probs]
    )
    committee = np.mean(probs, axis=0)
    assert record["committee_test_error"] == pytest.approx((committee.argmax(1) != labels).mean())
    assert record["committee_test_loss"] == pytest.approx(
        -np.log(committee[np.arange(len(labels)), labels]).mean(), rel=1e-4
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "vae", "--committee", 2],
            "'vae' is not a classifier; recipes that are: mnist-mlp",
        ),
        (["train", "mnist-cnn", "--committee", 1], "--committee needs at least 2 members (got 1)"),
        (["train", "--resume", "somewhere", "--committee", 2], "leave --committee out"),
        (["train", "mnist-cnn", "--committee", 0], "must be a positive int (got 0)"),
    ],
)
def test_committee_errors(argv, message, capsys):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err, err


def test_committee_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "train", "moons", "--committee", 2, "--out", tmp_path)
    assert code == 2 and "is not empty" in err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("recipe", "extra", "model"),
    [
        ("mnist-resnet", ["--set", "blocks=1x1x1", "--set", "channels=4x4x8"], "ResNet"),
        ("mnist-resnet", ["--set", "blocks=1x1x1", "--set", "plain=true"], "ResNet"),
        ("mnist-deep-mlp", ["--set", "hidden=16x8"], "MLP 784-16-8-10"),
    ],
)
def test_deep_recipes_train_at_a_tiny_size(recipe, extra, model, tmp_path, capsys):
    code, stdout, stderr = run(capsys, "train", recipe, *TINY, *extra, "--out", tmp_path)
    assert code == 0, stderr
    assert f"model: {model}" in stdout and "test accuracy" in stdout
    assert json.loads((tmp_path / "results.json").read_text())["status"] == "completed"


def test_deep_mlp_is_the_tables_network_with_elastic_distortions():
    recipe = get_recipe("mnist-deep-mlp")
    config = recipe.make_config(limit=20)
    assert config.augment and config.options["distortion"] == "elastic"
    data = recipe.data(config)
    assert "elastic distortions, rotations, shifts" in data.notes[0]
    assert [type(t).__name__ for t in data.train.transform.transforms] == [
        "ElasticDistortion",
        "RandomRotation",
        "RandomTranslation",
    ]
    model = recipe.build_model(config, data)
    linears = [m for m in model.modules() if isinstance(m, Linear)]
    assert [linears[0].in_features] + [m.out_features for m in linears] == list(DEEP_MLP_SIZES)
    assert not recipe.make_config(augment=False).augment


def _rates(run_dir) -> list[float]:
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    column = lines[0].split(",").index("lr")
    return [float(line.split(",")[column]) for line in lines[1:]]


def test_deep_mlp_anneals_its_rate_along_a_cosine_stretched_by_a_longer_resume(tmp_path, capsys):
    out = tmp_path / "run"
    tiny = [*TINY[2:], "--set", "hidden=16x8", "--no-plots"]  # the recipe's own epochs and rate
    code, _, stderr = run(capsys, "train", "mnist-deep-mlp", "--epochs", 2, *tiny, "--out", out)
    assert code == 0, stderr
    assert get_recipe("mnist-deep-mlp").defaults["lr"] == 3e-4
    assert _rates(out) == pytest.approx([3e-4, 3e-4 * 0.5])
    code, _, stderr = run(capsys, "train", "--resume", out, "--epochs", 4, "--quiet", "--no-plots")
    assert code == 0, stderr
    # epochs 3 and 4 follow the 4-epoch cosine: no jump back up past the 2-epoch one's end
    assert _rates(out)[2:] == pytest.approx([3e-4 * 0.5, 3e-4 * cosine_factor(3, 4)])
    constant = tmp_path / "constant"
    code, _, stderr = run(
        capsys,
        "train",
        "mnist-deep-mlp",
        "--epochs",
        2,
        *tiny,
        "--set",
        "schedule=constant",
        "--out",
        constant,
    )
    assert code == 0, stderr
    assert _rates(constant) == pytest.approx([3e-4, 3e-4])


def test_cosine_factor_runs_from_one_down_to_zero_and_stays_there():
    assert [cosine_factor(e, 4) for e in (0, 2, 4, 7)] == pytest.approx([1.0, 0.5, 0.0, 0.0])


def test_resnet_recipe_refuses_stages_that_are_not_three(capsys):
    code, _, err = run(capsys, "train", "mnist-resnet", "--set", "blocks=2x2")
    assert code == 2 and "option blocks: expected 3 sizes, one per stage" in err


def test_an_interrupted_member_stops_the_committee_with_exit_130(tmp_path, capsys, monkeypatch):
    import deepgrad.experiments.committee as committee_module
    from deepgrad.experiments.runs import RunInterrupted

    def interrupted(config, out, *args):
        raise RunInterrupted(out, None, 1, 3)

    monkeypatch.setattr(committee_module, "train_run", interrupted)
    code, stdout, _ = run(capsys, "train", "moons", "--committee", 2, "--out", tmp_path / "c")
    assert code == 130
    assert "member-0/ stopped in epoch 1" in stdout and "not evaluated" in stdout
    assert not (tmp_path / "c" / "committee.json").exists()
