"""No chunk of a truncated or extended file is released, whichever way it is read.

Every reading method authenticates the last chunk (with the final flag) before it returns
any other chunk, and remembers that it did; and nothing derived from the header's metadata
(the CSV header line) is written before a chunk has authenticated the header.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sealed_helpers import KEY_A, SealedParts, leftovers

from accord.crypto.sealed import (
    SealedReader,
    SealSummary,
    inspect_file,
    seal_bytes,
    unseal_bytes,
    unseal_file,
)
from accord.errors import IntegrityError

Sealed = tuple[Path, SealSummary]

READS: dict[str, Callable[[SealedReader], Any]] = {
    "read_chunk(0)": lambda reader: reader.read_chunk(0),
    "read_chunk(1)": lambda reader: reader.read_chunk(1),
    "iter_chunks()": lambda reader: next(reader.iter_chunks()),
    "iter_chunks(0, 1)": lambda reader: next(reader.iter_chunks(0, 1)),
    "iter_views()": lambda reader: next(reader.iter_views()),
    "iter_batches()": lambda reader: next(reader.iter_batches()),
    "iter_batches(1, 2)": lambda reader: next(reader.iter_batches(1, 2)),
}


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_truncated_at_a_chunk_boundary_releases_nothing(
    sealed_csv: Sealed, tmp_path: Path, read: Callable[[SealedReader], Any]
):
    parts = SealedParts.load(sealed_csv[0])
    del parts.frames[-1]
    path = parts.write(tmp_path / "cut.sealed")
    last = len(parts.frames) - 1
    with SealedReader.open(path, KEY_A) as reader, pytest.raises(IntegrityError) as caught:
        read(reader)
    message = str(caught.value)
    assert str(path) in message
    assert f"truncated: it ends after chunk {last}" in message


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_appended_chunk_releases_nothing(
    sealed_csv: Sealed, tmp_path: Path, read: Callable[[SealedReader], Any]
):
    parts = SealedParts.load(sealed_csv[0])
    writer_last = len(parts.frames) - 1
    parts.frames.append(parts.frames[-1])
    path = parts.write(tmp_path / "longer.sealed")
    with SealedReader.open(path, KEY_A) as reader, pytest.raises(IntegrityError) as caught:
        read(reader)
    assert f"chunk {writer_last} is the last chunk its writer sealed" in str(caught.value)
    assert "appended" in str(caught.value)


def test_streaming_a_truncated_file_yields_no_chunk_at_all(sealed_csv: Sealed, tmp_path: Path):
    parts = SealedParts.load(sealed_csv[0])
    del parts.frames[-2:]
    path = parts.write(tmp_path / "cut.sealed")
    for method in ("iter_chunks", "iter_views", "iter_batches"):
        released = []
        with SealedReader.open(path, KEY_A) as reader, pytest.raises(IntegrityError):
            for item in getattr(reader, method)():
                released.append(item)
        assert released == [], method


def test_dropped_middle_chunk_is_found_before_the_first_batch(sealed_csv: Sealed, tmp_path: Path):
    parts = SealedParts.load(sealed_csv[0])
    del parts.frames[2]
    path = parts.write(tmp_path / "gap.sealed")
    last = len(parts.frames) - 1
    with SealedReader.open(path, KEY_A) as reader, pytest.raises(IntegrityError) as caught:
        next(reader.iter_batches())
    message = str(caught.value)
    assert f"chunk {last}, the last of the file, was sealed as chunk {last + 1}" in message
    assert "dropped" in message


class CountingStream(io.BytesIO):
    """A stream that counts how often each offset is read from (to see the cache work)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads_at: dict[int, int] = {}

    def read(self, size: int | None = -1, /) -> bytes:
        position = self.tell()
        self.reads_at[position] = self.reads_at.get(position, 0) + 1
        return super().read(size)


def test_the_last_chunk_is_authenticated_once_per_reader(sealed_csv: Sealed):
    stream = CountingStream(sealed_csv[0].read_bytes())
    reader = SealedReader(stream, KEY_A)
    last_offset = inspect_file(sealed_csv[0]).chunks[-1].offset
    before = stream.reads_at.get(last_offset, 0)
    for index in range(reader.chunk_count - 1):
        reader.read_chunk(index)
    reader.read_chunk(0)
    assert stream.reads_at[last_offset] - before == 1
    reader.verify_last_chunk()
    assert stream.reads_at[last_offset] - before == 1


def test_a_single_chunk_file_is_decrypted_once():
    blob = seal_bytes(b"just one chunk", KEY_A, chunk_size=64)
    stream = CountingStream(blob)
    reader = SealedReader(stream, KEY_A)
    frame_offset = len(blob) - (8 + 14 + 16)
    before = stream.reads_at.get(frame_offset, 0)
    assert reader.read_chunk(0).data == b"just one chunk"
    assert stream.reads_at[frame_offset] - before == 1


# --- the CSV header line is written only after chunk 0 authenticated the header ---------------


def replace_header_line(sealed: bytes, header_line: object) -> bytes:
    (body_length,) = struct.unpack_from(">I", sealed, 12)
    body = sealed[16 : 16 + body_length]
    type_length = body[36]
    start = 37 + type_length + 4
    metadata = json.loads(body[start:])
    metadata["header_line"] = header_line
    encoded = json.dumps(metadata).encode()
    new_body = body[: 37 + type_length] + struct.pack(">I", len(encoded)) + encoded
    return sealed[:12] + struct.pack(">I", len(new_body)) + new_body + sealed[16 + body_length :]


@pytest.mark.parametrize(
    ("header_line", "cause"),
    [
        ("\ud800", "lone surrogate"),
        (5, "'header_line' is not one line"),
        ("secret,leak\n", "chunk 0 of"),
    ],
)
def test_forged_header_line_is_never_written(
    sealed_csv: Sealed, tmp_path: Path, out_dir: Path, header_line: object, cause: str
):
    forged = tmp_path / "forged.sealed"
    forged.write_bytes(replace_header_line(sealed_csv[0].read_bytes(), header_line))
    with pytest.raises(IntegrityError) as caught:
        unseal_file(forged, out_dir / "plain.csv", KEY_A)
    assert str(forged) in str(caught.value) and cause in str(caught.value)
    assert leftovers(out_dir) == []
    with pytest.raises(IntegrityError):
        unseal_bytes(forged.read_bytes(), KEY_A)
