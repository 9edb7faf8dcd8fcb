"""Tables in CSV files: ``CSVDataset``, the Kaggle digit-recognizer format, and the shipped Iris data.

Numbers are parsed by NumPy's C reader (``numpy.loadtxt``); when it fails, the file is
scanned once more in Python to report exactly where: the file, the line, the column
and the offending text. Nothing is half-loaded: a dataset is built only from a file
that parsed completely.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from deepgrad.backend.validation import one_of
from deepgrad.data.dataset import TensorDataset
from deepgrad.data.datasets.errors import DataFormatError
from deepgrad.data.datasets.images import ImageArrayDataset
from deepgrad.data.datasets.mnist import embedded_path

_TARGET_DTYPES = ("int64", "float32", "category")


def _open_text(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


# What a damaged file can make the readers below raise: bad gzip data, bad UTF-8, a csv module
# complaint (a NUL byte, a huge field). These become DataFormatError naming the file.
_DAMAGE = (EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError, csv.Error)


@contextlib.contextmanager
def _parsing(path: Path):
    """Turn the low-level errors of a damaged file into a DataFormatError that names the file."""
    try:
        yield
    except _DAMAGE as error:
        raise DataFormatError(
            f"{path}: the file is damaged or not a UTF-8 CSV file ({type(error).__name__}: {error}); "
            "fix it or fetch it again"
        ) from None


def read_csv_header(path: str | os.PathLike, delimiter: str = ",") -> list[str]:
    """The column names in the first line of a CSV file.

    Raises:
        DataFormatError: the file is empty, damaged (bad gzip data, not UTF-8) or not CSV.
    """
    path = Path(path)
    with _parsing(path), _open_text(path) as f:
        first = next(csv.reader(f, delimiter=delimiter), None)
    if not first:
        raise DataFormatError(
            f"{path}: the file is empty; a CSV file with a header line is expected"
        )
    return [name.strip() for name in first]


def _locate_bad_cell(
    path: Path, columns: list[int], names: list[str], delimiter: str, skip: int
) -> str | None:
    """Scan the file to describe the first cell that is not a number, or the first ragged row."""
    width = None
    with _parsing(path), _open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        for row in reader:
            if reader.line_num <= skip:
                width = len(row)
                continue
            if not row or all(not cell.strip() for cell in row):
                continue
            if width is None:
                width = len(row)
            if len(row) != width:
                first = "the header has" if skip else "line 1 has"
                return f"line {reader.line_num} has {len(row)} cells but {first} {width}"
            for col in columns:
                cell = row[col].strip()
                try:
                    float(cell)
                except ValueError:
                    what = "an empty cell" if not cell else f"{cell!r} is not a number"
                    return f"line {reader.line_num}, column {names[col]!r} (number {col}): {what}"
    return None


def _load_columns(
    path: Path, columns: list[int], names: list[str], delimiter: str, skip: int
) -> np.ndarray:
    """The given columns as a float64 (rows, len(columns)) array, or a DataFormatError saying where it broke."""
    try:
        with _parsing(path):
            return np.loadtxt(
                path,
                delimiter=delimiter,
                skiprows=skip,
                usecols=columns,
                dtype=np.float64,
                ndmin=2,
                quotechar='"',
                encoding="utf-8",
            )
    except DataFormatError:
        raise
    except ValueError as error:
        where = _locate_bad_cell(path, columns, names, delimiter, skip)
        raise DataFormatError(f"{path}: {where or error}; fix or remove that row") from None


def _resolve(path: Path, spec, names: list[str], what: str) -> int:
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if not -len(names) <= spec < len(names):
            raise DataFormatError(
                f"{path}: {what} column number {spec} is out of range: the file has {len(names)} columns"
            )
        return int(spec) % len(names)
    if spec not in names:
        shown = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
        raise DataFormatError(
            f"{path}: no {what} column {spec!r} in the header; the columns are {shown}"
        )
    return names.index(spec)


class CSVDataset(TensorDataset):
    """Rows of a CSV file as (features, target) samples.

    Args:
        path: the CSV file (``.gz`` allowed). The first line names the columns (see ``header``).
        target_column: name (or number) of the column to predict; None for unlabelled data
            (samples are then 1-tuples of features).
        feature_columns: names (or numbers) of the input columns. Default: all other columns.
        delimiter: the cell separator. Default: ",".
        header: whether the first line holds column names; without one, columns are numbered
            from 0 and named "0", "1", ... Default: True.
        target_dtype: "int64" (class indices), "float32" (regression) or "category" (text
            labels such as "setosa", mapped to indices in sorted order; see ``classes``).
            Default: "int64".
        transform, target_transform: as in ``TensorDataset``.

    Shape:
        features float32 (F,) per sample, (N, F) in ``arrays[0]``; target int64 or float32 scalar.

    Attributes:
        feature_names: the feature columns' names, in order.
        target_name: the target column's name.
        classes: for "category" targets, the label texts, index = class.

    Raises:
        DataFormatError: a missing column, a row with too few or too many cells, or a
            non-numeric cell; the message names the file, the line and the column.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        target_column: str | int | None,
        feature_columns: Sequence[str | int] | None = None,
        delimiter: str = ",",
        header: bool = True,
        target_dtype: str = "int64",
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ):
        path = Path(path)
        one_of(target_dtype, _TARGET_DTYPES, "target_dtype", "CSVDataset")
        if not path.is_file():
            raise FileNotFoundError(f"CSVDataset: no such file {path}")
        names = read_csv_header(path, delimiter)
        if not header:
            names = [str(i) for i in range(len(names))]
        skip = 1 if header else 0
        target = None if target_column is None else _resolve(path, target_column, names, "target")
        if feature_columns is None:
            features = [i for i in range(len(names)) if i != target]
        else:
            features = [_resolve(path, c, names, "feature") for c in feature_columns]
        if not features:
            raise DataFormatError(
                f"{path}: no feature columns left (the file has {len(names)} columns)"
            )
        x = _load_columns(path, features, names, delimiter, skip).astype(np.float32)
        self.path = path
        self.feature_names = [names[i] for i in features]
        self.target_name = None if target is None else names[target]
        self.classes = None
        if target is None:
            super().__init__(x, transform=transform, target_transform=target_transform)
            return
        y = self._load_target(path, target, names, delimiter, skip, target_dtype)
        if len(y) != len(x):
            raise DataFormatError(
                f"{path}: {len(x)} rows of features but {len(y)} targets; check for stray quotes"
            )
        super().__init__(x, y, transform=transform, target_transform=target_transform)

    def _load_target(self, path, target, names, delimiter, skip, target_dtype) -> np.ndarray:
        if target_dtype == "category":
            try:
                with _parsing(path):
                    texts = np.loadtxt(
                        path,
                        delimiter=delimiter,
                        skiprows=skip,
                        usecols=[target],
                        dtype=str,
                        ndmin=1,
                        quotechar='"',
                        encoding="utf-8",
                    )
            except DataFormatError:
                raise
            except ValueError as error:
                where = _locate_bad_cell(path, [], names, delimiter, skip)
                raise DataFormatError(f"{path}: {where or error}; fix or remove that row") from None
            texts = np.char.strip(texts)
            self.classes = sorted(set(texts.tolist()))
            return np.searchsorted(np.array(self.classes), texts).astype(np.int64)
        values = _load_columns(path, [target], names, delimiter, skip)[:, 0]
        if target_dtype == "float32":
            return values.astype(np.float32)
        if not np.all(values == np.round(values)):
            row = int(np.nonzero(values != np.round(values))[0][0])
            raise DataFormatError(
                f"{path}: target column {names[target]!r} holds non-integer values (e.g. {values[row]} on line "
                f"{row + skip + 1}); pass target_dtype='float32' for regression targets"
            )
        return values.astype(np.int64)

    def __repr__(self) -> str:
        target = f", target {self.target_name!r}" if self.target_name else ""
        return f"{type(self).__name__}({self.path.name}: {len(self)} rows, {len(self.feature_names)} features{target})"


def read_digit_recognizer_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle "Digit Recognizer" CSV: a ``label`` column (train.csv only), then ``pixel0..pixel783``.

    Returns:
        uint8 images (N, 28, 28) and int64 labels (N,), or None as labels for the unlabelled test.csv.
    """
    path = Path(path)
    names = read_csv_header(path)
    pixel_columns = [i for i, n in enumerate(names) if n != "label"]
    if len(pixel_columns) != 784:
        raise DataFormatError(
            f"{path}: expected 784 pixel columns (pixel0 .. pixel783) besides 'label' (got {len(pixel_columns)} "
            "columns); is this the digit-recognizer train.csv / test.csv?"
        )
    table = _load_columns(path, list(range(len(names))), names, ",", 1)
    pixels = table[:, pixel_columns]
    if pixels.size and (
        pixels.min() < 0 or pixels.max() > 255 or not np.all(pixels == np.round(pixels))
    ):
        bad = np.nonzero((pixels < 0) | (pixels > 255) | (pixels != np.round(pixels)))
        row, col = int(bad[0][0]), pixel_columns[int(bad[1][0])]
        raise DataFormatError(
            f"{path}: line {row + 2}, column {names[col]!r}: pixel value {pixels[row, pixel_columns.index(col)]} "
            "is not an integer in 0..255"
        )
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    if "label" not in names:
        return images, None
    labels = table[:, names.index("label")]
    if labels.size and (
        labels.min() < 0 or labels.max() > 9 or not np.all(labels == np.round(labels))
    ):
        row = int(np.nonzero((labels < 0) | (labels > 9) | (labels != np.round(labels)))[0][0])
        raise DataFormatError(
            f"{path}: line {row + 2}, column 'label': {labels[row]} is not a digit 0..9"
        )
    return images, labels.astype(np.int64)


class DigitRecognizerCSV(ImageArrayDataset):
    """MNIST digits from a Kaggle "Digit Recognizer" ``train.csv`` (label, then 784 pixels per row).

    This is the file seed 004's lab reads with ``pd.read_csv('train.csv')``. Samples are
    (image (1, 28, 28) float32 in [0, 1], label int64), as for ``MNIST``; ``raw``, ``flatten``
    and the transforms work the same way. For the unlabelled ``test.csv`` use
    ``read_digit_recognizer_csv``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        raw: bool = False,
        flatten: bool = False,
    ):
        images, labels = read_digit_recognizer_csv(path)
        if labels is None:
            raise DataFormatError(
                f"{path}: no 'label' column; this looks like the unlabelled test.csv: "
                "use read_digit_recognizer_csv(path) to get its images"
            )
        super().__init__(
            images,
            labels,
            transform,
            target_transform,
            raw,
            flatten,
            classes=[str(d) for d in range(10)],
        )


IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_CLASSES = ["setosa", "versicolor", "virginica"]


class Iris(CSVDataset):
    """Fisher's Iris flowers (1936), shipped with deepgrad: 150 samples, 4 features (cm), 3 species.

    Samples: (features float32 (4,): sepal length, sepal width, petal length, petal width;
    label int64: 0 setosa, 1 versicolor, 2 virginica). 50 of each, in that order.

    Example:
        >>> iris = Iris()
        >>> len(iris), iris.classes
        (150, ['setosa', 'versicolor', 'virginica'])
    """

    def __init__(self, transform: Callable | None = None, target_transform: Callable | None = None):
        super().__init__(
            embedded_path("iris.csv"),
            "species",
            IRIS_FEATURES,
            target_dtype="category",
            transform=transform,
            target_transform=target_transform,
        )


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """The Iris data as arrays: features float32 (150, 4) and labels int64 (150,)."""
    x, y = Iris().arrays
    return x, y


__all__ = [
    "CSVDataset",
    "DigitRecognizerCSV",
    "Iris",
    "load_iris",
    "read_csv_header",
    "read_digit_recognizer_csv",
    "IRIS_CLASSES",
    "IRIS_FEATURES",
]
