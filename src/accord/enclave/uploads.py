"""How an enclave node takes in streamed blobs (``PutBlob``) without letting callers stall it.

Anyone who can reach a node's TLS port can call ``PutBlob``: the node does not know its
callers (the blobs are ciphertext and are checked against their ids). So the node bounds
what an upload may cost:

==========================  ===============================================================
limit                       default
==========================  ===============================================================
uploads at once             :data:`DEFAULT_MAX_CONCURRENT_UPLOADS`; one more is refused at
                            once (``RESOURCE_EXHAUSTED``), so the node's other workers keep
                            answering ``Attest``, ``GetStatus`` and ``Execute``
pause between chunks        :data:`~accord.transport.DEFAULT_STREAM_IDLE_SECONDS` (the
                            first chunk included); a longer pause ends the upload
                            (``DEADLINE_EXCEEDED``) and stores nothing
chunk size                  :data:`MAX_BLOB_CHUNK_BYTES`
one blob                    the blob store's limit (``accord node --max-blob-size``)
blobs per session           :data:`DEFAULT_MAX_SESSION_BLOBS` distinct blobs stored by this
                            session
bytes per session           :data:`DEFAULT_MAX_SESSION_BLOB_BYTES` stored by this session
==========================  ===============================================================

An upload that breaks a limit is refused with an error naming the limit and stores nothing.
A blob stored again (same id) does not count twice.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from accord.enclave.blobs import BlobStore, StoredBlob, check_blob_id
from accord.errors import UsageError
from accord.transport import (
    DEFAULT_STREAM_IDLE_SECONDS,
    ConcurrencyLimit,
    receive_with_idle_timeout,
)
from accord.v1 import common_pb2

__all__ = [
    "DEFAULT_MAX_CONCURRENT_UPLOADS",
    "DEFAULT_MAX_SESSION_BLOBS",
    "DEFAULT_MAX_SESSION_BLOB_BYTES",
    "MAX_BLOB_CHUNK_BYTES",
    "BlobQuota",
    "BlobReceiver",
    "UploadLimits",
]

MAX_BLOB_CHUNK_BYTES: Final = 1024 * 1024
"""The largest ``BlobChunk.data`` accepted."""

DEFAULT_MAX_CONCURRENT_UPLOADS: Final = 4
"""How many ``PutBlob`` streams a node serves at once, by default."""

DEFAULT_MAX_SESSION_BLOBS: Final = 1024
"""How many distinct blobs one node session stores, by default."""

DEFAULT_MAX_SESSION_BLOB_BYTES: Final = 64 * 1024**3
"""How many bytes of blobs one node session stores, by default (64 GiB)."""


@dataclass(frozen=True)
class UploadLimits:
    """The limits a node applies to ``PutBlob`` (see the module's table).

    Parameters
    ----------
    max_concurrent
        Uploads served at once; one more is refused at once.
    idle_seconds
        Seconds an upload may pause between chunks (before the first one included).
    max_session_blobs
        Distinct blobs one session stores.
    max_session_bytes
        Bytes one session stores.
    """

    max_concurrent: int = DEFAULT_MAX_CONCURRENT_UPLOADS
    idle_seconds: float = DEFAULT_STREAM_IDLE_SECONDS
    max_session_blobs: int = DEFAULT_MAX_SESSION_BLOBS
    max_session_bytes: int = DEFAULT_MAX_SESSION_BLOB_BYTES


class BlobQuota:
    """The blobs and bytes one node session may store in all.

    Bytes are counted while they arrive, so concurrent uploads cannot together pass the
    limit; the bytes of an upload that fails, and of a blob stored again, are given back.

    Parameters
    ----------
    max_blobs
        The most distinct blobs.
    max_bytes
        The most bytes.

    Raises
    ------
    UsageError
        If a limit is not a positive whole number.
    """

    def __init__(
        self,
        *,
        max_blobs: int = DEFAULT_MAX_SESSION_BLOBS,
        max_bytes: int = DEFAULT_MAX_SESSION_BLOB_BYTES,
    ) -> None:
        for name, value in (("max_blobs", max_blobs), ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"the session blob quota {name} must be a positive int")
        self._max_blobs = max_blobs
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._stored: set[str] = set()
        self._uploading: set[str] = set()
        self._bytes = 0

    @property
    def used_bytes(self) -> int:
        """Bytes stored (and arriving) in this session."""
        with self._lock:
            return self._bytes

    @property
    def blob_count(self) -> int:
        """Distinct blobs stored in this session."""
        with self._lock:
            return len(self._stored)

    def start(self, blob_id: str) -> None:
        """Admit an upload of ``blob_id`` if the session may store one more blob.

        Raises
        ------
        UsageError
            If the session already stores (or receives) ``max_blobs`` other blobs.
        """
        with self._lock:
            if blob_id in self._stored or blob_id in self._uploading:
                return
            if len(self._stored) + len(self._uploading) >= self._max_blobs:
                raise UsageError(
                    f"this node session already stores {len(self._stored)} blobs (and receives "
                    f"{len(self._uploading)}), its limit of {self._max_blobs}; blob "
                    f"{blob_id[:16]}.. is refused",
                    hint="Ask the node's operator for a larger per-session blob quota, or "
                    "use fewer, larger sealed files.",
                )
            self._uploading.add(blob_id)

    def take(self, blob_id: str, size: int) -> None:
        """Count ``size`` more bytes arriving for ``blob_id``.

        Raises
        ------
        UsageError
            If the session's bytes would pass ``max_bytes``.
        """
        with self._lock:
            if self._bytes + size > self._max_bytes:
                raise UsageError(
                    f"blob {blob_id[:16]}.. would take this node session past its limit of "
                    f"{self._max_bytes} stored bytes; nothing of it was stored",
                    hint="Ask the node's operator for a larger per-session blob quota.",
                )
            self._bytes += size

    def finish(self, blob_id: str, size: int, *, stored: bool) -> None:
        """End the upload of ``blob_id`` that counted ``size`` bytes.

        A failed upload gives its bytes back; so does a blob that was already stored.
        """
        with self._lock:
            self._uploading.discard(blob_id)
            if not stored or blob_id in self._stored:
                self._bytes -= size
            else:
                self._stored.add(blob_id)


class BlobReceiver:
    """Receives ``PutBlob`` streams into a blob store within the node's limits.

    Parameters
    ----------
    blobs
        The node's blob store.
    limits
        The limits (:class:`UploadLimits` defaults if ``None``).

    Raises
    ------
    UsageError
        If a limit is not positive.
    """

    def __init__(self, blobs: BlobStore, limits: UploadLimits | None = None) -> None:
        limits = limits if limits is not None else UploadLimits()
        if isinstance(limits.idle_seconds, bool) or not limits.idle_seconds > 0:
            raise UsageError(
                f"the upload idle timeout must be positive, got {limits.idle_seconds!r}"
            )
        self._blobs = blobs
        self._quota = BlobQuota(
            max_blobs=limits.max_session_blobs, max_bytes=limits.max_session_bytes
        )
        self._limit = ConcurrencyLimit(
            "blob uploads", total=limits.max_concurrent, server="this node"
        )
        self._idle_timeout = limits.idle_seconds

    @property
    def quota(self) -> BlobQuota:
        """What the session may store, and what it stored."""
        return self._quota

    @property
    def limit(self) -> ConcurrencyLimit:
        """The limit on uploads served at once."""
        return self._limit

    def receive(self, chunks: Iterable[common_pb2.BlobChunk]) -> StoredBlob:
        """Store the blob a ``PutBlob`` stream carries; its first chunk names the blob.

        Returns
        -------
        StoredBlob
            The stored blob.

        Raises
        ------
        ServerBusyError
            If the node already serves its most uploads at once.
        StreamIdleError
            If the stream paused longer than the idle timeout.
        UsageError
            If the stream is empty, malformed, or breaks a size or quota limit.
        IntegrityError
            If the bytes do not hash to the blob id.
        """
        with self._limit.hold():
            messages = receive_with_idle_timeout(
                chunks, idle_timeout=self._idle_timeout, what="the blob upload"
            )
            first = next(messages, None)
            if first is None:
                raise UsageError("the blob upload carried no chunk; the first chunk names the blob")
            blob_id = check_blob_id(first.blob_id)
            self._quota.start(blob_id)
            counted = [0]
            stored = False
            try:
                data = _chunk_data(blob_id, first, messages)
                blob = self._blobs.put(blob_id, _counted(blob_id, data, counted, self._quota))
                stored = True
                return blob
            finally:
                self._quota.finish(blob_id, counted[0], stored=stored)


def _counted(
    blob_id: str, data: Iterator[bytes], counted: list[int], quota: BlobQuota
) -> Iterator[bytes]:
    for piece in data:
        quota.take(blob_id, len(piece))
        counted[0] += len(piece)
        yield piece


def _chunk_data(
    blob_id: str, first: common_pb2.BlobChunk, rest: Iterator[common_pb2.BlobChunk]
) -> Iterator[bytes]:
    for item in itertools.chain((first,), rest):
        if item.blob_id and item.blob_id != blob_id:
            raise UsageError(
                f"a chunk of the upload of blob {blob_id} names another blob; one upload "
                "carries one blob"
            )
        if len(item.data) > MAX_BLOB_CHUNK_BYTES:
            raise UsageError(
                f"a chunk of blob {blob_id} is {len(item.data)} bytes; this node accepts at "
                f"most {MAX_BLOB_CHUNK_BYTES}"
            )
        yield bytes(item.data)
