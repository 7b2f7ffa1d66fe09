"""The streaming writer of sealed files (format v1).

:class:`SealedWriter` writes the header, then one frame per chunk, holding back one chunk so
that the last one can be sealed with the final flag. It writes to any binary stream;
:func:`~accord.crypto.sealed.files.seal_file` drives it over an input file and writes the
sealed file atomically.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from accord.crypto.keys import DataKey
from accord.crypto.sealed.frames import FRAME_HEADER, MAX_CIPHERTEXT, TAG_SIZE, ChunkCipher
from accord.crypto.sealed.header import ID_BYTES, ContentType, SealedHeader
from accord.crypto.sealed.records import ChunkData
from accord.errors import UsageError

__all__ = ["DEFAULT_CHUNK_SIZE", "SealSummary", "SealedWriter"]

DEFAULT_CHUNK_SIZE: Final = 4 * 1024 * 1024
MAX_ROWS: Final = 0xFFFFFFFF


@dataclass(frozen=True)
class SealSummary:
    """What a writer produced.

    Attributes
    ----------
    header
        The header written.
    chunks
        Number of chunks.
    rows
        Total records (0 for opaque bytes).
    plaintext_bytes
        Total plaintext bytes sealed (for CSV, without the header line).
    sealed_bytes
        Size of the sealed file.
    """

    header: SealedHeader
    chunks: int
    rows: int
    plaintext_bytes: int
    sealed_bytes: int


class SealedWriter:
    """Write a sealed file to a binary stream, one chunk at a time.

    The header is written at once; each chunk is sealed when the next one arrives (or at
    :meth:`finish`, with the final flag), so at most one chunk is held.

    Parameters
    ----------
    output
        Where the sealed bytes go.
    key
        The party's data key.
    content_type
        What the chunks hold.
    metadata
        Format hints for the header (a JSON object); never secret.
    chunk_size
        The target plaintext bytes per chunk recorded in the header.
    random_bytes
        Source of the 16-byte file id; the default is the OS CSPRNG. Only tests pass a
        deterministic source: two files with the same id under one key would reuse nonces.
    source
        The input's name, for error messages.
    """

    def __init__(
        self,
        output: BinaryIO,
        key: DataKey,
        *,
        content_type: ContentType,
        metadata: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        random_bytes: Callable[[int], bytes] = os.urandom,
        source: str = "the input",
    ) -> None:
        file_id = random_bytes(ID_BYTES)
        if len(file_id) != ID_BYTES:
            raise UsageError(f"random_bytes returned {len(file_id)} bytes, not {ID_BYTES}")
        self.header = SealedHeader(
            key_id=key.key_id,
            file_id=file_id.hex(),
            chunk_size=chunk_size,
            content_type=content_type,
            metadata=dict(metadata or {}),
        )
        encoded = self.header.encode()
        self._cipher = ChunkCipher(key, file_id, _sha256(encoded))
        self._output = output
        self._source = source
        self._held: tuple[ChunkData, int] | None = None
        self._buffer = bytearray()
        self._index = 0
        self._rows = 0
        self._plaintext_bytes = 0
        self._sealed_bytes = len(encoded)
        output.write(encoded)

    def add_chunk(self, plaintext: ChunkData, rows: int) -> None:
        """Queue one chunk; the previously queued chunk is sealed and written now.

        Parameters
        ----------
        plaintext
            The chunk's bytes (at least one). The writer keeps a reference until the next
            call (when it seals the chunk), so the caller must not change it before then.
        rows
            Records in the chunk (0 for opaque bytes).
        """
        if not plaintext:
            raise UsageError("a sealed chunk must hold at least one byte")
        if len(plaintext) > MAX_CIPHERTEXT - TAG_SIZE:
            raise UsageError(
                f"{self._source}: a record of {len(plaintext)} bytes does not fit in one chunk "
                f"(at most {MAX_CIPHERTEXT - TAG_SIZE} bytes)"
            )
        if not 0 <= rows <= MAX_ROWS:
            raise UsageError(f"a chunk's row count must be 0 to {MAX_ROWS}, got {rows}")
        if self._held is not None:
            self._write(*self._held, final=False)
        self._held = (plaintext, rows)

    def finish(self) -> SealSummary:
        """Seal the last chunk with the final flag and return what was written.

        Raises
        ------
        UsageError
            If no chunk was added (empty input), or the chunks hold no record.
        """
        if self._held is None:
            raise UsageError(
                f"{self._source} is empty; there is nothing to seal",
                hint="Check that the input file holds data.",
            )
        self._write(*self._held, final=True)
        self._held = None
        if self.header.content_type is not ContentType.BYTES and self._rows == 0:
            raise UsageError(
                f"{self._source} holds no records; there is nothing to seal",
                hint="Check that the input file holds data rows.",
            )
        return SealSummary(
            header=self.header,
            chunks=self._index,
            rows=self._rows,
            plaintext_bytes=self._plaintext_bytes,
            sealed_bytes=self._sealed_bytes,
        )

    def _write(self, plaintext: ChunkData, rows: int, *, final: bool) -> None:
        size = len(plaintext) + TAG_SIZE
        if len(self._buffer) < size:
            self._buffer = bytearray(size)
        with memoryview(self._buffer)[:size] as ciphertext:
            self._cipher.seal_into(self._index, plaintext, ciphertext, final=final, rows=rows)
            self._output.write(FRAME_HEADER.pack(rows, size))
            self._output.write(ciphertext)
        self._index += 1
        self._rows += rows
        self._plaintext_bytes += len(plaintext)
        self._sealed_bytes += FRAME_HEADER.size + size


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
