"""Datasets: MNIST and friends (IDX files, downloads, the shipped subset), CSV files, Iris,
synthetic problems and text corpora."""

from deepgrad.data.datasets.download import data_home, download, file_digest
from deepgrad.data.datasets.errors import DataFormatError, DownloadError
from deepgrad.data.datasets.idx import read_idx, write_idx
from deepgrad.data.datasets.images import ImageArrayDataset
from deepgrad.data.datasets.mnist import MNIST, FashionMNIST, embedded_path, load_embedded_mnist
