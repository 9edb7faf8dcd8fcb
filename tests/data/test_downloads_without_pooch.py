"""Without pooch (the optional ``datasets`` extra), downloading says what to install."""

from __future__ import annotations

import sys

import pytest

from deepgrad.data.datasets import MNIST, download


def test_download_without_pooch_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pooch", None)  # makes `import pooch` raise ImportError
    with pytest.raises(ImportError, match=r"needs the pooch package .*deepgrad\[datasets\]"):
        download("http://127.0.0.1:9/x.bin", tmp_path / "x.bin")
    with pytest.raises(ImportError, match="pooch"):
        MNIST(root=tmp_path, download=True)
    assert list(tmp_path.iterdir()) == []


def test_reading_local_files_does_not_need_pooch(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pooch", None)
    with pytest.raises(FileNotFoundError, match="download=True"):
        MNIST(root=tmp_path)
