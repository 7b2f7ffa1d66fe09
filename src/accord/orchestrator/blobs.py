"""Content-addressed storage of ciphertext blobs (sealed files, sealed models).

A blob's id is the SHA-256 (64 lower-case hex characters) of its bytes. Uploads stream into
a temporary file under ``<root>/tmp`` while being hashed; only when the whole stream has
arrived, is within the size limit and hashes to the id it claimed is the file renamed to
``<root>/<id[:2]>/<id>``. A failed upload therefore leaves nothing behind, and a blob that is
present is always complete and correct. The orchestrator only ever holds ciphertext: the
nodes check the hash again and the sealed format authenticates every chunk.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from accord.enclave.blobs import check_blob_id
from accord.errors import IntegrityError, UsageError

__all__ = ["CHUNK_BYTES", "BlobInfo", "BlobStore", "check_blob_id", "referenced_blobs"]

CHUNK_BYTES: Final = 1024 * 1024
"""The size of the chunks blobs are streamed in (1 MiB), up and down."""

_log = logging.getLogger("accord.orchestrator")


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob: its id and size in bytes."""

    blob_id: str
    size: int


class BlobStore:
    """Blobs under one folder, addressed by SHA-256.

    Parameters
    ----------
    root
        The folder (created if missing).
    max_bytes
        The largest blob accepted.
    """

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self._root = Path(root)
        self._tmp = self._root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._max_bytes = max_bytes
        for stale in self._tmp.glob("*.partial"):
            stale.unlink(missing_ok=True)

    @property
    def root(self) -> Path:
        """The folder the blobs live in."""
        return self._root

    def _final_path(self, blob_id: str) -> Path:
        return self._root / blob_id[:2] / blob_id

    def has(self, blob_id: str) -> bool:
        """Whether the blob ``blob_id`` is stored."""
        return self._final_path(check_blob_id(blob_id)).is_file()

    def path(self, blob_id: str) -> Path:
        """Return the file holding blob ``blob_id``.

        Raises
        ------
        UsageError
            If the id is malformed or no such blob is stored.
        """
        path = self._final_path(check_blob_id(blob_id))
        if not path.is_file():
            raise UsageError(
                f"blob {blob_id[:16]}.. is not stored at the orchestrator",
                hint="Upload the sealed file first (accord upload), then refer to its blob id.",
            )
        return path

    def info(self, blob_id: str) -> BlobInfo:
        """Return the id and size of a stored blob (see :meth:`path` for errors)."""
        return BlobInfo(blob_id, self.path(blob_id).stat().st_size)

    def write(self, blob_id: str, chunks: Iterable[bytes]) -> BlobInfo:
        """Store the blob that ``chunks`` stream, if it hashes to ``blob_id``.

        Parameters
        ----------
        blob_id
            The SHA-256 the uploader claims for the blob.
        chunks
            The blob's bytes, in order.

        Returns
        -------
        BlobInfo
            The stored blob.

        Raises
        ------
        UsageError
            If the id is malformed or the blob is larger than the limit.
        IntegrityError
            If the bytes hash to another value than ``blob_id``. Nothing is stored.
        """
        check_blob_id(blob_id)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{blob_id[:16]}.", suffix=".partial", dir=self._tmp)
        tmp = Path(tmp_name)
        try:
            size, digest = self._receive(fd, chunks)
            if not hmac.compare_digest(digest, blob_id):
                raise IntegrityError(
                    f"the uploaded bytes hash to {digest[:16]}.., not to the blob id "
                    f"{blob_id[:16]}.. they were sent as; nothing was stored",
                    hint="Upload the file again; if it fails again, it is altered on the way.",
                )
            final = self._final_path(blob_id)
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        _log.info("stored blob %s (%d bytes)", blob_id, size)
        return BlobInfo(blob_id, size)

    def _receive(self, fd: int, chunks: Iterable[bytes]) -> tuple[int, str]:
        hasher = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                size += len(chunk)
                if size > self._max_bytes:
                    raise UsageError(
                        f"the blob is larger than this orchestrator's limit of "
                        f"{self._max_bytes} bytes; nothing was stored",
                        hint="Split the data into several sealed files, or raise "
                        "max_blob_bytes in the orchestrator's configuration.",
                    )
                hasher.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        return size, hasher.hexdigest()

    def read(self, blob_id: str, *, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """Stream a stored blob in chunks of ``chunk_bytes`` (the last may be shorter).

        Raises
        ------
        UsageError
            If the id is malformed or no such blob is stored (raised by this call, before
            any chunk is read).
        """
        return _chunks_of(self.path(blob_id), chunk_bytes)


def _chunks_of(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            yield chunk


def referenced_blobs(arguments: Mapping[str, Any]) -> list[str]:
    """Return the blob ids a command's arguments name, in order, without repeats.

    A key ending in ``blob`` names one blob id (a string); a key ending in ``blobs`` names a
    list of them. Keys are looked for in nested objects and lists too.

    Raises
    ------
    UsageError
        If such a key holds something other than well-formed blob ids.
    """
    found: dict[str, None] = {}

    def visit(value: Any, where: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                path = f"{where}.{key}"
                if key.endswith("blobs"):
                    if isinstance(item, str) or not isinstance(item, list | tuple):
                        raise UsageError(f"argument {path} must be a list of blob ids")
                    for blob_id in item:
                        found[check_blob_id(blob_id)] = None
                elif key.endswith("blob"):
                    found[check_blob_id(item)] = None
                else:
                    visit(item, path)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item, f"{where}[]")

    visit(arguments, "arguments")
    return list(found)
