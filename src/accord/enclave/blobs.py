"""The node's content-addressed store of ciphertext blobs (sealed data and sealed models).

A blob is named by its id, the SHA-256 of its bytes as 64 lowercase hex characters. The
orchestrator pushes the blobs a command needs; the node streams each upload into a private
temporary file in the store's directory while hashing it, and renames it to its id only
when the whole stream arrived, stayed within the size limit and hashed to the id it claimed.
A refused upload leaves nothing behind.

The directory lives on host storage, which is not trusted: it holds ciphertext only (the
sealed format authenticates every chunk when the enclave opens a blob with the owner's data
key, so a blob the host swaps or damages on disk is detected when it is read). Keys never
touch it.

Layout::

    <directory>/<blob id>                 a complete blob, mode 0600
    <directory>/.<blob id>.*.partial      an upload in progress (removed on failure)
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from accord._internal.files import atomic_output
from accord.errors import IntegrityError, UsageError

__all__ = ["DEFAULT_MAX_BLOB_BYTES", "BlobStore", "StoredBlob", "check_blob_id"]

logger: Final = logging.getLogger("accord.enclave")

DEFAULT_MAX_BLOB_BYTES: Final = 4 * 1024**3
"""The default size limit of one blob: 4 GiB."""

_BLOB_ID: Final = re.compile(r"[0-9a-f]{64}")
_PARTIAL_SUFFIX: Final = ".partial"


def check_blob_id(blob_id: str) -> str:
    """Return ``blob_id`` if it is a well-formed blob id (64 lowercase hex characters).

    Parameters
    ----------
    blob_id
        The id to check.

    Returns
    -------
    str
        The same id.

    Raises
    ------
    UsageError
        If it is not 64 lowercase hex characters (the message shows at most 80 of them).
    """
    if not isinstance(blob_id, str) or _BLOB_ID.fullmatch(blob_id) is None:
        shown = repr(blob_id[:80]) if isinstance(blob_id, str) else type(blob_id).__name__
        raise UsageError(
            f"blob id {shown} is not a SHA-256 digest (64 lowercase hex characters)",
            hint="A blob id is the SHA-256 of the blob's bytes, as `accord upload` prints it.",
        )
    return blob_id


@dataclass(frozen=True)
class StoredBlob:
    """A blob that the store holds.

    Parameters
    ----------
    blob_id
        The SHA-256 of the blob's bytes.
    size
        Its length in bytes.
    """

    blob_id: str
    size: int


class BlobStore:
    """Content-addressed ciphertext blobs in one directory on the node's host.

    Parameters
    ----------
    directory
        Where blobs are kept; created (mode 0700) if missing. Upload leftovers from an
        earlier run are removed.
    max_blob_bytes
        The largest blob accepted; an upload that grows past it is refused.

    Raises
    ------
    UsageError
        If the limit is not positive or the directory cannot be created.
    """

    def __init__(self, directory: Path, *, max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES) -> None:
        if isinstance(max_blob_bytes, bool) or not isinstance(max_blob_bytes, int):
            raise UsageError(f"max_blob_bytes must be an int, got {max_blob_bytes!r}")
        if max_blob_bytes < 1:
            raise UsageError(f"max_blob_bytes must be positive, got {max_blob_bytes}")
        self._directory = Path(directory)
        self._max_blob_bytes = max_blob_bytes
        try:
            self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(
                f"cannot create the blob folder {self._directory}: {error.strerror}",
                hint="Choose a writable folder with --blob-dir.",
            ) from None
        if not self._directory.is_dir():
            raise UsageError(f"blob folder {self._directory} is not a folder")
        self._remove_leftovers()

    @property
    def directory(self) -> Path:
        """The folder holding the blobs."""
        return self._directory

    @property
    def max_blob_bytes(self) -> int:
        """The size limit of one blob in bytes."""
        return self._max_blob_bytes

    def has(self, blob_id: str) -> bool:
        """Return whether the store holds the blob ``blob_id``.

        Raises
        ------
        UsageError
            If ``blob_id`` is malformed.
        """
        return (self._directory / check_blob_id(blob_id)).is_file()

    def path(self, blob_id: str) -> Path:
        """Return the file of the blob ``blob_id`` (ciphertext; open it with the sealed reader).

        Raises
        ------
        UsageError
            If ``blob_id`` is malformed or the store does not hold the blob (the message says
            that the orchestrator must push it first).
        """
        path = self._directory / check_blob_id(blob_id)
        if not path.is_file():
            raise UsageError(
                f"blob {blob_id} is not on this node",
                hint="The orchestrator pushes the blobs a command names before executing it; "
                "upload the sealed file again and retry.",
            )
        return path

    def size(self, blob_id: str) -> int:
        """Return the size in bytes of the blob ``blob_id`` (see :meth:`path` for errors)."""
        return self.path(blob_id).stat().st_size

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> StoredBlob:
        """Store the blob whose bytes ``chunks`` yields, if they hash to ``blob_id``.

        The bytes are streamed to a temporary file in the store's folder and renamed to the
        blob id only after the last chunk; on any failure (an error raised by ``chunks``
        included) the temporary file is removed and the store is unchanged. Storing a blob
        the store already holds replaces it with identical bytes.

        Parameters
        ----------
        blob_id
            The SHA-256 the uploader claims for the whole blob.
        chunks
            The blob's bytes, in order.

        Returns
        -------
        StoredBlob
            The stored blob's id and size.

        Raises
        ------
        UsageError
            If ``blob_id`` is malformed, a chunk is not bytes, or the blob is larger than
            :attr:`max_blob_bytes`.
        IntegrityError
            If the bytes do not hash to ``blob_id``.
        """
        check_blob_id(blob_id)
        digest = hashlib.sha256()
        size = 0
        with atomic_output(self._directory / blob_id, mode=0o600) as handle:
            for chunk in chunks:
                if not isinstance(chunk, bytes | bytearray | memoryview):
                    raise UsageError(f"a chunk of blob {blob_id} is not bytes")
                size += len(chunk)
                if size > self._max_blob_bytes:
                    raise UsageError(
                        f"blob {blob_id} is larger than this node's limit of "
                        f"{self._max_blob_bytes} bytes; nothing was stored",
                        hint="Split the data into several sealed files, or start the node "
                        "with a larger blob limit.",
                    )
                digest.update(chunk)
                handle.write(chunk)
            actual = digest.hexdigest()
            if actual != blob_id:
                raise IntegrityError(
                    f"the upload claimed to be blob {blob_id} but its {size} bytes hash to "
                    f"{actual}; nothing was stored",
                    hint="The blob was altered or truncated in transit; upload it again.",
                )
        logger.info("stored blob %s (%d bytes)", blob_id, size)
        return StoredBlob(blob_id=blob_id, size=size)

    def _remove_leftovers(self) -> None:
        for entry in self._directory.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(_PARTIAL_SUFFIX):
                try:
                    entry.unlink()
                except OSError:
                    continue
                logger.info("removed an unfinished upload %s", entry.name)

    def __repr__(self) -> str:
        return f"BlobStore({str(self._directory)!r})"
