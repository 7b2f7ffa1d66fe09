"""The streaming reader of sealed files (format v1): authenticate, decrypt, parse.

Opening a :class:`SealedReader` parses the header, checks the key id (wrong key:
:class:`~accord.errors.KeyMaterialError` naming both ids) and the expected file id if one is
given (swapped file: :class:`~accord.errors.IntegrityError` naming both ids), then walks the
frames to learn the chunk count. Each chunk is authenticated before its plaintext is
returned; every failure is an :class:`~accord.errors.IntegrityError` naming the file and the
chunk. :func:`~accord.crypto.sealed.files.unseal_file` writes the plaintext through a
temporary file that is renamed into place only when every chunk has verified.

Before it returns any chunk other than the last, the reader also authenticates the last chunk
(index ``N - 1``, sealed with the final flag), once, and remembers that it did. So no chunk of
a file that was cut short at a chunk boundary, or had chunks appended, is ever returned,
whichever chunks are asked for and in whatever order; and the header (bound into every
chunk) is authentic before anything derived from its metadata is done.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from accord.crypto.keys import DataKey
from accord.crypto.sealed.batches import Batch, BatchParser
from accord.crypto.sealed.frames import FRAME_HEADER, ChunkCipher, ChunkTagError
from accord.crypto.sealed.header import SealedHeader, read_header
from accord.crypto.sealed.inspection import ChunkInfo, FrameIndex, walk_frames
from accord.crypto.sealed.records import SupportsReadinto, readinto_full
from accord.errors import IntegrityError, KeyMaterialError, UsageError

__all__ = ["PlaintextChunk", "SealedReader"]


@dataclass(frozen=True, slots=True)
class PlaintextChunk:
    """One authenticated chunk.

    Attributes
    ----------
    index
        The chunk's index, from 0.
    rows
        Its authenticated row count (0 for opaque bytes).
    data
        Its plaintext.
    """

    index: int
    rows: int
    data: bytes


class SealedReader:
    """Read and authenticate a sealed file chunk by chunk.

    Use :meth:`open` for a file path; the constructor takes any seekable binary stream.

    Parameters
    ----------
    stream
        A seekable binary stream positioned at the start of the sealed file.
    key
        The party's data key.
    source
        The file's name, for error messages.
    expected_file_id
        When given (32 hex digits), a file with another id is refused as swapped.

    Raises
    ------
    UsageError
        Not a sealed file, or an unknown format version.
    KeyMaterialError
        The file was sealed with another data key (the message names both key ids).
    IntegrityError
        Damaged header, truncated file, or a file id other than the expected one.
    """

    def __init__(
        self,
        stream: BinaryIO,
        key: DataKey,
        *,
        source: str = "the sealed data",
        expected_file_id: str | None = None,
    ) -> None:
        self._stream = stream
        self._source = source
        header, digest, start = read_header(stream, source=source)
        if header.key_id != key.key_id:
            raise KeyMaterialError(
                f"{source} was sealed with data key {header.key_id}, but the key offered is "
                f"{key.key_id}",
                hint=f"Use the party whose data key id is {header.key_id} "
                "(`accord party show DIR` prints a party's key id). If that is the party that "
                "sealed the file, the file's header is damaged.",
            )
        if expected_file_id is not None and header.file_id != expected_file_id.lower():
            raise IntegrityError(
                f"{source} is file {header.file_id}, but file {expected_file_id} was expected: "
                "another sealed file was put in its place",
                hint="Fetch the file the command names from its owner.",
            )
        self.header: SealedHeader = header
        """The file's header (authenticated once any chunk has been returned)."""
        self._frames: FrameIndex = walk_frames(stream, start, source=source)
        self._cipher = ChunkCipher(key, bytes.fromhex(header.file_id), digest)
        self._last_verified = False

    @property
    def source(self) -> str:
        """The file's name, as used in error messages."""
        return self._source

    @classmethod
    @contextmanager
    def open(
        cls, path: Path, key: DataKey, *, expected_file_id: str | None = None
    ) -> Iterator[SealedReader]:
        """Open a sealed file for reading (a context manager that closes it).

        Parameters
        ----------
        path
            The sealed file.
        key
            The party's data key.
        expected_file_id
            When given, a file with another id is refused as swapped.

        Yields
        ------
        SealedReader
            The reader.
        """
        path = Path(path)
        try:
            stream = open(path, "rb")  # noqa: SIM115 -- closed by the with statement below
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        with stream:
            yield cls(stream, key, source=str(path), expected_file_id=expected_file_id)

    def sealed_bytes_before(self, index: int) -> int:
        """Bytes of chunk frames before chunk ``index`` (for progress reports)."""
        if index >= len(self._frames):
            return self._frames.file_size - self._frames[0].offset
        return self._frames[index].offset - self._frames[0].offset

    @property
    def chunk_count(self) -> int:
        """Number of chunks (from the frame walk; verified as chunks are read)."""
        return len(self._frames)

    def chunk_rows(self, index: int) -> int:
        """Row count that chunk ``index``'s frame claims (verified when the chunk is read)."""
        return self._frames[index].rows

    def verify_last_chunk(self) -> None:
        """Authenticate the last chunk with the final flag (once; the result is remembered).

        Afterwards the header is authentic and the file is known to end where its writer
        ended it: not cut short at a chunk boundary, nothing appended. Every method that
        returns chunks calls this first, so callers need not.

        Raises
        ------
        IntegrityError
            Naming the file and the last chunk, and the cause when it can be told.
        """
        if self._last_verified:
            return
        last = len(self._frames) - 1
        info, ciphertext = self._read_frame(last, None)
        try:
            self._cipher.open(last, ciphertext, final=True, rows=info.rows)
        except ChunkTagError:
            raise self._diagnose(last, ciphertext, info.rows, True) from None
        self._last_verified = True

    def read_chunk(self, index: int) -> PlaintextChunk:
        """Read, authenticate and return chunk ``index``.

        The last chunk is authenticated too before the chunk is returned (see
        :meth:`verify_last_chunk`), so no chunk of a truncated or extended file is returned.

        Raises
        ------
        IntegrityError
            Naming the file and the chunk, and the cause when it can be told (truncation at a
            chunk boundary, chunks appended after the last one).
        """
        info, ciphertext = self._read_frame(index, None)
        final = index == len(self._frames) - 1
        try:
            data = self._cipher.open(index, ciphertext, final=final, rows=info.rows)
        except ChunkTagError:
            raise self._diagnose(index, ciphertext, info.rows, final) from None
        if final:
            self._last_verified = True
        else:
            self.verify_last_chunk()
        return PlaintextChunk(index, info.rows, data)

    def _check_index(self, index: int) -> None:
        count = len(self._frames)
        if not 0 <= index < count:
            raise UsageError(f"{self._source} has chunks 0 to {count - 1}, not chunk {index}")

    def _read_frame(self, index: int, into: memoryview | None) -> tuple[ChunkInfo, memoryview]:
        """Read chunk ``index``'s frame (into ``into`` when given); return it and its ciphertext."""
        self._check_index(index)
        info = self._frames[index]
        size = FRAME_HEADER.size + info.ciphertext_length
        self._stream.seek(info.offset)
        if into is None:
            frame = memoryview(self._stream.read(size))
        else:
            frame = into[: readinto_full(cast(SupportsReadinto, self._stream), into[:size])]
        if len(frame) != size or FRAME_HEADER.unpack_from(frame) != (
            info.rows,
            info.ciphertext_length,
        ):
            raise IntegrityError(f"{self._source} changed while chunk {index} was being read")
        return info, frame[FRAME_HEADER.size :]

    def iter_views(self) -> Iterator[tuple[int, memoryview]]:
        """Yield (rows, plaintext) of every chunk, authenticated, as views of reused buffers.

        Each view is valid only until the next one is produced; no memory is allocated per
        chunk, which is what :func:`unseal_file` needs to run at the speed of AES-GCM. The
        last chunk is authenticated before the first view is produced.
        """
        frame_buffer = bytearray()
        plain_buffer = bytearray()
        count = len(self._frames)
        for index in range(count):
            info = self._frames[index]
            if len(frame_buffer) < FRAME_HEADER.size + info.ciphertext_length:
                frame_buffer = bytearray(FRAME_HEADER.size + info.ciphertext_length)
                plain_buffer = bytearray(info.plaintext_length)
            _, ciphertext = self._read_frame(index, memoryview(frame_buffer))
            plaintext = memoryview(plain_buffer)[: info.plaintext_length]
            final = index == count - 1
            try:
                self._cipher.open_into(index, ciphertext, plaintext, final=final, rows=info.rows)
            except ChunkTagError:
                raise self._diagnose(index, ciphertext, info.rows, final) from None
            if index == count - 1:
                self._last_verified = True
            else:
                self.verify_last_chunk()
            yield info.rows, plaintext

    def _diagnose(
        self, index: int, ciphertext: memoryview, rows: int, final: bool
    ) -> IntegrityError:
        count = len(self._frames)
        try:
            self._cipher.open(index, ciphertext, final=not final, rows=rows)
        except ChunkTagError:
            if final:
                moved = self._diagnose_last(index, ciphertext, rows)
                if moved is not None:
                    return moved
            return IntegrityError(
                f"{self._source}: chunk {index} of {count} failed authentication: the chunk, "
                "its frame or the file header was altered, or chunks were reordered, dropped or "
                "spliced in from another file"
            )
        if final:
            return IntegrityError(
                f"{self._source} is truncated: it ends after chunk {index}, which its writer "
                f"did not seal as the last chunk (chunks after chunk {index} are missing)"
            )
        return IntegrityError(
            f"{self._source}: chunk {index} is the last chunk its writer sealed, but "
            f"{count - 1 - index} more chunk(s) follow it: data was appended"
        )

    def _diagnose_last(self, last: int, ciphertext: memoryview, rows: int) -> IntegrityError | None:
        """Name the cause when the last frame fails both ways and a neighbour explains it."""
        if last > 0:
            info, previous = self._read_frame(last - 1, None)
            if self._opens(last - 1, previous, info.rows):
                return IntegrityError(
                    f"{self._source}: chunk {last - 1} is the last chunk its writer sealed, but "
                    "1 more chunk follows it: data was appended"
                )
        for sealed_as, cause in (
            (last + 1, "a chunk before it is missing (dropped from the file)"),
            (last - 1, "a chunk before it was inserted or duplicated"),
        ):
            if sealed_as >= 0 and self._opens(sealed_as, ciphertext, rows):
                return IntegrityError(
                    f"{self._source}: chunk {last}, the last of the file, was sealed as chunk "
                    f"{sealed_as}: {cause}"
                )
        return None

    def _opens(self, index: int, ciphertext: memoryview, rows: int) -> bool:
        """Whether ``ciphertext`` verifies as the final chunk ``index`` (diagnosis only)."""
        try:
            self._cipher.open(index, ciphertext, final=True, rows=rows)
        except ChunkTagError:
            return False
        return True

    def iter_chunks(self, start: int = 0, stop: int | None = None) -> Iterator[PlaintextChunk]:
        """Yield authenticated chunks ``start`` to ``stop - 1`` (all by default).

        The last chunk is authenticated before any chunk is yielded, whatever the range, so
        a truncated or extended file is refused before any of its plaintext is released.
        (The first chunk of the range is authenticated before the last one, so an error
        names the first chunk that fails in reading order.)

        Raises
        ------
        IntegrityError
            As :meth:`read_chunk`.
        """
        count = len(self._frames)
        stop = count if stop is None else stop
        if not 0 <= start <= stop <= count:
            raise UsageError(
                f"chunk range {start}..{stop} is outside {self._source}'s {count} chunks"
            )
        for index in range(start, stop):
            yield self.read_chunk(index)

    def iter_batches(
        self,
        start: int = 0,
        stop: int | None = None,
        *,
        column_types: Mapping[str, Any] | None = None,
    ) -> Iterator[Batch]:
        """Yield each authenticated chunk parsed as a record batch (see :mod:`.batches`).

        Parameters
        ----------
        start, stop
            The chunk range, as in :meth:`iter_chunks`.
        column_types
            For CSV: Arrow types to use for some or all columns in every chunk.

        Yields
        ------
        Batch
            ``pyarrow.Table`` (CSV), ``pyarrow.RecordBatch`` (Arrow) or ``LibSvmBatch``.

        Raises
        ------
        IntegrityError
            As :meth:`read_chunk`, or when an authentic chunk does not parse as its content
            type (a file from a writer that does not follow the format), naming the chunk.
        UsageError
            For opaque ``bytes`` files, which have no records.
        """
        parser: BatchParser | None = None
        for chunk in self.iter_chunks(start, stop):
            if parser is None:
                parser = BatchParser(self.header, source=self._source, column_types=column_types)
            yield parser.parse(chunk.data, index=chunk.index, rows=chunk.rows)
