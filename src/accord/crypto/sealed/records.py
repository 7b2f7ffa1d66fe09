"""Splitting an input into chunks that end on record boundaries, ready to seal.

A :class:`ChunkSource` is what the writer consumes: a content type, the metadata for the
header, and an iterator of :class:`RecordChunk` (plaintext plus row count). This module holds
the splitting rules shared by the line formats, and the ``bytes`` and ``libsvm`` sources;
:mod:`.csv_records` and :mod:`.arrow_records` hold the CSV and Parquet sources.

Rule (docs/sealed-format.md, section 6): a chunk takes as many whole records as fit in the
chunk size; a record longer than the chunk size gets a chunk of its own. Records longer than
:data:`MAX_RECORD_BYTES` (or the chunk size, if larger) are refused, so memory stays bounded
whatever the input (an unterminated CSV quote would otherwise swallow the rest of the file).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final, Protocol, cast

from accord.crypto.sealed.header import ContentType
from accord.crypto.sealed.libsvm import LibSvmSyntaxError, parse_libsvm
from accord.errors import UsageError

__all__ = [
    "MAX_RECORD_BYTES",
    "ChunkData",
    "ChunkSource",
    "RecordChunk",
    "bytes_source",
    "libsvm_source",
    "read_full",
    "readinto_full",
    "split_records",
]

MAX_RECORD_BYTES: Final = 64 * 1024 * 1024
_NEWLINE: Final = b"\n"


ChunkData = bytes | memoryview
"""A chunk's plaintext: bytes, or a view of a buffer that is reused after the chunk is sealed."""


@dataclass(frozen=True, slots=True)
class RecordChunk:
    """One chunk's plaintext, before sealing.

    Attributes
    ----------
    data
        The plaintext (never empty).
    rows
        Records in the chunk (0 for opaque bytes).
    input_bytes
        How many input bytes the chunk accounts for (for progress reports).
    """

    data: ChunkData
    rows: int
    input_bytes: int


@dataclass(frozen=True)
class ChunkSource:
    """An input ready to seal: its content type, header metadata and chunks.

    Attributes
    ----------
    content_type
        What the chunks hold.
    metadata
        Format hints for the header (column names, schema, label column).
    chunks
        The chunks, produced lazily as the input is read.
    """

    content_type: ContentType
    metadata: dict[str, Any] = field(default_factory=dict)
    chunks: Iterator[RecordChunk] = field(default_factory=lambda: iter(()))


def read_full(stream: BinaryIO, size: int) -> bytes:
    """Read up to ``size`` bytes, fewer only at the end of the stream (pipes return short)."""
    data = stream.read(size)
    if not data:
        return b""
    if len(data) == size:
        return data
    parts = [data]
    missing = size - len(data)
    while missing > 0:
        more = stream.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


def bytes_source(stream: BinaryIO, *, chunk_size: int) -> ChunkSource:
    """Split opaque data into chunks of exactly ``chunk_size`` bytes (the last one shorter).

    The chunks are views of two buffers used in turn, so no memory is allocated per chunk:
    a chunk's buffer is filled again only after the writer has sealed it (the writer seals
    chunk ``i`` when it receives chunk ``i + 1``).
    """

    def chunks() -> Iterator[RecordChunk]:
        buffers = (memoryview(bytearray(chunk_size)), memoryview(bytearray(chunk_size)))
        turn = 0
        while size := readinto_full(cast(SupportsReadinto, stream), buffers[turn]):
            yield RecordChunk(buffers[turn][:size], 0, size)
            turn ^= 1

    return ChunkSource(ContentType.BYTES, {}, chunks())


class SupportsReadinto(Protocol):
    """A binary stream that can read into a buffer (files, BytesIO)."""

    def readinto(self, buffer: memoryview, /) -> int | None:
        """Read into ``buffer``; return the number of bytes read."""


def readinto_full(stream: SupportsReadinto, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``stream``; return the bytes read (fewer only at the end)."""
    filled = 0
    while filled < len(buffer):
        count = stream.readinto(buffer[filled:])
        if not count:
            break
        filled += count
    return filled


def split_records(
    stream: BinaryIO, chunk_size: int, *, source: str, quote: bytes | None = None
) -> Iterator[bytes]:
    """Yield chunks of ``stream`` that each end on a record (line) boundary.

    Parameters
    ----------
    stream
        The input, positioned at the first record.
    chunk_size
        Target chunk size in bytes.
    source
        The input's name, for error messages.
    quote
        For CSV: the quote character; a line break is a record boundary only where the number
        of quote characters before it in the chunk is even (RFC 4180 quoting). This count is
        right only when no quote is stray, which the CSV reader checks on every chunk
        (:func:`~accord.crypto.sealed.csv_records.first_stray_quote`).

    Yields
    ------
    bytes
        Non-empty chunks; concatenated they are the rest of the stream, byte for byte.
    """
    max_record = max(MAX_RECORD_BYTES, chunk_size)
    pending = b""
    eof = False
    while True:
        if not eof and len(pending) < chunk_size:
            wanted = chunk_size - len(pending)
            block = read_full(stream, wanted)
            eof = len(block) < wanted
            pending = pending + block if pending else block
        if not pending:
            return
        if eof and len(pending) <= chunk_size:
            yield pending
            return
        cut = _last_boundary(pending, chunk_size, quote)
        if cut is None:
            cut, pending, eof = _long_record(stream, pending, chunk_size, quote, eof, max_record)
            if cut is None:
                raise UsageError(
                    f"{source}: a record is longer than {max_record} bytes (an unterminated "
                    "quote, or not a line-based file?)",
                    hint="Check the file's format, or seal it with --format bytes.",
                )
        yield pending[:cut]
        pending = pending[cut:]


def _long_record(
    stream: BinaryIO,
    pending: bytes,
    chunk_size: int,
    quote: bytes | None,
    eof: bool,
    max_record: int,
) -> tuple[int | None, bytes, bool]:
    """Find the end of a first record longer than ``chunk_size``, reading more as needed."""
    parts = [pending]
    data = pending
    searched = chunk_size
    while True:
        cut = _first_boundary(data, searched, quote)
        if cut is not None:
            return cut, data, eof
        if eof:
            return len(data), data, eof
        if len(data) > max_record:
            return None, data, eof
        block = read_full(stream, chunk_size)
        eof = len(block) < chunk_size
        searched = len(data)
        parts.append(block)
        data = b"".join(parts)
        parts = [data]


def _last_boundary(data: bytes, limit: int, quote: bytes | None) -> int | None:
    """Return the largest record end ``<= limit``, or None when there is none."""
    position = data.rfind(_NEWLINE, 0, limit)
    if quote is None or position < 0 or data.find(quote, 0, position) < 0:
        return position + 1 if position >= 0 else None
    quotes = data.count(quote, 0, position)
    while position >= 0:
        if quotes % 2 == 0:
            return position + 1
        previous = data.rfind(_NEWLINE, 0, position)
        quotes -= data.count(quote, previous + 1, position)
        position = previous
    return None


def _first_boundary(data: bytes, start: int, quote: bytes | None) -> int | None:
    """Return the smallest record end after ``start``, or None when there is none."""
    position = data.find(_NEWLINE, max(start - 1, 0))
    if quote is None:
        return position + 1 if position >= 0 else None
    quotes = data.count(quote, 0, position) if position >= 0 else 0
    while position >= 0:
        if quotes % 2 == 0:
            return position + 1
        following = data.find(_NEWLINE, position + 1)
        if following < 0:
            return None
        quotes += data.count(quote, position + 1, following)
        position = following
    return None


def libsvm_source(stream: BinaryIO, *, chunk_size: int, source: str) -> ChunkSource:
    """Split a LibSVM file into chunks of whole lines, validating every line.

    Raises
    ------
    UsageError
        Naming the input line (and chunk) of the first line that does not parse.
    """

    def chunks() -> Iterator[RecordChunk]:
        line = 1
        for index, data in enumerate(split_records(stream, chunk_size, source=source)):
            try:
                batch = parse_libsvm(data)
            except LibSvmSyntaxError as error:
                raise UsageError(
                    f"{source}: line {line + error.line} (chunk {index}) is not a LibSVM "
                    f"record: {error.reason}",
                    hint="Each line must be '<label> <index>:<value> ...'; fix the line and "
                    "seal again.",
                ) from None
            yield RecordChunk(data, batch.num_rows, len(data))
            line += data.count(_NEWLINE)

    return ChunkSource(ContentType.LIBSVM, {}, chunks())
