"""deepgrad.save / deepgrad.load: safetensors files, exact round trips, atomic writes, clear errors."""

from __future__ import annotations

import json
import math
import os
import struct
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import deepgrad as dg
import deepgrad.nn as nn
from deepgrad.io import SerializationError, load_metadata, serialization


def _same(a, b) -> bool:
    """Bit-identical arrays (NaN payloads included) of the same dtype and shape."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "checkpoint.safetensors"


def test_round_trip_is_bit_identical_for_every_dtype(path):
    rng = np.random.default_rng(0)
    weird = np.array([np.nan, -0.0, np.inf, -np.inf, 1e-45], dtype=np.float32)
    tensors = {
        "f32": dg.tensor(rng.standard_normal((3, 4)).astype(np.float32)),
        "f64": dg.tensor(rng.standard_normal(5)),
        "i64": dg.tensor(rng.integers(-(2**62), 2**62, size=(2, 2))),
        "bool": dg.tensor(rng.random(6) > 0.5),
        "scalar": dg.tensor(3.25, dtype="float64"),
        "scalar_int": dg.tensor(7),
        "empty": dg.zeros(0, 3),
        "special": dg.tensor(weird),
        "f16": dg.tensor(np.array([1.5, -2.0], dtype=np.float16)),
    }
    dg.save(tensors, path)
    loaded = dg.load(path)
    assert list(loaded) == list(tensors)
    for key, value in tensors.items():
        assert isinstance(loaded[key], dg.Tensor) and _same(loaded[key]._data, value._data), key
        assert not loaded[key].requires_grad


def test_non_contiguous_and_grad_tensors(path):
    base = dg.randn(4, 3, dtype="float64", requires_grad=True)
    view = dg.tensor(np.asfortranarray(np.arange(12.0).reshape(3, 4)))
    dg.save({"w": base, "t": view}, path)
    loaded = dg.load(path)
    assert _same(loaded["w"]._data, base._data) and np.array_equal(loaded["t"]._data, view._data)
    loaded["w"]._data[0, 0] = 1.0  # loaded arrays are writable and independent


def test_model_state_dict_round_trip(path):
    model = nn.Sequential(nn.Linear(4, 8), nn.Maxout(8, 3, pieces=2))
    dg.save(model.state_dict(), path)
    other = nn.Sequential(nn.Linear(4, 8), nn.Maxout(8, 3, pieces=2))
    other.load_state_dict(dg.load(path))
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), other.state_dict().items()):
        assert k1 == k2 and _same(v1._data, v2._data)
    # A model file is a plain safetensors file with the usual names.
    assert sorted(safetensors.numpy.load_file(str(path))) == sorted(model.state_dict())


def test_tied_weights_round_trip(path):
    enc = nn.Linear(5, 3)
    model = nn.Sequential(enc, nn.TiedLinear(enc))
    dg.save(model.state_dict(), path)
    fresh_enc = nn.Linear(5, 3)
    fresh = nn.Sequential(fresh_enc, nn.TiedLinear(fresh_enc))
    fresh.load_state_dict(dg.load(path))
    assert fresh[1].weight is fresh[0].weight and _same(fresh[0].weight._data, enc.weight._data)


def test_nested_structure_with_json_values(path):
    state = {
        "epoch": 12,
        "model": OrderedDict([("0.weight", dg.ones(2, 2)), ("0.bias", dg.zeros(2))]),
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": dg.randn(2, 2, dtype="float64")}, 1: {"step": 3}},
            "param_groups": [
                {
                    "lr": 1e-3,
                    "betas": (0.9, 0.999),
                    "params": [0, 1],
                    "amsgrad": False,
                    "name": None,
                }
            ],
        },
        "history": [0.5, float("nan"), float("inf"), -float("inf")],
        "array": np.arange(4, dtype=np.int32),
        "numpy_scalar": np.float64(2.5),
    }
    dg.save(state, path)
    loaded = dg.load(path)
    assert loaded["epoch"] == 12 and isinstance(loaded["epoch"], int)
    assert list(loaded["model"]) == ["0.weight", "0.bias"]
    opt = loaded["optimizer"]
    assert list(opt["state"]) == [0, 1]  # int keys stay ints
    assert _same(opt["state"][0]["exp_avg"]._data, state["optimizer"]["state"][0]["exp_avg"]._data)
    assert opt["param_groups"][0]["betas"] == (0.9, 0.999) and isinstance(
        opt["param_groups"][0]["betas"], tuple
    )
    assert opt["param_groups"][0]["amsgrad"] is False and opt["param_groups"][0]["name"] is None
    history = loaded["history"]
    assert (
        history[0] == 0.5
        and math.isnan(history[1])
        and history[2] == math.inf
        and history[3] == -math.inf
    )
    assert isinstance(loaded["array"], np.ndarray) and _same(loaded["array"], state["array"])
    assert loaded["numpy_scalar"] == 2.5
    # The structure record is standard JSON (no NaN tokens), readable by any tool.
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    json.loads(
        header["__metadata__"]["deepgrad.structure"],
        parse_constant=lambda c: pytest.fail(f"non-JSON {c}"),
    )


def test_colliding_dotted_keys_are_kept_apart(path):
    state = {"a.b": dg.ones(1), "a": {"b": dg.zeros(1)}}
    dg.save(state, path)
    loaded = dg.load(path)
    assert float(loaded["a.b"]) == 1.0 and float(loaded["a"]["b"]) == 0.0


def test_metadata(path):
    dg.save({"w": dg.ones(1)}, path, metadata={"epoch": 3, "note": "best"})
    assert load_metadata(path) == {"epoch": 3, "note": "best"}
    dg.save({"w": dg.ones(1)}, path)
    assert load_metadata(path) is None
    with pytest.raises(SerializationError, match="metadata must be JSON-able"):
        dg.save({"w": dg.ones(1)}, path, metadata={"f": object()})


def test_foreign_safetensors_file_loads_flat(path):
    arrays = {
        "layer.weight": np.ones((2, 2), dtype=np.float32),
        "layer.bias": np.zeros(2, dtype=np.float32),
    }
    safetensors.numpy.save_file(arrays, str(path))
    loaded = dg.load(path)
    assert set(loaded) == set(arrays) and all(isinstance(v, dg.Tensor) for v in loaded.values())
    assert _same(loaded["layer.weight"]._data, arrays["layer.weight"])


def test_unsaveable_objects_are_refused(path):
    with pytest.raises(
        SerializationError,
        match="cannot save a Linear at the top level; save model.state_dict\\(\\)",
    ):
        dg.save(nn.Linear(2, 2), path)
    with pytest.raises(SerializationError, match="cannot save a set at key opt.x"):
        dg.save({"opt": {"x": {1, 2}}}, path)
    with pytest.raises(SerializationError, match="dict keys must be str or int"):
        dg.save({(1, 2): dg.ones(1)}, path)
    assert not path.exists()


def test_garbage_and_truncated_files_give_clear_errors(path, tmp_path):
    garbage = tmp_path / "notes.txt"
    garbage.write_bytes(b"these are not the weights you are looking for")
    with pytest.raises(SerializationError, match="notes.txt.*not a complete safetensors file"):
        dg.load(garbage)
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(b"abc")
    with pytest.raises(SerializationError, match="tiny.safetensors.*only 3 bytes"):
        dg.load(tiny)
    dg.save({"w": dg.randn(100)}, path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[:-17])
    with pytest.raises(SerializationError, match="truncated.safetensors.*may be truncated"):
        dg.load(truncated)
    header_cut = tmp_path / "cut.safetensors"
    header_cut.write_bytes(data[:20])
    with pytest.raises(SerializationError, match="cut.safetensors"):
        dg.load(header_cut)
    with pytest.raises(FileNotFoundError):
        dg.load(tmp_path / "missing.safetensors")


def test_failed_write_keeps_the_previous_file(path, monkeypatch):
    dg.save({"w": dg.ones(3)}, path, metadata={"version": 1})
    before = path.read_bytes()

    def half_then_crash(f, data):
        f.write(data[: len(data) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(serialization, "_write_chunks", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        dg.save({"w": dg.zeros(1000)}, path, metadata={"version": 2})
    assert path.read_bytes() == before
    assert load_metadata(path) == {"version": 1}
    assert sorted(os.listdir(path.parent)) == [path.name]  # temporary file cleaned up


def test_write_replaces_atomically_and_leaves_no_temporaries(path):
    dg.save({"w": dg.ones(2)}, path)
    dg.save({"w": dg.zeros(2)}, str(path))
    assert float(dg.load(str(path))["w"].sum()) == 0.0
    assert os.listdir(path.parent) == [path.name]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dg.save({"w": dg.ones(1)}, path.parent / "no_such_dir" / "x.safetensors")


def test_map_location_cpu(path):
    dg.save({"w": dg.ones(2)}, path)
    assert dg.load(path, map_location="cpu")["w"].device.type == "cpu"


@pytest.mark.parity
def test_torch_can_read_a_model_file(path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = nn.Sequential(nn.Linear(3, 2))
    dg.save(model.state_dict(), path)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2))
    theirs.load_state_dict(safetensors_torch.load_file(str(path)))
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    assert np.allclose(
        theirs(torch.from_numpy(x)).detach().numpy(), model(dg.tensor(x))._data, atol=1e-6
    )
