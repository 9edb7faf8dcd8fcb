"""``deepgrad train pixelcnn``: a tiny run writes the run folder, reports the test NLL in nats per
image and draws samples; binarized data; its settings are checked."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import HAVE_MATPLOTLIB, run

from deepgrad.experiments.recipes import get_recipe
from deepgrad.experiments.recipes.autoregressive import NatsPerImage

RUN_FILES = ["config.json", "metrics.csv", "best.safetensors", "doctor.txt", "results.json"]
TINY = ["--set", "channels=4", "--set", "blocks=1", "--set", "samples=4"]


def test_pixelcnn_trains_at_a_tiny_size_and_reports_nats(tmp_path, capsys):
    args = ["train", "pixelcnn", "--epochs", 1, "--batch-size", 32, "--limit", 96]
    code, stdout, stderr = run(capsys, *args, *TINY, "--quiet", "--out", tmp_path)
    assert code == 0, stderr
    for name in RUN_FILES:
        assert (tmp_path / name).is_file(), name
    assert "pixels binarized" in stdout and "test nll " in stdout
    test = json.loads((tmp_path / "results.json").read_text())["test"]
    # the loss is already -log p(x) per image: the metric and the loss agree
    assert test["nll"] == pytest.approx(test["loss"], rel=1e-4)
    assert 0 < test["nll"] < 784 * np.log(2) * 1.5
    assert "Doctor:" in (tmp_path / "doctor.txt").read_text()
    if HAVE_MATPLOTLIB:
        assert (tmp_path / "samples.png").is_file() and "samples: " in stdout


def test_pixelcnn_data_is_binarized_at_the_threshold():
    recipe = get_recipe("pixelcnn")
    config = recipe.make_config(limit=20, options={"threshold": 0.5})
    data = recipe.data(config)
    x, target = data.train.get_batch(np.arange(5))
    assert x.shape == (5, 1, 28, 28) and set(np.unique(x)) == {0.0, 1.0}
    assert np.array_equal(x, target)
    single, _ = data.test[0]
    assert set(np.unique(single)) <= {0.0, 1.0}


def test_nats_per_image_metric_sums_pixels_and_averages_images():
    import deepgrad as dg

    metric = NatsPerImage()
    logits = dg.zeros(2, 1, 2, 2)  # p = 1/2 everywhere: ln 2 per pixel
    metric.update(logits, dg.ones(2, 1, 2, 2))
    metric.update(logits[:1], dg.zeros(1, 1, 2, 2))
    assert metric.compute() == pytest.approx(4 * np.log(2))
    metric.reset()
    with pytest.raises(RuntimeError, match="no samples"):
        metric.compute()


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("block=plain", "unknown value 'plain'; allowed: residual, gated"),
        ("threshold=1.5", "threshold must be in [0, 1) (got 1.5)"),
        ("samples=-1", "samples must be >= 0 (got -1)"),
    ],
)
def test_pixelcnn_refuses_bad_settings(option, expected, tmp_path, capsys):
    code, _, stderr = run(capsys, "train", "pixelcnn", "--set", option, "--out", tmp_path)
    assert code != 0 and expected in stderr, stderr


def test_pixelcnn_summary(capsys):
    code, stdout, stderr = run(capsys, "summary", "pixelcnn", "--batch-size", 2)
    assert code == 0, stderr
    assert "MaskedConv2d" in stdout
