"""Uploading sealed files to the orchestrator's content-addressed blob store.

Only sealed files leave a party's machine: :func:`sealed_blob_id` refuses anything that is not
an Accord sealed file (its header is checked, no key needed) and returns the blob id, the
SHA-256 of the file. :func:`blob_chunks` then streams the file in pieces of
:data:`UPLOAD_CHUNK_BYTES`; the first names the blob, and the orchestrator (and later every
node) checks the hash of what arrived.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from accord.crypto.sealed import inspect_file
from accord.errors import AccordError, UsageError, VerificationError
from accord.v1 import common_pb2

__all__ = ["UPLOAD_CHUNK_BYTES", "blob_chunks", "sealed_blob_id", "upload_sealed_file"]

UPLOAD_CHUNK_BYTES: Final = 1024 * 1024
"""Bytes per streamed chunk (the protocol's limit)."""


def sealed_blob_id(path: Path) -> tuple[str, int]:
    """Check that ``path`` is a sealed file and return its blob id and size.

    Parameters
    ----------
    path
        The file to upload.

    Returns
    -------
    tuple[str, int]
        The SHA-256 of the file (lowercase hex) and its size in bytes.

    Raises
    ------
    UsageError
        If the file cannot be read or is not an Accord sealed file (plaintext is never
        uploaded).
    """
    path = Path(path)
    try:
        inspect_file(path)
    except AccordError as error:
        raise UsageError(
            f"{path} is not an Accord sealed file, so it is not uploaded ({error.message})",
            hint="Seal it first with `accord seal` (or accord.seal_file) and upload the result.",
        ) from None
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(UPLOAD_CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    return digest.hexdigest(), size


def blob_chunks(path: Path, blob_id: str) -> Iterator[common_pb2.BlobChunk]:
    """Yield the file as ``BlobChunk`` messages; the first carries ``blob_id``."""
    with Path(path).open("rb") as handle:
        first = True
        while True:
            data = handle.read(UPLOAD_CHUNK_BYTES)
            if not data and not first:
                return
            yield common_pb2.BlobChunk(blob_id=blob_id if first else "", data=data)
            first = False
            if not data:
                return


def upload_sealed_file(
    send: Callable[[Iterator[common_pb2.BlobChunk], float], common_pb2.BlobRef],
    path: Path,
    *,
    timeout: float,
) -> str:
    """Upload a sealed file with ``send`` (the UploadBlob call) and return its blob id.

    Parameters
    ----------
    send
        Makes the streaming call with the chunks and a deadline in seconds.
    path
        The sealed file.
    timeout
        The base deadline; about one more second is allowed per 8 MiB.

    Returns
    -------
    str
        The blob id (the file's SHA-256).

    Raises
    ------
    UsageError
        If the file is not an Accord sealed file (plaintext is never uploaded).
    VerificationError
        If the orchestrator acknowledged another blob or size than was sent.
    """
    blob_id, size = sealed_blob_id(path)
    answer = send(blob_chunks(path, blob_id), timeout + size / (8 * 1024 * 1024))
    if answer.blob_id != blob_id or answer.size != size:
        raise VerificationError(
            f"the orchestrator acknowledged blob {answer.blob_id[:16]}.. ({answer.size} "
            f"bytes) for the upload of {path} ({blob_id[:16]}.., {size} bytes)",
            hint="Upload the file again; report an orchestrator that keeps doing this.",
        )
    return blob_id
