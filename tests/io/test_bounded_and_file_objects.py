"""deepgrad.save / load: file objects, PyTorch's keyword arguments, whole-object refusals, and the
bounded reader (sizes, offsets, dtype names, depth) that raises only SerializationError."""

from __future__ import annotations

import io
import json
import struct
import time

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.optim as optim
from deepgrad.io import MAX_DEPTH, SerializationError, load_metadata
from deepgrad.io.reader import MAX_HEADER_BYTES
from deepgrad.train.checkpoint import load_checkpoint


def _file(header: dict, data: bytes = b"") -> bytes:
    """A safetensors file made by hand from a header dict and the data bytes."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


# -- file objects and PyTorch's arguments ----------------------------------------------------------
def test_save_and_load_through_bytesio():
    buffer = io.BytesIO()
    dg.save({"w": dg.arange(6.0).reshape(2, 3), "step": 4}, buffer, metadata={"note": "x"})
    buffer.seek(0)
    loaded = dg.load(buffer)
    assert loaded["step"] == 4 and loaded["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    buffer.seek(0)
    assert load_metadata(buffer) == {"note": "x"}


def test_save_and_load_through_open_files(tmp_path):
    path = tmp_path / "m.safetensors"
    model = nn.Linear(3, 2)
    with open(path, "wb") as f:
        dg.save(model.state_dict(), f)
    with open(path, "rb") as f:
        state = dg.load(f, map_location="cpu", weights_only=True)
    assert np.array_equal(state["weight"].numpy(), model.weight.detach().numpy())
    assert dg.load(path, weights_only=False)["bias"].shape == (2,)


def test_text_mode_files_are_refused_with_the_fix(tmp_path):
    path = tmp_path / "t.safetensors"
    with (
        open(path, "w") as f,
        pytest.raises(SerializationError, match="text mode; open it with mode 'wb'"),
    ):
        dg.save({"w": dg.ones(1)}, f)
    dg.save({"w": dg.ones(1)}, path)
    with (
        open(path, encoding="latin-1") as f,
        pytest.raises(SerializationError, match="t.safetensors.*'rb'"),
    ):
        dg.load(f)


def test_damaged_file_object_names_the_file(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x05" * 40)
    with open(path, "rb") as f, pytest.raises(SerializationError, match="bad.safetensors"):
        dg.load(f)
    with pytest.raises(SerializationError, match="<BytesIO>"):
        dg.load(io.BytesIO(b"\x00" * 3))


def test_whole_module_or_optimizer_points_to_state_dict(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(
        SerializationError, match=r"save model\.state_dict\(\) instead of the whole Sequential"
    ):
        dg.save(model, tmp_path / "m.safetensors")
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(
        SerializationError, match=r"optimizer\.state_dict\(\).*optimizer\.load_state_dict"
    ):
        dg.save({"opt": opt}, io.BytesIO())
    assert not (tmp_path / "m.safetensors").exists()


# -- depth ----------------------------------------------------------------------------------------
def _nested(depth: int):
    obj: object = 1
    for _ in range(depth):
        obj = [obj]
    return obj


def test_depth_limit_round_trip_and_refusals():
    buffer = io.BytesIO()
    dg.save(_nested(MAX_DEPTH), buffer)
    buffer.seek(0)
    assert dg.load(buffer) == _nested(MAX_DEPTH)
    with pytest.raises(SerializationError, match=f"deeper than {MAX_DEPTH} levels"):
        dg.save(_nested(MAX_DEPTH + 1), io.BytesIO())
    loop: list = []
    loop.append(loop)
    with pytest.raises(SerializationError, match="self-referencing"):
        dg.save(loop, io.BytesIO())


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deeply_nested_structure_raises_serialization_error(depth):
    structure = "[" * depth + "]" * depth
    metadata = {"format": "deepgrad", "deepgrad.structure": structure}
    with pytest.raises(SerializationError, match="nest"):
        dg.load(io.BytesIO(_file({"__metadata__": metadata})))
    # ... and the same depth in the safetensors header itself
    deep_header = b"[" * depth + b"]" * depth
    with pytest.raises(SerializationError, match="not valid JSON: nested too deeply|malformed"):
        dg.load(io.BytesIO(struct.pack("<Q", len(deep_header)) + deep_header))


# -- header sizes, offsets, dtypes -------------------------------------------------------------
def test_element_count_that_overflows_int64_is_refused_quickly():
    shape = [2**40, 2**40, 2**40]  # 2**120 elements: overflows any fixed-width product
    start = time.perf_counter()
    with pytest.raises(SerializationError, match=r"tensor 'x'.*bytes"):
        dg.load(
            io.BytesIO(
                _file({"x": {"dtype": "F32", "shape": shape, "data_offsets": [0, 8]}}, bytes(8))
            )
        )
    assert time.perf_counter() - start < 1.0


def test_declared_1e15_elements_raise_before_allocating():
    n = 10**15
    header = {"x": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}
    start = time.perf_counter()
    with pytest.raises(SerializationError, match=r"outside the 16 bytes the file holds"):
        dg.load(io.BytesIO(_file(header, bytes(16))))
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}, "8 bytes\\) but 12 bytes"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}, "outside the 16 bytes"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [4, 0]}, "outside"),
        ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, "invalid shape"),
        ({"dtype": "F32", "shape": [1] * 40, "data_offsets": [0, 4]}, "at most 32"),
        ({"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}, "invalid shape"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0]}, "invalid data_offsets"),
        ({"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}, "unknown dtype 'Q7'.*F32"),
        ({"dtype": None, "shape": [2], "data_offsets": [0, 8]}, "unknown dtype None"),
        ("F32", "malformed header entry"),
    ],
)
def test_inconsistent_header_entries_are_named(entry, message):
    with pytest.raises(SerializationError, match="<BytesIO>': tensor 'x'.*" + message):
        dg.load(io.BytesIO(_file({"x": entry}, bytes(16))))


def test_header_length_beyond_file_and_over_the_limit(tmp_path):
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(
        SerializationError, match="h.safetensors.*header of 1000 bytes, file of 10 bytes"
    ):
        dg.load(path)
    with pytest.raises(SerializationError, match="header of 1000 bytes"):
        load_metadata(path)
    big = MAX_HEADER_BYTES + 1
    blob = struct.pack("<Q", big) + b" " * big
    with pytest.raises(SerializationError, match=f"more than the {MAX_HEADER_BYTES}"):
        dg.load(io.BytesIO(blob))


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"format": 3}, "metadata record"),
        ({"format": "deepgrad", "deepgrad.structure": "{not json"}, "damaged structure record"),
        ({"format": "deepgrad", "deepgrad.structure": '{"__tensor__": ["x"]}'}, "unknown entry"),
        ({"format": "deepgrad", "deepgrad.structure": '{"__dict__": [[[1], 2]]}'}, "unknown entry"),
        ({"format": "deepgrad", "deepgrad.structure": '{"__float__": "1e999x"}'}, "unknown entry"),
        (
            {"format": "deepgrad", "deepgrad.structure": '{"__tensor__": "nope"}'},
            "names tensor 'nope'",
        ),
    ],
)
def test_damaged_structure_records(metadata, message):
    with pytest.raises(SerializationError, match=message):
        dg.load(io.BytesIO(_file({"__metadata__": metadata})))


def test_header_that_is_not_an_object():
    with pytest.raises(SerializationError, match="a JSON list, not an object"):
        dg.load(io.BytesIO(_file([1, 2])))  # type: ignore[arg-type]


def test_a_foreign_file_with_every_supported_dtype_loads():
    parts, header, offset = [], {}, 0
    for code, dt in [("BOOL", "?"), ("U16", "<u2"), ("I32", "<i4"), ("U64", "<u8"), ("F16", "<f2")]:
        raw = np.arange(3).astype(dt).tobytes()
        header[code] = {"dtype": code, "shape": [3], "data_offsets": [offset, offset + len(raw)]}
        parts.append(raw)
        offset += len(raw)
    header["empty"] = {"dtype": "F64", "shape": [0, 5], "data_offsets": [offset, offset]}
    loaded = dg.load(io.BytesIO(_file(header, b"".join(parts))))
    assert loaded["I32"].tolist() == [0, 1, 2] and loaded["BOOL"].tolist() == [False, True, True]
    assert loaded["empty"].shape == (0, 5) and loaded["F16"].dtype == np.float16


# -- checkpoints ------------------------------------------------------------------------------------
def test_checkpoint_load_errors_are_serialization_errors(tmp_path):
    path = tmp_path / "ck.safetensors"
    dg.save({"w": dg.ones(1)}, path)
    with pytest.raises(SerializationError, match="ck.safetensors.*not a Trainer checkpoint"):
        load_checkpoint(path)
    dg.save([1, 2], path, metadata={"kind": "deepgrad.train.checkpoint", "version": 1})
    with pytest.raises(SerializationError, match="ck.safetensors.*lacks epoch"):
        load_checkpoint(path)
    dg.save({}, path, metadata={"kind": "deepgrad.train.checkpoint", "version": 99})
    with pytest.raises(SerializationError, match="version 99"):
        load_checkpoint(path)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(SerializationError, match="ck.safetensors"):
        load_checkpoint(path)
