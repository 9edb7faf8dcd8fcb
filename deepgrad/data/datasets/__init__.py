"""Datasets: MNIST and friends (IDX files, downloads, the shipped subset), CSV files, Iris,
synthetic problems and text corpora."""

from deepgrad.data.datasets.download import data_home, download, file_digest
from deepgrad.data.datasets.errors import DataFormatError, DownloadError
from deepgrad.data.datasets.idx import read_idx, write_idx
from deepgrad.data.datasets.images import ImageArrayDataset
from deepgrad.data.datasets.mnist import MNIST, FashionMNIST, embedded_path, load_embedded_mnist
from deepgrad.data.datasets.synthetic import (
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
)
from deepgrad.data.datasets.tabular import (
    IRIS_CLASSES,
    IRIS_FEATURES,
    CSVDataset,
    DigitRecognizerCSV,
    Iris,
    load_iris,
    read_csv_header,
    read_digit_recognizer_csv,
)
from deepgrad.data.datasets.text import (
    CORPORA,
    CharVocabulary,
    TextDataset,
    load_corpus,
    load_text,
    split_text,
)
