"""IDX reader/writer on files the tests write; MNIST from files and from the shipped subset."""

from __future__ import annotations

import gzip
import struct
import warnings

import numpy as np
import pytest

from deepgrad.data import DataLoader
from deepgrad.data.datasets import MNIST, DataFormatError, FashionMNIST, read_idx, write_idx
from deepgrad.data.datasets import mnist as mnist_module


def idx_bytes(code: int, shape: tuple, payload: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


# -- read_idx on hand-built files ------------------------------------------------------------
def test_read_idx_hand_built_uint8_images(tmp_path):
    values = bytes(range(24))
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(idx_bytes(0x08, (2, 3, 4), values))
    array = read_idx(path)
    assert array.shape == (2, 3, 4) and array.dtype == np.uint8
    assert array[1, 2, 3] == 23 and array[0, 1, 0] == 4


def test_read_idx_big_endian_types(tmp_path):
    cases = {
        0x09: (np.dtype("int8"), struct.pack(">3b", -1, 0, 5)),
        0x0B: (np.dtype("int16"), struct.pack(">3h", -300, 2, 1000)),
        0x0C: (np.dtype("int32"), struct.pack(">3i", -70000, 0, 123456)),
        0x0D: (np.dtype("float32"), struct.pack(">3f", 1.5, -2.25, 0.0)),
        0x0E: (np.dtype("float64"), struct.pack(">3d", 1e-300, 3.0, -0.5)),
    }
    expected = {
        0x09: [-1, 0, 5],
        0x0B: [-300, 2, 1000],
        0x0C: [-70000, 0, 123456],
        0x0D: [1.5, -2.25, 0.0],
        0x0E: [1e-300, 3.0, -0.5],
    }
    for code, (dtype, payload) in cases.items():
        path = tmp_path / f"t{code}.idx"
        path.write_bytes(idx_bytes(code, (3,), payload))
        array = read_idx(path)
        assert array.dtype == dtype and array.dtype.isnative
        assert array.tolist() == expected[code]


def test_read_idx_gzip_is_recognised_by_content(tmp_path):
    path = tmp_path / "labels-without-gz-suffix"
    path.write_bytes(gzip.compress(idx_bytes(0x08, (4,), bytes([3, 1, 4, 1]))))
    assert read_idx(path).tolist() == [3, 1, 4, 1]


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_then_read_round_trips(tmp_path, dtype, suffix):
    array = (np.arange(60).reshape(3, 4, 5) % 97).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


# -- corrupt files fail clearly, naming the file and the offset -----------------------------
def test_wrong_magic_number(tmp_path):
    path = tmp_path / "notidx.bin"
    path.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(DataFormatError, match=r"notidx\.bin.*not an IDX file.*offset 0"):
        read_idx(path)


def test_unknown_type_code(tmp_path):
    path = tmp_path / "badcode.idx"
    path.write_bytes(idx_bytes(0x07, (2,), b"\x00\x00"))
    with pytest.raises(
        DataFormatError, match=r"badcode\.idx.*unknown IDX type code 0x07 at offset 2"
    ):
        read_idx(path)


def test_truncated_data(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(idx_bytes(0x08, (10, 28, 28), bytes(7000)))
    with pytest.raises(
        DataFormatError, match=r"short\.idx.*truncated.*needs 7840 bytes.*has 7000.*offset 7016"
    ):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "header.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + b"\x00\x00")
    with pytest.raises(DataFormatError, match=r"header\.idx.*truncated inside the header"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "long.idx"
    path.write_bytes(idx_bytes(0x08, (3,), bytes(5)))
    with pytest.raises(DataFormatError, match=r"long\.idx.*2 unexpected bytes.*offset 11"):
        read_idx(path)


def test_damaged_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(0x08, (1000,), bytes(range(250)) * 4))[:-30])
    with pytest.raises(DataFormatError, match=r"cut\.gz.*gzip stream is damaged or truncated"):
        read_idx(path)


# -- MNIST from files --------------------------------------------------------------------------
def write_mnist(folder, n_train=12, n_test=5, gz=True):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    data = {}
    for stem, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        write_idx(folder / f"{stem}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{stem}-labels-idx1-ubyte{suffix}", labels)
        data[stem] = (images, labels)
    return data


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_local_files(tmp_path, gz):
    data = write_mnist(tmp_path / "digits", gz=gz)
    train = MNIST(root=tmp_path / "digits", train=True)
    test = MNIST(root=tmp_path / "digits", train=False)
    assert train.source == "files" and len(train) == 12 and len(test) == 5
    image, label = train[3]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    np.testing.assert_allclose(image[0], data["train"][0][3] / 255.0, rtol=1e-6)
    assert label == data["train"][1][3] and train.targets.dtype == np.int64
    raw = MNIST(root=tmp_path / "digits", raw=True, flatten=True)
    np.testing.assert_array_equal(raw[0][0], data["train"][0][0].reshape(784))
    x, y = next(iter(DataLoader(test, batch_size=5)))
    assert x.shape == (5, 1, 28, 28) and y.tolist() == data["t10k"][1].tolist()


def test_mnist_files_in_a_named_subfolder_and_the_cache(tmp_path, monkeypatch):
    write_mnist(tmp_path / "cache" / "mnist")
    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path / "cache"))
    assert MNIST().source == "files"
    assert MNIST(root=tmp_path / "cache").source == "files"


def test_mnist_images_and_labels_of_different_counts(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))
    with pytest.raises(
        DataFormatError, match=r"train-images-idx3-ubyte\.gz has 12 images but .*has 11 labels"
    ):
        MNIST(root=tmp_path)


def test_mnist_swapped_files_are_caught(tmp_path):
    write_mnist(tmp_path)
    labels = read_idx(tmp_path / "train-labels-idx1-ubyte.gz")
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", labels)
    with pytest.raises(DataFormatError, match="expected uint8 images of shape"):
        MNIST(root=tmp_path)


def test_missing_files_say_which_files_to_put_where(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(root=tmp_path, train=False)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert str(tmp_path) in message and "download=True" in message
    with pytest.raises(FileNotFoundError, match="ships no copy"):
        FashionMNIST(root=tmp_path)


# -- the shipped subset ------------------------------------------------------------------------
@pytest.fixture
def no_local_mnist(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(mnist_module, "_warned", set())


def test_embedded_mnist_counts_range_classes(no_local_mnist):
    with pytest.warns(UserWarning, match="using the MNIST subset shipped with deepgrad"):
        train = MNIST()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once per process, not again
        test = MNIST(train=False)
    assert train.source == test.source == "embedded"
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(train.targets).tolist() == [400] * 10
    assert np.bincount(test.targets).tolist() == [100] * 10
    x, _ = train.arrays()
    assert x.shape == (4000, 1, 28, 28) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    # digits are dark background with bright strokes: most pixels are 0, each image has ink
    assert (x == 0).mean() > 0.7 and (x.reshape(4000, -1).max(axis=1) > 0.9).all()
    # train and test are different images
    train_rows = {r.tobytes() for r in train.data}
    assert not any(r.tobytes() in train_rows for r in test.data)


def test_embedded_mnist_nearest_class_mean_beats_75_percent(no_local_mnist):
    with pytest.warns(UserWarning):
        train = MNIST(flatten=True)
    xtr, ytr = train.arrays()
    xte, yte = MNIST(train=False, flatten=True).arrays()
    means = np.stack([xtr[ytr == c].mean(axis=0) for c in range(10)])
    distances = ((xte[:, None, :] - means[None]) ** 2).sum(axis=2)
    accuracy = (distances.argmin(axis=1) == yte).mean()
    assert accuracy > 0.75
