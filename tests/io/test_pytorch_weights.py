"""Weights from PyTorch: every layer type round-trips torch -> (safetensors, torch.save) -> deepgrad
with the same outputs, and .pt files are read without running code (weights_only semantics)."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.io import SerializationError

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

pytestmark = pytest.mark.parity

RNG = np.random.default_rng(0)

# name: (constructor arguments, input shapes, input kind); both libraries take the same arguments
LAYERS = {
    "Linear": ((5, 3), [(4, 5)], "float"),
    "Conv1d": ((3, 4, 3), [(2, 3, 9)], "float"),
    "Conv2d": ((3, 4, 3), [(2, 3, 7, 7)], "float"),
    "ConvTranspose1d": ((3, 2, 3), [(2, 3, 6)], "float"),
    "ConvTranspose2d": ((3, 2, 3), [(2, 3, 5, 5)], "float"),
    "BatchNorm1d": ((4,), [(6, 4)], "float"),
    "BatchNorm2d": ((3,), [(2, 3, 4, 4)], "float"),
    "LayerNorm": ((6,), [(3, 6)], "float"),
    "GroupNorm": ((2, 4), [(2, 4, 3, 3)], "float"),
    "InstanceNorm2d": ((3,), [(2, 3, 4, 4)], "float"),
    "Embedding": ((10, 4), [(3, 5)], "index"),
    "PReLU": ((3,), [(2, 3, 4)], "float"),
    "RNN": ((4, 6, 2), [(5, 3, 4)], "float"),
    "LSTM": ((4, 6, 2), [(5, 3, 4)], "float"),
    "GRU": ((4, 6, 2), [(5, 3, 4)], "float"),
    "RNNCell": ((4, 6), [(3, 4)], "float"),
    "LSTMCell": ((4, 6), [(3, 4)], "float"),
    "GRUCell": ((4, 6), [(3, 4)], "float"),
    "MultiheadAttention": ((8, 2), [(5, 2, 8)] * 3, "float"),
    "TransformerEncoderLayer": ((8, 2, 16, 0.0), [(5, 2, 8)], "float"),
}
KWARGS = {
    "InstanceNorm2d": {"affine": True, "track_running_stats": True},
    "RNN": {"bidirectional": True},
    "LSTM": {"bias": False},
}


def _pair(name: str):
    args, shapes, kind = LAYERS[name]
    kwargs = KWARGS.get(name, {})
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs).eval()
    with torch.no_grad():
        for tensor in theirs.state_dict().values():
            if tensor.is_floating_point():  # random values everywhere, running statistics too
                tensor.copy_(torch.rand(tensor.shape) + 0.5)
    ours = getattr(nn, name)(*args, **kwargs).eval()
    if kind == "index":
        inputs = [RNG.integers(0, args[0], size=s) for s in shapes]
    else:
        inputs = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    return theirs, ours, inputs


def _first(output):
    return output[0] if isinstance(output, tuple) else output


def _save(theirs, how: str, folder) -> str:
    path = os.path.join(folder, "weights" + (".safetensors" if how == "safetensors" else ".pt"))
    if how == "safetensors":
        safetensors_torch.save_file(theirs.state_dict(), path)
    else:
        torch.save(theirs.state_dict(), path)
    return path


@pytest.mark.parametrize("how", ["safetensors", "pt"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_weights_from_pytorch_give_pytorch_outputs(name, how, tmp_path):
    theirs, ours, inputs = _pair(name)
    state = dg.load(_save(theirs, how, tmp_path))
    assert set(state) == set(ours.state_dict())  # the names match by design
    ours.load_state_dict(state)
    with torch.no_grad():
        expected = _first(theirs(*[torch.from_numpy(x) for x in inputs])).numpy()
    with dg.no_grad():
        got = _first(ours(*[dg.tensor(x) for x in inputs])).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_sequential_state_dict_from_torch_save_loads_with_its_dotted_names(tmp_path):
    torch.manual_seed(1)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU(), torch.nn.Flatten()
    ).eval()
    theirs[1].running_mean.uniform_()
    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten()).eval()
    ours.load_state_dict(dg.load(_save(theirs, "pt", tmp_path)))
    x = RNG.standard_normal((2, 1, 5, 5)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(dg.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_pt_reader_keeps_dtypes_views_parameters_and_plain_values(tmp_path):
    weight = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    saved = {
        "weight": weight,
        "column": weight[:, 1],  # a strided view of the same storage
        "transposed": weight.t(),
        "half": torch.ones(2, dtype=torch.float16),
        "count": torch.tensor(7),
        "flags": torch.tensor([True, False]),
        "param": torch.nn.Parameter(torch.ones(2)),
        "size": torch.Size([2, 3]),
        "device": torch.device("cpu"),
        "dtype": torch.float64,
        "plain": [1, 2.5, None, "text", (3, 4), {5, 6}, b"raw"],
    }
    if hasattr(torch, "bfloat16"):
        saved["bf16"] = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
    path = tmp_path / "mixed.pt"
    torch.save(saved, path)
    got = dg.load(path)
    for key in ("weight", "column", "transposed", "half", "count", "flags"):
        np.testing.assert_array_equal(got[key].numpy(), saved[key].numpy())
        assert got[key].dtype == np.dtype(str(saved[key].dtype).removeprefix("torch."))
    got["weight"].numpy()[0, 1] = 100.0  # tensors that shared a storage still share memory
    assert got["column"][0].item() == 100.0
    assert got["param"].requires_grad and not got["weight"].requires_grad
    assert got["size"] == (2, 3) and got["device"] == "cpu" and got["dtype"] == dg.float64
    assert got["plain"] == [1, 2.5, None, "text", (3, 4), {5, 6}, b"raw"]
    if "bf16" in saved:
        np.testing.assert_array_equal(got["bf16"].float().numpy(), [1.5, -2.0])


def _torch_zip(pickled: bytes, extra: dict[str, bytes] | None = None, compress: bool = False):
    """A .pt archive around ``pickled`` (and storages), laid out as torch.save lays it out."""
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for name, data in (extra or {}).items():
            archive.writestr(f"archive/data/{name}", data)
    return buffer.getvalue()


class _Evil:
    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_a_malicious_pt_is_refused_naming_the_global_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(_torch_zip(pickle.dumps({"weight": _Evil(str(marker))}, protocol=2)))
    with pytest.raises(SerializationError, match=r"calls the global (posix|os|nt)\.system"):
        dg.load(path)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):  # PyTorch's weights_only load refuses it too
        torch.load(path, weights_only=True)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload, name",
    [
        (b"\x80\x02cbuiltins\neval\nX\x06\x00\x00\x001 + 1\x85R.", "builtins.eval"),
        (b"\x80\x02ctorch.nn.modules.linear\nLinear\n)R.", "torch.nn.modules.linear.Linear"),
        (b"\x80\x02csubprocess\nPopen\n)R.", "subprocess.Popen"),
    ],
)
def test_globals_outside_the_allow_list_are_refused(payload, name, tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(_torch_zip(payload))
    with pytest.raises(SerializationError, match=f"calls the global {name}"):
        dg.load(path)


def test_a_whole_torch_module_is_refused_with_the_advice_to_save_its_state_dict(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(SerializationError, match="torch.nn.modules.linear.Linear.*state_dict"):
        dg.load(path)


def _rewrite(path, change):
    """Copy the torch.save archive at ``path`` through ``change(name, data) -> data``."""
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, change(name, data))
    return buffer.getvalue()


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"w": torch.ones(4, 4)}, path)
    cut = _rewrite(path, lambda name, data: data[:20] if name.endswith("data/0") else data)
    with pytest.raises(SerializationError, match="reaches element 15 of storage '0'"):
        dg.load(io.BytesIO(cut))


def test_big_endian_archives_are_read_in_native_order(tmp_path):
    path = tmp_path / "w.pt"
    values = torch.tensor([1.5, -2.25, 3.0])
    torch.save({"w": values}, path)

    def swap(name, data):
        if name.endswith("byteorder"):
            return b"big"
        if name.endswith("data/0"):
            return np.frombuffer(data, "<f4").astype(">f4").tobytes()
        return data

    got = dg.load(io.BytesIO(_rewrite(path, swap)))["w"]
    np.testing.assert_array_equal(got.numpy(), values.numpy())
    assert got.dtype == dg.float32


def test_compressed_entries_and_legacy_pickles_are_refused(tmp_path):
    stored = tmp_path / "w.pt"
    torch.save({"w": torch.ones(3)}, stored)
    with zipfile.ZipFile(stored) as archive:
        pickled = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    squeezed = _torch_zip(pickled, {"0": b"\0" * 12}, compress=True)
    with pytest.raises(SerializationError, match="compressed"):
        dg.load(io.BytesIO(squeezed))
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(3)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(SerializationError, match="bare pickle"):
        dg.load(legacy)


def test_damaged_archives_raise_serialization_errors_only(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"w": torch.ones(3)}, path)
    good = path.read_bytes()
    for cut in (30, len(good) // 2, len(good) - 10):
        with pytest.raises(SerializationError, match="not a readable zip archive"):
            dg.load(io.BytesIO(good[:cut]))  # the zip's directory sits at its end
    with pytest.raises(SerializationError, match="data.pkl"):
        dg.load(
            io.BytesIO(_rewrite(path, lambda name, data: data).replace(b"data.pkl", b"data.pkx"))
        )
    truncated_pickle = _rewrite(path, lambda n, d: d[: len(d) // 2] if n.endswith("pkl") else d)
    with pytest.raises(SerializationError, match="damaged pickle"):
        dg.load(io.BytesIO(truncated_pickle))


def test_load_state_dict_names_keys_of_a_dtype_that_cannot_be_copied():
    layer = nn.Linear(2, 2)
    state = {"weight": np.ones((2, 2), np.complex64), "bias": np.array(["a", "b"])}
    with pytest.raises(
        RuntimeError, match=r"weight: checkpoint complex64 vs model float32"
    ) as info:
        layer.load_state_dict(state)
    assert "bias: checkpoint <U1 vs model float32" in str(info.value)
    assert not np.array_equal(layer.weight.detach().numpy(), np.ones((2, 2)))  # left unchanged
    layer.load_state_dict({"weight": np.ones((2, 2), np.float64), "bias": np.zeros(2)})
    assert layer.weight.dtype == dg.float32
    np.testing.assert_array_equal(layer.weight.detach().numpy(), np.ones((2, 2)))


def test_empty_tensors_bare_tensors_and_tensors_with_attributes(tmp_path):
    with_attribute = torch.ones(2, 3)
    with_attribute.note = "kept by torch, dropped here"  # pickled via _rebuild_from_type_v2
    torch.save({"empty": torch.empty(0, 3), "tagged": with_attribute}, tmp_path / "a.pt")
    got = dg.load(tmp_path / "a.pt")
    assert got["empty"].shape == (0, 3)
    np.testing.assert_array_equal(got["tagged"].numpy(), np.ones((2, 3)))
    torch.save(torch.arange(3), tmp_path / "t.pt")
    assert dg.load(tmp_path / "t.pt").tolist() == [0, 1, 2]
