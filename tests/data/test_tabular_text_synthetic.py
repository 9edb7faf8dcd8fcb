"""CSV files (general, Kaggle digit recognizer, Iris), text corpora, and the synthetic problems."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import deepgrad
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.data.datasets import (
    CharVocabulary,
    CSVDataset,
    DataFormatError,
    DigitRecognizerCSV,
    Iris,
    TextDataset,
    load_corpus,
    load_iris,
    load_text,
    make_adding_problem,
    make_blobs,
    make_checkerboard,
    make_circles,
    make_copy_task,
    make_moons,
    make_polynomial,
    make_sine,
    make_sine_series,
    make_spirals,
    make_xor,
    read_digit_recognizer_csv,
    split_text,
)


# -- CSVDataset -------------------------------------------------------------------------------
def write(path, text):
    path.write_text(text)
    return path


def test_csv_named_columns_and_target_types(tmp_path):
    path = write(tmp_path / "t.csv", "a,b,c,label\n1,2,3,0\n4,5,6,1\n7,8,9,1\n")
    ds = CSVDataset(path, "label")
    x, y = ds.arrays
    assert x.dtype == np.float32 and x.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 1]
    assert ds.feature_names == ["a", "b", "c"] and ds.target_name == "label"
    sub = CSVDataset(path, "a", feature_columns=["c", "b"], target_dtype="float32")
    assert sub.arrays[0].tolist() == [[3, 2], [6, 5], [9, 8]] and sub.arrays[1].dtype == np.float32
    by_number = CSVDataset(path, 3, feature_columns=[0])
    assert by_number.arrays[0].tolist() == [[1], [4], [7]]
    unlabelled = CSVDataset(path, None)
    assert len(unlabelled.arrays) == 1 and unlabelled.arrays[0].shape == (3, 4)


def test_csv_category_target_gz_and_no_header(tmp_path):
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write('x,kind\n0.5,"cat"\n1.5,dog\n2.5,cat\n')
    ds = CSVDataset(path, "kind", target_dtype="category")
    assert ds.classes == ["cat", "dog"] and ds.arrays[1].tolist() == [0, 1, 0]
    plain = write(tmp_path / "n.csv", "1;2\n3;4\n")
    ds = CSVDataset(plain, 1, header=False, delimiter=";")
    assert ds.arrays[0].tolist() == [[1], [3]] and ds.arrays[1].tolist() == [2, 4]


@pytest.mark.parametrize(
    "body, column, message",
    [
        (
            "a,b,y\n1,2,0\n3,x,1\n",
            "y",
            r"bad\.csv: line 3, column 'b' \(number 1\): 'x' is not a number",
        ),
        ("a,b,y\n1,2,0\n3,,1\n", "y", r"bad\.csv: line 3, column 'b' .*an empty cell"),
        ("a,b,y\n1,2,0\n1,2,0\n3,1\n", "y", r"bad\.csv: line 4 has 2 cells but the header has 3"),
        (
            "a,b,y\n1,2,0\n",
            "label",
            r"bad\.csv: no target column 'label' in the header; the columns are 'a', 'b', 'y'",
        ),
        (
            "a,b,y\n1,2,0.5\n",
            "y",
            r"bad\.csv: target column 'y' holds non-integer values .*line 2.*target_dtype='float32'",
        ),
        (
            "a,b,y\n1,2,0\n3,4,oops\n",
            "y",
            r"line 3, column 'y' \(number 2\): 'oops' is not a number",
        ),
    ],
)
def test_csv_bad_files_name_file_line_and_column(tmp_path, body, column, message):
    path = write(tmp_path / "bad.csv", body)
    with pytest.raises(DataFormatError, match=message):
        CSVDataset(path, column)


def test_csv_missing_feature_column_and_file(tmp_path):
    path = write(tmp_path / "t.csv", "a,y\n1,0\n")
    with pytest.raises(DataFormatError, match="no feature column 'b'"):
        CSVDataset(path, "y", feature_columns=["a", "b"])
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        CSVDataset(tmp_path / "nope.csv", "y")
    with pytest.raises(ValueError, match="target_dtype must be one of"):
        CSVDataset(path, "y", target_dtype="string")


# -- Kaggle digit recognizer ------------------------------------------------------------------
def write_digits_csv(path, n=6, labelled=True, seed=0):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, 784))
    labels = rng.integers(0, 10, size=n)
    header = (["label"] if labelled else []) + [f"pixel{i}" for i in range(784)]
    lines = [",".join(header)]
    for row, label in zip(pixels, labels):
        cells = ([str(label)] if labelled else []) + [str(v) for v in row]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return pixels, labels


def test_digit_recognizer_train_and_test_csv(tmp_path):
    pixels, labels = write_digits_csv(tmp_path / "train.csv")
    ds = DigitRecognizerCSV(tmp_path / "train.csv")
    assert len(ds) == 6 and ds.targets.tolist() == labels.tolist()
    image, _label = ds[2]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    np.testing.assert_allclose(image.reshape(-1), pixels[2] / 255.0, rtol=1e-6)
    write_digits_csv(tmp_path / "test.csv", labelled=False)
    images, none = read_digit_recognizer_csv(tmp_path / "test.csv")
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8 and none is None
    with pytest.raises(DataFormatError, match="no 'label' column"):
        DigitRecognizerCSV(tmp_path / "test.csv")


def test_digit_recognizer_bad_files(tmp_path):
    write(tmp_path / "few.csv", "label,pixel0,pixel1\n1,0,0\n")
    with pytest.raises(DataFormatError, match=r"few\.csv: expected 784 pixel columns"):
        read_digit_recognizer_csv(tmp_path / "few.csv")
    write_digits_csv(tmp_path / "bad.csv")
    lines = (tmp_path / "bad.csv").read_text().splitlines()
    cells = lines[3].split(",")
    cells[5] = "300"
    lines[3] = ",".join(cells)
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataFormatError, match=r"bad\.csv: line 4, column 'pixel4': pixel value 300"
    ):
        read_digit_recognizer_csv(tmp_path / "bad.csv")


# -- Iris --------------------------------------------------------------------------------------
def test_iris_is_fishers_data():
    iris = Iris()
    x, y = load_iris()
    assert x.shape == (150, 4) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50, 50, 50]
    assert iris.classes == ["setosa", "versicolor", "virginica"]
    # the published summary statistics of the data (means and ranges, cm)
    np.testing.assert_allclose(x.mean(axis=0), [5.843, 3.057, 3.758, 1.199], atol=1e-3)
    np.testing.assert_allclose(x.min(axis=0), [4.3, 2.0, 1.0, 0.1], atol=1e-6)
    np.testing.assert_allclose(x.max(axis=0), [7.9, 4.4, 6.9, 2.5], atol=1e-6)
    # setosa is separable by petal length alone
    assert x[y == 0, 2].max() < x[y != 0, 2].min()


# -- text --------------------------------------------------------------------------------------
def test_vocabulary_round_trip_and_errors():
    v = CharVocabulary("hello, world")
    ids = v.encode("low, hero")
    assert ids.dtype == np.int64 and v.decode(ids) == "low, hero"
    assert v.decode(deepgrad.tensor(ids)) == "low, hero"
    with pytest.raises(KeyError, match="character 'z' is not in the vocabulary"):
        v.encode("zoo")
    with pytest.raises(IndexError, match="ids must lie in"):
        v.decode([99])
    unicode = CharVocabulary("naïve café")
    assert unicode.decode(unicode.encode("café")) == "café"
    assert CharVocabulary.from_state_dict(v.state_dict()).chars == v.chars


def test_text_dataset_windows_and_loader():
    text = "the quick brown fox jumps over the lazy dog. " * 3
    ds = TextDataset(text, seq_len=10, stride=4)
    assert len(ds) == (len(text) - 11) // 4 + 1
    x, y = ds[2]
    assert ds.vocab.decode(x) == text[8:18] and ds.vocab.decode(y) == text[9:19]
    bx, by = ds.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(bx[0], x)
    np.testing.assert_array_equal(by[1], ds[0][1])
    batches = list(DataLoader(ds, batch_size=5, shuffle=True))
    assert batches[0][0].shape == (5, 10) and batches[0][0].dtype == np.int64
    assert sum(b[0].shape[0] for b in batches) == len(ds)
    with pytest.raises(ValueError, match="fewer than seq_len"):
        TextDataset("abc", seq_len=5)


def test_shipped_corpus_is_the_real_book():
    text = load_corpus("alice")
    assert text.startswith("ALICE'S ADVENTURES IN WONDERLAND")
    assert "Down the Rabbit-Hole" in text and "THE END" in text[-200:]
    assert len(text) > 140_000 and "\r" not in text
    with pytest.raises(ValueError, match="unknown corpus"):
        load_corpus("moby")


def test_load_text_files(tmp_path):
    (tmp_path / "crlf.txt").write_bytes(b"line one\r\nline two\r\n")
    assert load_text(tmp_path / "crlf.txt") == "line one\nline two\n"
    with gzip.open(tmp_path / "t.txt.gz", "wt", encoding="utf-8") as f:
        f.write("zipped ✓")
    assert load_text(tmp_path / "t.txt.gz") == "zipped ✓"
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="not valid utf-8 at byte 3"):
        load_text(tmp_path / "latin.txt")
    assert TextDataset.from_file(tmp_path / "crlf.txt", seq_len=4).vocab.decode([0]) == "\n"


def test_split_text_is_consecutive():
    train, val = split_text("abcdefghij", (0.8, 0.2))
    assert (train, val) == ("abcdefgh", "ij")


# -- synthetic problems -------------------------------------------------------------------------
CLASSIFIERS = [make_xor, make_moons, make_circles, make_spirals, make_blobs, make_checkerboard]
REGRESSIONS = [make_sine, make_polynomial]


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_classification_problems_shapes_balance_and_seeds(make):
    x, y = make(400, generator=deepgrad.Generator().manual_seed(0))
    assert (
        x.shape == (400, 2) and x.dtype == np.float32 and y.shape == (400,) and y.dtype == np.int64
    )
    counts = np.bincount(y)
    assert counts.min() > 0.3 * 400 / len(counts)
    again = make(400, generator=deepgrad.Generator().manual_seed(0))
    other = make(400, generator=deepgrad.Generator().manual_seed(1))
    np.testing.assert_array_equal(again[0], x)
    assert not np.array_equal(other[0], x)
    ds = make(50, as_dataset=True)
    assert isinstance(ds, TensorDataset) and len(ds) == 50


def test_classes_are_interleaved():
    _, y = make_moons(200)
    assert 0 < y[:20].sum() < 20


def test_noise_free_geometry():
    x, y = make_xor(300, noise=0.0)
    assert np.all((x[:, 0] * x[:, 1] < 0) == (y == 1))
    x, y = make_moons(300, noise=0.0)
    upper = x[y == 0]
    lower = x[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert upper[:, 1].min() >= -1e-6 and lower[:, 1].max() <= 0.5 + 1e-6
    x, y = make_circles(300, noise=0.0, factor=0.3)
    np.testing.assert_allclose(np.hypot(*x.T), np.where(y == 0, 1.0, 0.3), atol=1e-6)
    x, y = make_checkerboard(300, tiles=2)
    np.testing.assert_array_equal(y, ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.int64))
    x, y = make_spirals(300, n_classes=3, noise=0.0, turns=1.0)
    r = np.hypot(*x.T)
    angle = np.arctan2(x[:, 1], x[:, 0])
    expected = 2 * np.pi * (r + y / 3)
    np.testing.assert_allclose(np.cos(angle - expected), 1.0, atol=1e-4)


def test_blobs_centres():
    centres = [[0, 0], [10, 10], [-10, 5]]
    x, y = make_blobs(3000, centers=centres, std=0.5)
    for k, c in enumerate(centres):
        np.testing.assert_allclose(x[y == k].mean(axis=0), c, atol=0.1)
        np.testing.assert_allclose(x[y == k].std(axis=0), 0.5, atol=0.05)
    x, _ = make_blobs(30, centers=4, dim=5)
    assert x.shape == (30, 5)


@pytest.mark.parametrize("make", REGRESSIONS)
def test_regression_problems(make):
    x, y = make(100, noise=0.0)
    assert x.shape == y.shape == (100, 1) and x.dtype == y.dtype == np.float32
    noisy = make(2000, noise=0.2)
    clean = (
        np.sin(noisy[0])
        if make is make_sine
        else np.polynomial.polynomial.polyval(noisy[0], [0.5, -1, 0, 2])
    )
    assert abs((noisy[1] - clean).std() - 0.2) < 0.02


def test_sine_and_polynomial_values():
    x, y = make_sine(50, noise=0.0)
    np.testing.assert_allclose(y, np.sin(x), atol=1e-6)
    x, y = make_polynomial(50, coefficients=[1, 0, -3], noise=0.0)
    np.testing.assert_allclose(y, 1 - 3 * x**2, atol=1e-5)


def test_adding_problem():
    x, y = make_adding_problem(200, seq_len=20)
    assert x.shape == (200, 20, 2) and y.shape == (200, 1)
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :10].sum(axis=1) == 1) and np.all(markers[:, 10:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1), rtol=1e-6)


def test_copy_task():
    x, y = make_copy_task(50, seq_len=5, n_symbols=4, delay=7)
    assert x.shape == y.shape == (50, 17) and x.dtype == np.int64
    np.testing.assert_array_equal(y[:, 12:], x[:, :5])
    assert np.all((x[:, :5] >= 1) & (x[:, :5] <= 4))
    # symbols at 0..4, delay - 1 = 6 blanks, the delimiter (5) at 11, then blanks while recalling
    assert np.all(x[:, 11] == 5) and np.all(x[:, 5:11] == 0) and np.all(x[:, 12:] == 0)
    assert np.all(y[:, :12] == 0)


def test_sine_series_windows_continue_each_other():
    x, y = make_sine_series(100, window=8, horizon=3, noise=0.1)
    assert x.shape == (100, 8, 1) and y.shape == (100, 3)
    np.testing.assert_array_equal(x[1, :-1, 0], x[0, 1:, 0])
    np.testing.assert_array_equal(y[0], x[8, :3, 0])
    clean, _ = make_sine_series(60, window=60, horizon=1, period=20.0, noise=0.0)
    spectrum = np.abs(np.fft.rfft(clean[0, :, 0]))
    assert spectrum.argmax() == 3  # 60 samples / period 20


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_moons(0), r"make_moons: n must be an int >= 2 \(got 0\)"),
        (lambda: make_xor(2.5), r"make_xor: n must be a positive int \(got float 2.5\)"),
        (lambda: make_circles(factor=1.5), "factor must lie in"),
        (lambda: make_xor(noise=-1), r"make_xor: noise must be >= 0 \(got -1\)"),
        (lambda: make_sine_series(10, period=0), r"make_sine_series: period must be > 0 \(got 0\)"),
        (lambda: make_spirals(n_classes=1), "n_classes"),
        (lambda: make_blobs(centers=[1, 2, 3]), r"\(k, dim\)"),
        (lambda: make_moons(generator=np.random.default_rng()), "deepgrad.Generator"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
