"""Fetching data files: mirrors, checksums, and never a partial file.

``download`` streams a file from the first mirror that answers into a temporary
file *in the destination folder*, checks its length and checksum, and only then
renames it into place (``os.replace`` is atomic on one file system). A failed or
interrupted transfer, or a checksum mismatch, removes the temporary file and
moves on to the next mirror; when every mirror fails the error lists each
attempt and says where to put the file by hand.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from deepgrad.data.datasets.errors import DownloadError

_CHUNK = 1 << 16


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


def _fetch_one(url: str, dest: Path, md5: str | None, sha256: str | None, timeout: float) -> None:
    digests = {name: hashlib.new(name) for name, want in (("md5", md5), ("sha256", sha256)) if want}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        received = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                for d in digests.values():
                    d.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and received != expected:
            raise OSError(f"transfer interrupted: received {received} of {expected} bytes")
        for name, want in (("md5", md5), ("sha256", sha256)):
            if want and digests[name].hexdigest() != want.lower():
                raise OSError(
                    f"{name} checksum mismatch: expected {want.lower()}, got {digests[name].hexdigest()}"
                )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def download(
    urls: str | Sequence[str],
    dest: str | os.PathLike,
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download a file, trying each mirror in turn, into ``dest`` atomically.

    Args:
        urls: one URL or a list of mirror URLs for the same file, tried in order.
        dest: the file to create (its folder is created if needed).
        md5: expected MD5 hex digest, or None.
        sha256: expected SHA-256 hex digest, or None.
        timeout: seconds to wait for each connection / read. Default: 30.

    Returns:
        ``dest`` as a Path.

    Raises:
        DownloadError: every mirror failed; the message lists each failure and says to put
            the file at ``dest`` by hand. No partial or unverified file is left behind.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise ValueError("download: no URL given; pass a URL or a list of mirrors")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            _fetch_one(url, dest, md5, sha256, timeout)
            return dest
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            failures.append(f"  {url}: {reason}")
    checksum = f" (md5 {md5})" if md5 else (f" (sha256 {sha256})" if sha256 else "")
    raise DownloadError(
        f"download: could not fetch {dest.name} from any of {len(urls)} mirror(s):\n"
        + "\n".join(failures)
        + f"\nWithout a network, copy the file{checksum} to {dest} yourself."
    )


__all__ = ["data_home", "download", "file_digest"]
