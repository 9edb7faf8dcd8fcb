"""download() (pooch underneath) and MNIST(download=True) against a small HTTP server on 127.0.0.1.

pooch is in the ``test`` extra; without it these tests skip, except the one that checks the
error a user without pooch gets.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading

import numpy as np
import pytest

pytest.importorskip("pooch")

from deepgrad.data.datasets import MNIST, DownloadError, download, write_idx
from deepgrad.data.datasets import mnist as mnist_module

PAYLOAD = bytes(range(256)) * 300  # 76 800 bytes


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        if self.path.startswith("/dead/"):
            self.send_error(404, "no such file")
            return
        name = self.path.rsplit("/", 1)[-1]
        if name not in self.files:
            self.send_error(404, "no such file")
            return
        body = self.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path.startswith("/cut/"):
            self.wfile.write(body[: len(body) // 3])  # then the connection closes early
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    Handler.files = {"blob.bin": PAYLOAD}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_download_success_with_checksums(server, tmp_path):
    dest = tmp_path / "sub" / "blob.bin"
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    assert download(f"{server}/ok/blob.bin", dest, md5=md5, sha256=sha, timeout=5) == dest
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == ["blob.bin"]


def test_checksum_mismatch_keeps_no_file(server, tmp_path):
    dest = tmp_path / "blob.bin"
    with pytest.raises(
        DownloadError, match="SHA256 hash of downloaded file .* does not match"
    ) as info:
        download(f"{server}/ok/blob.bin", dest, sha256="0" * 64, timeout=5)
    assert str(dest) in str(info.value)
    assert leftovers(tmp_path) == []


def test_both_checksums_are_checked_before_the_file_is_moved_into_place(server, tmp_path):
    dest = tmp_path / "blob.bin"
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    with pytest.raises(DownloadError, match="MD5 hash of downloaded file does not match"):
        download(f"{server}/ok/blob.bin", dest, md5="0" * 32, sha256=sha, timeout=5)
    assert leftovers(tmp_path) == []


def test_a_file_already_in_place_with_the_right_checksum_is_not_fetched_again(server, tmp_path):
    dest = tmp_path / "blob.bin"
    dest.write_bytes(PAYLOAD)
    Handler.files = {}  # the server no longer has it: a fetch would fail
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    assert download(f"{server}/ok/blob.bin", dest, md5=md5, timeout=5) == dest
    dest.write_bytes(b"damaged")  # a wrong checksum means: fetch again (and here fail)
    with pytest.raises(DownloadError):
        download(f"{server}/ok/blob.bin", dest, md5=md5, timeout=5)
    assert dest.read_bytes() == b"damaged"  # a failed fetch leaves what was there


def test_dead_mirrors_fall_back_to_the_next(server, tmp_path):
    dest = tmp_path / "blob.bin"
    urls = [closed_port_url() + "blob.bin", f"{server}/dead/blob.bin", f"{server}/ok/blob.bin"]
    download(urls, dest, sha256=hashlib.sha256(PAYLOAD).hexdigest(), timeout=5)
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["blob.bin"]


def test_interrupted_transfer_leaves_no_partial_file(server, tmp_path):
    dest = tmp_path / "blob.bin"
    with pytest.raises(DownloadError) as info:
        download(f"{server}/cut/blob.bin", dest, timeout=5)
    assert "cut/blob.bin" in str(info.value)
    assert leftovers(tmp_path) == []
    # the next mirror is tried after an interruption
    download(
        [f"{server}/cut/blob.bin", f"{server}/ok/blob.bin"],
        dest,
        md5=hashlib.md5(PAYLOAD).hexdigest(),
    )
    assert dest.read_bytes() == PAYLOAD


def test_all_mirrors_failing_lists_each_attempt(server, tmp_path):
    urls = [f"{server}/dead/blob.bin", f"{server}/cut/blob.bin"]
    with pytest.raises(DownloadError) as info:
        download(urls, tmp_path / "blob.bin", timeout=5)
    message = str(info.value)
    assert "2 mirror(s)" in message and "/dead/blob.bin" in message and "/cut/blob.bin" in message
    assert "copy the file" in message


def mnist_files(tmp_path):
    """Small IDX files standing in for MNIST, with their MD5s."""
    rng = np.random.default_rng(1)
    tmp_path.mkdir(parents=True, exist_ok=True)
    made, md5 = {}, {}
    for stem, n in (("train", 8), ("t10k", 3)):
        for kind, array in (
            ("images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
            ("labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8)),
        ):
            name = f"{stem}-{kind}.gz"
            write_idx(tmp_path / name, array)
            made[name] = (tmp_path / name).read_bytes()
            md5[name] = hashlib.md5(made[name]).hexdigest()
    return made, md5


def test_mnist_download_into_root(server, tmp_path, monkeypatch):
    made, md5 = mnist_files(tmp_path / "source")
    Handler.files = made
    monkeypatch.setattr(MNIST, "mirrors", [closed_port_url(), f"{server}/ok/"])
    monkeypatch.setattr(MNIST, "md5", md5)
    root = tmp_path / "root"
    train = MNIST(root=root, download=True)
    assert train.source == "files" and len(train) == 8
    assert leftovers(root) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert len(MNIST(root=root, train=False, download=True)) == 3


def test_mnist_download_failure_with_root_says_where_to_put_files(server, tmp_path, monkeypatch):
    made, md5 = mnist_files(tmp_path / "source")
    Handler.files = made
    monkeypatch.setattr(MNIST, "mirrors", [f"{server}/ok/"])
    monkeypatch.setattr(MNIST, "md5", dict.fromkeys(md5, "0" * 32))  # every file fails its checksum
    root = tmp_path / "root"
    with pytest.raises(
        DownloadError,
        match=rf"MD5 hash of downloaded file .* does not match[\s\S]*Put .* in {root}",
    ):
        MNIST(root=root, download=True)
    assert leftovers(root) == []


def test_mnist_without_network_falls_back_to_the_shipped_subset(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path))
    monkeypatch.setattr(mnist_module, "_warned", set())
    monkeypatch.setattr(MNIST, "mirrors", [closed_port_url()])
    with pytest.warns(UserWarning, match="downloading failed"):
        train = MNIST(download=True)
    assert train.source == "embedded" and len(train) == 4000
    assert leftovers(tmp_path / "mnist") == []
