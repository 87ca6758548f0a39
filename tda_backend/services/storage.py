"""Content-addressed blob storage: a blob's name is the SHA-256 of its bytes.

The same bytes are stored once. A blob appears whole or not at all: it is written to a temporary
file, flushed to disk, then renamed into place. ``BlobStore`` is the interface the rest of the
service uses, so that a store every host can read (database, S3) can replace the local directory.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Protocol

from tda_backend.services.errors import StorageFullError

_SHA256 = re.compile(r"[0-9a-f]{64}")


class BlobNotFound(LookupError):
    pass


class BlobStore(Protocol):
    name: str

    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256 hex digest."""

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``; raise BlobNotFound if there are none."""

    def exists(self, sha256: str) -> bool: ...

    def check(self) -> None:
        """Raise if the store cannot be written."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileBlobStore:
    """Blobs as files ``<root>/<aa>/<bb>/<sha256>`` with writes made atomic by rename."""

    name = "files"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        # Names come from our own digests, but a malformed one must never become a path.
        if not _SHA256.fullmatch(sha256):
            raise BlobNotFound(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        path = self._path(digest)
        if path.exists():
            return digest
        try:
            self._write(path, data)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFullError(
                    f"storage full: no space left in DATA_DIR for {len(data):,} bytes;"
                    " nothing was stored (free space or move DATA_DIR)"
                ) from exc
            raise
        return digest

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="blob-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def get(self, sha256: str) -> bytes:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def exists(self, sha256: str) -> bool:
        try:
            return self._path(sha256).is_file()
        except BlobNotFound:
            return False

    def check(self) -> None:
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="health-")
        os.close(fd)
        Path(tmp_name).unlink()

    def remove_stale_temporaries(self, older_than_s: float = 3600.0) -> int:
        """Delete temporaries left by a process that died mid-write; return how many.

        Only old ones: another process sharing the directory may be writing a young one now.
        """
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self._tmp.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
