"""Errors raised while reading or fetching data files."""

from __future__ import annotations


class DataFormatError(ValueError):
    """A data file is not what it claims to be (bad header, truncated, non-numeric cell...).

    The message names the file and, where it applies, the byte offset or the line and column.
    """


class DownloadError(OSError):
    """Every mirror failed to deliver a file (the message lists each attempt and what to do offline)."""
