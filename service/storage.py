"""Content-addressed storage of uploaded notebooks.

A blob is stored under its SHA-256; the write is durable (file and directory fsynced) before
`put` returns, and atomic (written to a temporary name, then renamed), so a crash never leaves
a half-written notebook under a real name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol


class BlobStorage(Protocol):
    def put(self, data: bytes) -> str:
        """Store `data` durably; return its hex SHA-256."""

    def get(self, digest: str) -> bytes:
        """The bytes stored under `digest` (KeyError when absent)."""

    def path(self, digest: str) -> Path:
        """A local file holding the blob (graders read files)."""


class LocalBlobStorage:
    """Blobs at `root/ab/cdef...` (two-level fan-out keeps directories small)."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
            raise KeyError(digest)
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)
        return digest

    def get(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise KeyError(digest) from None


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
