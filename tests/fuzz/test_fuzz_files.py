"""Fuzzing the file readers with mutated valid files (seeded, time-boxed; issue 12, item 5).

Every reader gets valid files damaged by bit flips, truncation, inserted bytes and edits of its
header fields. Each call must return or raise the reader's documented error (never another
type), finish within ``TIMEOUT_S`` and allocate at most ``memory_bound(file)`` bytes, measured
with tracemalloc (NumPy reports its array buffers to it).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import signal
import struct
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad.data.datasets import (
    CSVDataset,
    DataFormatError,
    load_text,
    read_csv_header,
    read_idx,
    write_idx,
)
from deepgrad.data.datasets.tabular import read_digit_recognizer_csv
from deepgrad.io import SerializationError, load_metadata
from deepgrad.train.checkpoint import load_checkpoint, save_checkpoint

FUZZ = settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
TIMEOUT_S = 5
SLACK = 4 << 20  # interpreter and zlib buffers, the 1 MiB read chunks


@contextlib.contextmanager
def time_limit(seconds: int):
    """Fail (instead of hanging) when the body runs longer than ``seconds`` (SIGALRM, POSIX)."""

    def expire(signum, frame):
        raise TimeoutError(f"the reader ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_reader(read, path: Path, documented: tuple, bound: int) -> Exception | None:
    """``read(path)`` returns or raises ``documented`` naming the file, in time and within ``bound`` bytes.

    Returns the documented error it raised, or None.
    """
    caught = None
    tracemalloc.start()
    try:
        with time_limit(TIMEOUT_S), warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # e.g. NumPy's "loadtxt: input contained no data"
            read(path)
    except documented as error:
        assert path.name in str(error), f"the message does not name the file: {error}"
        caught = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= bound, (
        f"allocated {peak} bytes reading a {path.stat().st_size}-byte file (bound {bound})"
    )
    return caught


# -- mutations --------------------------------------------------------------------------------------
mutation = st.tuples(
    st.sampled_from(["flip", "truncate", "insert", "delete"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=8),
)


def mutate(data: bytes, mutations) -> bytes:
    out = bytearray(data)
    for kind, where, payload in mutations:
        pos = min(int(where * len(out)), max(len(out) - 1, 0))
        if kind == "flip" and out:
            out[pos] ^= 1 << (payload[0] % 8)
        elif kind == "truncate":
            del out[pos:]
        elif kind == "insert":
            out[pos:pos] = payload
        elif kind == "delete":
            del out[pos : pos + len(payload)]
    return bytes(out)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# -- deepgrad.load, load_metadata, load_checkpoint ------------------------------------------------------
def _valid_safetensors() -> bytes:
    buffer = io.BytesIO()
    state = {
        "model": {"w": dg.arange(12.0).reshape(3, 4), "b": dg.zeros(3, dtype="float64")},
        "step": 7,
    }
    dg.save({**state, "opt": [{"lr": 0.1, "m": (dg.ones(2, dtype="int64"), None)}]}, buffer)
    return buffer.getvalue()


VALID_ST = _valid_safetensors()
ST_BOUND = 3 * len(VALID_ST) + SLACK


@FUZZ
@given(st.lists(mutation, min_size=1, max_size=4))
def test_load_mutated_safetensors(folder, mutations):
    path = _write(folder, "mutated.safetensors", mutate(VALID_ST, mutations))
    bound = 3 * path.stat().st_size + SLACK
    check_reader(dg.load, path, (SerializationError,), bound)
    check_reader(load_metadata, path, (SerializationError,), bound)


big_ints = st.one_of(
    st.integers(-(2**70), 2**70), st.sampled_from([0, -1, 2**32, 2**63, 2**64, 10**15])
)
json_values = st.one_of(
    big_ints, st.none(), st.booleans(), st.text(max_size=4), st.lists(big_ints, max_size=4)
)


@FUZZ
@given(
    field=st.sampled_from(["dtype", "shape", "data_offsets"]),
    value=st.one_of(
        json_values,
        st.lists(big_ints, min_size=1, max_size=3),
        st.sampled_from(["BF16", "F8", "U64"]),
    ),
    structure_edit=st.one_of(st.none(), json_values.map(json.dumps)),
)
def test_load_with_edited_header_fields(folder, field, value, structure_edit):
    (length,) = struct.unpack("<Q", VALID_ST[:8])
    header = json.loads(VALID_ST[8 : 8 + length])
    key = sorted(k for k in header if k != "__metadata__")[0]
    header[key][field] = value
    if structure_edit is not None:
        header["__metadata__"]["deepgrad.structure"] = structure_edit
    text = json.dumps(header).encode()
    path = _write(
        folder, "edited.safetensors", struct.pack("<Q", len(text)) + text + VALID_ST[8 + length :]
    )
    check_reader(dg.load, path, (SerializationError,), ST_BOUND)


def _valid_checkpoint(folder: Path) -> bytes:
    path = folder / "valid_ck.safetensors"
    state = {
        "epoch": 1,
        "global_step": 3,
        "model": {"w": dg.ones(4)},
        "optimizer": {},
        "rng": {},
        "history": [],
    }
    save_checkpoint(state, path)
    return path.read_bytes()


@FUZZ
@given(st.lists(mutation, min_size=1, max_size=3))
def test_load_checkpoint_mutated(folder, mutations):
    path = _write(folder, "mutated_ck.safetensors", mutate(_valid_checkpoint(folder), mutations))
    check_reader(load_checkpoint, path, (SerializationError,), 3 * path.stat().st_size + SLACK)


# -- IDX ----------------------------------------------------------------------------------------------------
def _valid_idx(compressed: bool) -> bytes:
    buffer = io.BytesIO()
    array = np.arange(2 * 5 * 7, dtype=np.int16).reshape(2, 5, 7)
    header = bytes([0, 0, 0x0B, 3]) + struct.pack(">3I", *array.shape)
    raw = header + array.astype(">i2").tobytes()
    if compressed:
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as f:
            f.write(raw)
        return buffer.getvalue()
    return raw


def idx_bound(path: Path) -> int:
    # read_idx allocates the data once it has read it (plus one copy in native byte order)
    return 3 * max(path.stat().st_size, 1000) + SLACK


@FUZZ
@given(compressed=st.booleans(), mutations=st.lists(mutation, min_size=1, max_size=4))
def test_read_idx_mutated(folder, compressed, mutations):
    path = _write(
        folder,
        "mutated.idx" + (".gz" if compressed else ""),
        mutate(_valid_idx(compressed), mutations),
    )
    check_reader(read_idx, path, (DataFormatError,), idx_bound(path))


@FUZZ
@given(
    compressed=st.booleans(),
    code=st.integers(0, 255),
    dims=st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=40),
)
def test_read_idx_with_edited_header(folder, compressed, code, dims):
    header = bytes([0, 0, code, len(dims) % 256]) + struct.pack(f">{len(dims)}I", *dims)
    raw = header + bytes(range(256)) * 4
    data = gzip.compress(raw, mtime=0) if compressed else raw
    path = _write(folder, "edited.idx" + (".gz" if compressed else ""), data)
    check_reader(read_idx, path, (DataFormatError,), idx_bound(path))


def test_gzip_bomb_is_not_inflated_past_the_declared_size(folder):
    """A header declaring 1000 bytes, then 64 MB of zeros (64 KB compressed): refused without inflating."""
    header = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 1000)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as f:
        f.write(header)
        zeros = bytes(1 << 20)
        for _ in range(64):
            f.write(zeros)
    path = _write(folder, "bomb.idx.gz", buffer.getvalue())
    assert path.stat().st_size < 200_000
    start = time.perf_counter()
    error = check_reader(read_idx, path, (DataFormatError,), 2 * SLACK)
    assert error is not None and "unexpected bytes after the data" in str(error)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("compressed", [False, True])
def test_idx_header_declaring_1e15_elements_raises_quickly(folder, compressed):
    header = bytes([0, 0, 0x0D, 3]) + struct.pack(">3I", 100_000, 100_000, 100_000)
    raw = header + bytes(4096)
    path = _write(
        folder,
        "huge.idx" + (".gz" if compressed else ""),
        gzip.compress(raw) if compressed else raw,
    )
    start = time.perf_counter()
    error = check_reader(read_idx, path, (DataFormatError,), idx_bound(path))
    assert error is not None and "needs 4000000000000000 bytes" in str(error)
    assert time.perf_counter() - start < 1.0


def test_a_valid_gzip_idx_still_round_trips(folder):
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    write_idx(folder / "ok.idx.gz", array)
    assert np.array_equal(read_idx(folder / "ok.idx.gz"), array)


# -- CSV and text -------------------------------------------------------------------------------------------
CSV_TEXT = 'a,b,label\n1.0,2.5,0\n3,-4e-3,1\n"5",6,1\n'


def _read_csv_all_ways(path: Path) -> None:
    read_csv_header(path)
    for kwargs in (
        {"target_column": "label"},
        {"target_column": "label", "target_dtype": "category"},
        {"target_column": None},
        {"target_column": 0, "header": False, "target_dtype": "float32"},
    ):
        with contextlib.suppress(DataFormatError):
            CSVDataset(path, **kwargs)


@FUZZ
@given(compressed=st.booleans(), mutations=st.lists(mutation, min_size=1, max_size=4))
def test_csv_readers_mutated(folder, compressed, mutations):
    raw = CSV_TEXT.encode()
    data = mutate(gzip.compress(raw, mtime=0) if compressed else raw, mutations)
    path = _write(folder, "mutated.csv" + (".gz" if compressed else ""), data)
    check_reader(_read_csv_all_ways, path, (DataFormatError,), 64 * max(len(data), 100) + SLACK)
    check_reader(
        read_digit_recognizer_csv, path, (DataFormatError,), 64 * max(len(data), 100) + SLACK
    )


@FUZZ
@given(compressed=st.booleans(), mutations=st.lists(mutation, min_size=1, max_size=4))
def test_load_text_mutated(folder, compressed, mutations):
    raw = "Alice was beginning to get very tired\r\nof sitting by her sister \u00e9\n".encode()
    data = mutate(gzip.compress(raw, mtime=0) if compressed else raw, mutations)
    path = _write(folder, "mutated.txt" + (".gz" if compressed else ""), data)
    check_reader(load_text, path, (DataFormatError,), 16 * max(len(data), 1000) + SLACK)


@pytest.mark.parametrize("compressed", [False, True])
def test_idx_element_count_that_wraps_around_64_bits(folder, compressed):
    """65536**4 = 2**64 elements: a fixed-width product wraps to 0 and matches an empty data part."""
    raw = bytes([0, 0, 0x08, 4]) + struct.pack(">4I", *[65536] * 4)
    path = _write(
        folder,
        "wrap.idx" + (".gz" if compressed else ""),
        gzip.compress(raw) if compressed else raw,
    )
    error = check_reader(read_idx, path, (DataFormatError,), idx_bound(path))
    assert error is not None and f"needs {2**64} bytes" in str(error)
