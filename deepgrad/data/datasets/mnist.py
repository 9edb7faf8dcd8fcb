"""MNIST and Fashion-MNIST: from local IDX files, from the network, or (MNIST) from the package.

Where the files are looked for, in order: ``root`` (or, when ``root`` is None, the
cache folder ``$DEEPGRAD_DATA/<name>``, default ``~/.cache/deepgrad/<name>``), then
``<that folder>/<name>``. Each of the four standard files may be gzip-compressed or not.

With ``root=None`` and no files found (and no network, when ``download=True``),
``MNIST`` uses the real MNIST subset shipped inside deepgrad: 5 000 digits, 500 per
class, split deterministically into 4 000 training and 1 000 test images (within
each class, every 5th image goes to the test split: 400/100 per class). It says so
once per process (a ``UserWarning``). Source and licence: ``deepgrad/data/embedded/README.md``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np

from deepgrad.backend.validation import boolean
from deepgrad.data.datasets.download import data_home
from deepgrad.data.datasets.download import download as download_file
from deepgrad.data.datasets.errors import DataFormatError, DownloadError
from deepgrad.data.datasets.idx import read_idx
from deepgrad.data.datasets.images import ImageArrayDataset

_SPLIT_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_warned: set[str] = set()


def embedded_path(filename: str) -> Path:
    """The path of a file shipped in ``deepgrad/data/embedded``."""
    return Path(str(resources.files("deepgrad.data").joinpath("embedded", filename)))


def load_embedded_mnist(train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The shipped MNIST subset: uint8 images (N, 28, 28) and int64 labels (N,).

    ``train=True`` gives 4 000 images (400 per digit), ``train=False`` 1 000 (100 per digit);
    within each digit's images, in file order, every 5th goes to the test split.
    """
    with np.load(embedded_path("mnist_5k.npz")) as archive:
        images, labels = archive["images"], archive["labels"].astype(np.int64)
    position = np.empty(len(labels), dtype=np.int64)
    for digit in range(10):
        members = np.nonzero(labels == digit)[0]
        position[members] = np.arange(len(members))
    test = position % 5 == 4
    keep = ~test if train else test
    return images[keep], labels[keep]


class MNIST(ImageArrayDataset):
    """The MNIST handwritten digits (LeCun, Cortes, Burges): 60 000 training and 10 000 test images.

    Args:
        root: a folder holding the four IDX files (``train-images-idx3-ubyte[.gz]``,
            ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
            ``t10k-labels-idx1-ubyte[.gz]``). Default: the cache folder
            (``$DEEPGRAD_DATA/mnist`` or ``~/.cache/deepgrad/mnist``), falling back to the
            shipped 5 000-digit subset when the files are not there.
        train: the training split (True) or the test split (False). Default: True.
        download: fetch missing files from the mirrors into ``root`` (or the cache folder),
            checking their MD5 checksums; needs pooch (``pip install 'deepgrad[datasets]'``).
            Default: False.
        transform, target_transform, raw, flatten: as in ``ImageArrayDataset``.

    Shape:
        image float32 in [0, 1], (1, 28, 28) [or (784,) with ``flatten=True``; uint8 0..255
        with ``raw=True``]; label int64 in 0..9.

    Attributes:
        source: "files" (the IDX files in ``folder``) or "embedded" (the shipped subset).
        folder: where the files were looked for.

    Example:
        >>> train = MNIST(train=True)        # doctest: +SKIP
        >>> image, label = train[0]          # doctest: +SKIP
        >>> image.shape, image.dtype         # doctest: +SKIP
        ((1, 28, 28), dtype('float32'))
    """

    name = "mnist"
    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    md5 = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    class_names = [str(d) for d in range(10)]
    has_embedded = True

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        raw: bool = False,
        flatten: bool = False,
    ):
        boolean(train, "train", type(self).__name__)
        self.train = train
        self.folder = Path(root).expanduser() if root is not None else data_home() / self.name
        stems = _SPLIT_FILES[train]
        found = [self._find(stem) for stem in stems]
        self.source = "files"
        problem = None
        if None in found and download:
            try:
                found = [
                    self._fetch(stem) if path is None else path for stem, path in zip(stems, found)
                ]
            except DownloadError as error:
                if root is not None or not self.has_embedded:
                    raise DownloadError(f"{error}\n{self._where_message(stems)}") from None
                problem = f"downloading failed ({str(error).splitlines()[0]})"
        if None in found:
            if root is not None or not self.has_embedded:
                raise FileNotFoundError(self._missing_message(stems, found))
            images, labels = load_embedded_mnist(train)
            self.source = "embedded"
            self._notice(problem or f"no MNIST files in {self.folder}")
        else:
            images, labels = read_idx(found[0]), read_idx(found[1])
            self._check(found, images, labels)
        super().__init__(
            images, labels, transform, target_transform, raw, flatten, classes=self.class_names
        )

    def _find(self, stem: str) -> Path | None:
        for folder in (self.folder, self.folder / self.name):
            for name in (stem, stem + ".gz"):
                if (folder / name).is_file():
                    return folder / name
        return None

    def _fetch(self, stem: str) -> Path:
        name = stem + ".gz"
        return download_file(
            [m + name for m in self.mirrors], self.folder / name, md5=self.md5.get(name)
        )

    def _check(self, paths: list, images: np.ndarray, labels: np.ndarray) -> None:
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataFormatError(
                f"{type(self).__name__}: {paths[0]}: expected uint8 images of shape (N, 28, 28) "
                f"(got {images.dtype} {images.shape}); is this an images file?"
            )
        if labels.ndim != 1:
            raise DataFormatError(
                f"{type(self).__name__}: {paths[1]}: expected a 1-D array of labels (got shape {labels.shape}); "
                "is this a labels file?"
            )
        if len(images) != len(labels):
            raise DataFormatError(
                f"{type(self).__name__}: {paths[0]} has {len(images)} images but {paths[1]} has {len(labels)} labels; "
                "the two files belong to different datasets or one is damaged"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise DataFormatError(
                f"{type(self).__name__}: {paths[1]}: labels must lie in 0..{len(self.class_names) - 1} "
                f"(found {int(labels.min())}..{int(labels.max())})"
            )

    def _where_message(self, stems) -> str:
        names = ", ".join(s + ".gz" for s in stems)
        return f"Put {names} (or the uncompressed files) in {self.folder}, or pass root=<folder holding them>."

    def _missing_message(self, stems, found) -> str:
        missing = [s for s, p in zip(stems, found) if p is None]
        split = "training" if self.train else "test"
        hint = "" if self.has_embedded else " (deepgrad ships no copy of this dataset)"
        return (
            f"{type(self).__name__}: the {split} files {', '.join(missing)} (.gz or uncompressed) are not in "
            f"{self.folder}{hint}. {self._where_message(stems)} "
            f"Or pass download=True to fetch them from {self.mirrors[0]}"
            + (
                ", or root=None to use the 5 000-digit subset shipped with deepgrad."
                if self.has_embedded
                else "."
            )
        )

    def _notice(self, reason: str) -> None:
        if self.name in _warned:
            return
        _warned.add(self.name)
        warnings.warn(
            f"{type(self).__name__}: {reason}; using the MNIST subset shipped with deepgrad "
            "(4 000 training / 1 000 test images, 10 classes). For the full 60 000 / 10 000 images pass "
            f"download=True, or put the four IDX files in {self.folder}.",
            UserWarning,
            stacklevel=3,
        )


class FashionMNIST(MNIST):
    """Fashion-MNIST (Xiao, Rasul, Vollgraf 2017; MIT licence): 28x28 grey images of 10 kinds of clothing.

    Same files, arguments and shapes as ``MNIST``. deepgrad ships no copy: the files must be
    in ``root`` / the cache folder (``$DEEPGRAD_DATA/fashion-mnist``), or ``download=True``.
    """

    name = "fashion-mnist"
    mirrors = [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ]
    md5 = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    class_names = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    has_embedded = False


__all__ = ["MNIST", "FashionMNIST", "load_embedded_mnist", "embedded_path"]
