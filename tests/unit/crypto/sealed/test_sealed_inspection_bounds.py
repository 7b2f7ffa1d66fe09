"""Inspecting without the key stays linear and compact, however many chunks a file claims."""

from __future__ import annotations

import struct
import time
from pathlib import Path

from sealed_helpers import KEY_A

from accord.crypto.sealed import inspect_file, seal_bytes
from accord.crypto.sealed.inspection import ChunkInfo, FrameIndex


def test_frame_index_is_a_read_only_sequence(tmp_path: Path):
    path = tmp_path / "m.sealed"
    path.write_bytes(seal_bytes(bytes(100), KEY_A, chunk_size=10))
    chunks = inspect_file(path).chunks
    assert isinstance(chunks, FrameIndex) and len(chunks) == 10
    assert chunks[-1] == chunks[9] and chunks[-1].index == 9
    assert [c.index for c in chunks[2:5]] == [2, 3, 4]
    assert [c.index for c in chunks[::-4]] == [9, 5, 1]
    assert all(isinstance(c, ChunkInfo) for c in chunks)
    assert [c.plaintext_length for c in chunks] == [10] * 10
    assert inspect_file(path).plaintext_bytes == 100


def test_a_million_tiny_frames_are_walked_in_linear_time(tmp_path: Path):
    """25 MB of 25-byte frames: forged without any key, walked in seconds, 16 bytes each."""
    sealed = seal_bytes(b"x", KEY_A)
    header = sealed[: len(sealed) - (8 + 17)]
    frame = struct.pack(">II", 0xFFFFFFFF, 17) + bytes(17)
    path = tmp_path / "frames.sealed"
    path.write_bytes(header + frame * 1_000_000)
    started = time.perf_counter()
    info = inspect_file(path)
    assert time.perf_counter() - started < 20
    assert len(info.chunks) == 1_000_000
    assert info.total_rows == 0xFFFFFFFF * 1_000_000
    assert info.plaintext_bytes == 1_000_000
