"""The model zoo: records, shipped weights, downloads with a checksum, and reproduced metrics."""

from __future__ import annotations

import http.server
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.cli import main
from deepgrad.data.datasets import DownloadError, file_digest
from deepgrad.experiments import evaluate_pretrained, get_recipe, train_run
from deepgrad.experiments.runs import build_run
from deepgrad.models import zoo

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from zoo_publish import publish

SHIPPED = [name for name, record in zoo.ZOO.items() if record.shipped]


def test_list_names_every_model_and_each_record_is_complete():
    assert dg.models.list() == list(zoo.ZOO)
    assert {"lenet5-mnist", "autoencoder-mnist", "char-lstm-alice"} <= set(SHIPPED)
    for record in zoo.ZOO.values():
        assert get_recipe(record.recipe).name == record.recipe
        assert "seed" in record.settings and record.data and record.metric
        assert len(record.sha256) == 64 and record.file.endswith(".safetensors")


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_the_zoo_builds_the_architecture_its_recipe_trains(name):
    record = zoo.entry(name)
    config = get_recipe(record.recipe).make_config(**record.settings)
    _, _, trained = build_run(config)
    ours = record.build()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in trained.state_dict().items()
    }


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_are_small_match_their_checksum_and_load(name):
    record = zoo.entry(name)
    path = zoo.WEIGHTS_DIR / record.file
    assert path.stat().st_size < 500_000
    assert file_digest(path) == record.sha256
    model = dg.models.get(name)
    saved = dg.load(path)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), saved[key].numpy())
    fresh = dg.models.get(name, pretrained=False)
    first = next(iter(saved))
    assert not np.array_equal(fresh.state_dict()[first].numpy(), saved[first].numpy())
    assert dg.io.load_metadata(path)["recipe"] == record.recipe  # the file says where it came from


def test_a_shipped_model_classifies_digits():
    model = dg.models.get("lenet5-mnist").eval()
    test = dg.data.MNIST(train=False)
    x = dg.tensor(test.data[:200].astype(np.float32)[:, None] / 255.0)
    with dg.no_grad():
        predicted = model(x).argmax(dim=1).numpy()
    assert (predicted == test.targets[:200]).mean() > 0.9


def test_unknown_names_and_damaged_shipped_files_are_refused(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="no model 'resnet-9000'.*lenet5-mnist"):
        dg.models.get("resnet-9000")
    record = zoo.entry("lenet5-mnist")
    damaged = bytearray((zoo.WEIGHTS_DIR / record.file).read_bytes())
    damaged[-1] ^= 1
    (tmp_path / record.file).write_bytes(bytes(damaged))
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ValueError, match="do not match their sha256.*reinstall"):
        dg.models.get("lenet5-mnist")


@pytest.mark.parametrize("name", SHIPPED)
def test_deepgrad_evaluate_reproduces_the_recorded_test_metric(name, capsys):
    code = main(["evaluate", name])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "reproduced" in out and "NOT" not in out


class _Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        if name not in self.files:
            self.send_error(404, "no such file")
            return
        body = self.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fetched_model(tmp_path, monkeypatch):
    """A small downloaded zoo model, trained and published here as the real ones were."""
    settings = {"epochs": 1, "seed": 3, "limit": 300, "options": {"hidden": [16]}}
    config = get_recipe("mnist-mlp").make_config(**settings)
    result = train_run(config, tmp_path / "run", progress=False, log=None, light=True, plots=False)
    path = publish(result.run_dir, "tiny-mlp", tmp_path)
    record = zoo.ZooEntry(
        name="tiny-mlp",
        summary="a 784-16-10 MLP trained for one epoch on 300 digits",
        build=lambda: dg.models.MLP([784, 16, 10]),
        recipe="mnist-mlp",
        settings=settings,
        data="the first 300 training digits of the embedded MNIST subset",
        metric="accuracy",
        value=result.test["accuracy"],
        file=path.name,
        sha256=file_digest(path),
        shipped=False,
    )
    monkeypatch.setitem(zoo.ZOO, "tiny-mlp", record)
    _Files.files = {path.name: path.read_bytes()}
    return record


def test_a_downloaded_model_is_checked_cached_and_reproduces_its_metric(
    fetched_model, server, tmp_path
):
    cache = tmp_path / "cache"
    model = dg.models.get("tiny-mlp", mirrors=[server + fetched_model.file], cache_dir=cache)
    assert (cache / fetched_model.file).is_file() and model.layers[0].weight.shape == (16, 784)
    # cached now: no mirror needed
    dg.models.get("tiny-mlp", mirrors=[server + "gone/nothing"], cache_dir=cache)
    record, results = evaluate_pretrained("tiny-mlp", mirrors=[], cache_dir=cache)
    assert results["accuracy"] == pytest.approx(record.value, abs=1e-9)


def test_a_download_with_the_wrong_checksum_leaves_no_file(fetched_model, server, tmp_path):
    _Files.files[fetched_model.file] = b"not the weights"
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="(?i)sha256 hash .* does not match"):
        dg.models.get("tiny-mlp", mirrors=[server + fetched_model.file], cache_dir=cache)
    assert not any(cache.iterdir())


def test_a_stale_cached_file_is_fetched_again(fetched_model, server, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / fetched_model.file).write_bytes(b"an older file")
    dg.models.get("tiny-mlp", mirrors=[server + fetched_model.file], cache_dir=cache)
    assert file_digest(cache / fetched_model.file) == fetched_model.sha256


def test_the_publish_tool_copies_a_run_with_its_record(fetched_model, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(tmp_path / fetched_model.file, copy / fetched_model.file)
    metadata = dg.io.load_metadata(copy / fetched_model.file)
    assert metadata["zoo"] == "tiny-mlp" and metadata["recipe"] == "mnist-mlp"
    assert metadata["settings"]["seed"] == 3
    assert metadata["test"]["accuracy"] == pytest.approx(fetched_model.value)
