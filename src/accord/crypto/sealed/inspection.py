"""Looking at a sealed file without its key: the header and the frame walk.

The walk reads each 8-byte frame header and skips the ciphertext, so it learns the number of
chunks, their sizes and their (claimed) row counts without decrypting anything. Readers use
it to know the last chunk's index before decrypting; ``accord inspect`` uses it to show a
file. Nothing shown here is authenticated: only decryption with the key proves it.
"""

from __future__ import annotations

import io
import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, overload

from accord.crypto.sealed.frames import FRAME_HEADER, MIN_CIPHERTEXT, TAG_SIZE
from accord.crypto.sealed.header import SealedHeader, read_header
from accord.errors import IntegrityError, UsageError

__all__ = ["ChunkInfo", "FrameIndex", "SealedFileInfo", "inspect_file", "walk_frames"]

_WALK_BLOCK: Final = 4096
"""Bytes read at a time by the frame walk (many small frames are read from one block)."""


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """Where one chunk lies and what its frame header claims (not authenticated).

    Attributes
    ----------
    index
        The chunk's index, from 0.
    offset
        Byte offset of its frame header in the file.
    rows
        Row count from the frame header.
    ciphertext_length
        Ciphertext plus tag, in bytes.
    """

    index: int
    offset: int
    rows: int
    ciphertext_length: int

    @property
    def plaintext_length(self) -> int:
        """Plaintext bytes in the chunk."""
        return self.ciphertext_length - TAG_SIZE


class FrameIndex(Sequence[ChunkInfo]):
    """Compact positions of every chunk frame (16 bytes per chunk), from :func:`walk_frames`.

    A read-only sequence of :class:`ChunkInfo`, made on demand, so that a file of a million
    small chunks costs megabytes, not the memory of a million objects.
    """

    __slots__ = ("_lengths", "_offsets", "_rows", "file_size")

    def __init__(self, file_size: int) -> None:
        self._offsets = array("Q")
        self._rows = array("I")
        self._lengths = array("I")
        self.file_size = file_size

    def append(self, offset: int, rows: int, length: int) -> None:
        """Record one frame."""
        self._offsets.append(offset)
        self._rows.append(rows)
        self._lengths.append(length)

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, index: int) -> ChunkInfo: ...

    @overload
    def __getitem__(self, index: slice) -> list[ChunkInfo]: ...

    def __getitem__(self, index: int | slice) -> ChunkInfo | list[ChunkInfo]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return ChunkInfo(index, self._offsets[index], self._rows[index], self._lengths[index])

    @property
    def total_rows(self) -> int:
        """Sum of the frames' row counts (not authenticated)."""
        return sum(self._rows)

    @property
    def plaintext_bytes(self) -> int:
        """Sum of the frames' plaintext sizes (not authenticated)."""
        return sum(self._lengths) - TAG_SIZE * len(self._lengths)


def _stream_size(stream: BinaryIO) -> int:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, io.UnsupportedOperation, AttributeError):
        position = stream.tell()
        size = stream.seek(0, io.SEEK_END)
        stream.seek(position)
        return size


def walk_frames(stream: BinaryIO, start: int, *, source: str) -> FrameIndex:
    """Walk the chunk frames from offset ``start`` to the end of a seekable stream.

    Raises
    ------
    IntegrityError
        If the file has no chunk, ends inside a frame, or a frame's length is impossible;
        the message names the chunk.
    """
    size = _stream_size(stream)
    index = FrameIndex(size)
    offset = start
    block_start, block = 0, b""
    while offset < size:
        chunk = len(index)
        if not block_start <= offset <= block_start + len(block) - FRAME_HEADER.size:
            stream.seek(offset)
            block_start, block = offset, stream.read(_WALK_BLOCK)
        frame = block[offset - block_start : offset - block_start + FRAME_HEADER.size]
        if len(frame) < FRAME_HEADER.size:
            raise IntegrityError(
                f"{source} is truncated: it ends inside the frame header of chunk {chunk}"
            )
        rows, length = FRAME_HEADER.unpack(frame)
        if length < MIN_CIPHERTEXT:
            raise IntegrityError(
                f"{source} is damaged: chunk {chunk} declares {length} bytes, fewer than the "
                f"{MIN_CIPHERTEXT} every chunk has (a frame header up to chunk {chunk} was "
                "changed)"
            )
        remaining = size - offset - FRAME_HEADER.size
        if length > remaining:
            raise IntegrityError(
                f"{source} is truncated or damaged: chunk {chunk} declares {length} bytes but "
                f"only {remaining} remain in the file (the file was cut short, or a frame "
                f"header up to chunk {chunk} was changed)"
            )
        index.append(offset, rows, length)
        offset += FRAME_HEADER.size + length
    if not len(index):
        raise IntegrityError(
            f"{source} is truncated: it ends after the header, before chunk 0 (a sealed "
            "file has at least one chunk)"
        )
    return index


@dataclass(frozen=True)
class SealedFileInfo:
    """What can be seen of a sealed file without its key (none of it authenticated).

    Attributes
    ----------
    header
        The parsed header.
    chunks
        Every chunk's position, size and claimed row count.
    file_size
        The file's size in bytes.
    """

    header: SealedHeader
    chunks: Sequence[ChunkInfo]
    file_size: int

    @property
    def total_rows(self) -> int:
        """Sum of the chunks' claimed row counts."""
        if isinstance(self.chunks, FrameIndex):
            return self.chunks.total_rows
        return sum(chunk.rows for chunk in self.chunks)

    @property
    def plaintext_bytes(self) -> int:
        """Sum of the chunks' plaintext sizes."""
        if isinstance(self.chunks, FrameIndex):
            return self.chunks.plaintext_bytes
        return sum(chunk.plaintext_length for chunk in self.chunks)


def inspect_file(path: Path) -> SealedFileInfo:
    """Read a sealed file's header and walk its frames, without any key.

    Raises
    ------
    UsageError
        If the file cannot be read, is not a sealed file, or has an unknown version.
    IntegrityError
        If the header or the frame structure is damaged or truncated.
    """
    path = Path(path)
    try:
        stream = open(path, "rb")  # noqa: SIM115 -- closed by the with statement below
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        header, _, start = read_header(stream, source=str(path))
        frames = walk_frames(stream, start, source=str(path))
        return SealedFileInfo(header=header, chunks=frames, file_size=frames.file_size)
