"""Fetching data files through pooch: mirrors in order, checksums, and never a partial file.

``download`` hands each mirror in turn to ``pooch.retrieve``, which streams the file into a
temporary file *in the destination folder*, checks its hash, and only then moves it into
place; a failed or interrupted transfer (requests enforces the ``Content-Length``) or a hash
mismatch deletes the temporary file. deepgrad adds what pooch leaves to its caller: trying
the mirrors in order, a second checksum when both MD5 and SHA-256 are known, and one error
that lists every attempt and says where to put the file by hand.

pooch is optional (``pip install 'deepgrad[datasets]'``): only ``download`` needs it, and it
says so when it is missing. A file already at ``dest`` whose checksum matches is not fetched
again.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deepgrad.data.datasets.errors import DownloadError


def data_home() -> Path:
    """The cache folder for datasets: ``$DEEPGRAD_DATA`` if set, else ``~/.cache/deepgrad``."""
    env = os.environ.get("DEEPGRAD_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "deepgrad"


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """The hex digest of a file (``algorithm``: "md5" or "sha256")."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pooch() -> Any:
    try:
        import pooch
    except ImportError:
        raise ImportError(
            "download: fetching data files needs the pooch package (not installed); "
            "run pip install 'deepgrad[datasets]' (or pip install pooch), or put the files "
            "in place by hand."
        ) from None
    return pooch


def _also_check(downloader: Callable, md5: str) -> Callable:
    """``downloader`` that also checks the MD5 of the temporary file, before pooch moves it."""

    def fetch(url: str, output_file: str, pooch_instance: Any) -> None:
        downloader(url, output_file, pooch_instance)
        got = file_digest(output_file, "md5")
        if got != md5.lower():
            raise ValueError(
                f"MD5 hash of downloaded file does not match the known hash: "
                f"expected {md5.lower()} but got {got}"
            )

    return fetch


def download(
    urls: str | Sequence[str],
    dest: str | os.PathLike,
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 30.0,
    progressbar: bool | None = None,
) -> Path:
    """Download a file, trying each mirror in turn, into ``dest`` atomically (with pooch).

    Args:
        urls: one URL or a list of mirror URLs for the same file, tried in order.
        dest: the file to create (its folder is created if needed). An existing file whose
            checksum matches is kept as it is.
        md5: expected MD5 hex digest, or None.
        sha256: expected SHA-256 hex digest, or None. When both are given both are checked.
        timeout: seconds to wait for each connection / read. Default: 30.
        progressbar: show a tqdm progress bar. Default: None (only when stderr is a terminal).

    Returns:
        ``dest`` as a Path.

    Raises:
        DownloadError: every mirror failed; the message lists each failure and says to put
            the file at ``dest`` by hand. No partial or unverified file is left behind.
        ImportError: pooch is not installed (``pip install 'deepgrad[datasets]'``).

    Example:
        >>> download(["https://mirror-a/x.gz", "https://mirror-b/x.gz"], "data/x.gz",
        ...          md5="...")  # doctest: +SKIP
        PosixPath('data/x.gz')
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise ValueError("download: no URL given; pass a URL or a list of mirrors")
    pooch = _pooch()
    dest = Path(dest)
    if progressbar is None:
        progressbar = sys.stderr.isatty()
    known_hash = f"sha256:{sha256}" if sha256 else (f"md5:{md5}" if md5 else None)
    failures = []
    for url in urls:
        downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)
        if sha256 and md5:
            downloader = _also_check(downloader, md5)
        try:
            pooch.retrieve(
                url, known_hash, fname=dest.name, path=dest.parent, downloader=downloader
            )
            return dest
        except (OSError, ValueError) as error:  # requests' errors are OSErrors
            failures.append(f"  {url}: {error}")
    checksum = f" (md5 {md5})" if md5 else (f" (sha256 {sha256})" if sha256 else "")
    raise DownloadError(
        f"download: could not fetch {dest.name} from any of {len(urls)} mirror(s):\n"
        + "\n".join(failures)
        + f"\nWithout a network, copy the file{checksum} to {dest} yourself."
    )


__all__ = ["data_home", "download", "file_digest"]
