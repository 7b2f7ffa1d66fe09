"""Every tampering the format must catch, performed for real on sealed files.

Each test changes a sealed file the way an attacker (or a broken disk) would, then unseals it
and checks: the error class, that the message names the file and the chunk, and that neither
the output nor a temporary file is left behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sealed_helpers import KEY_A, KEY_B, SealedParts, csv_text, flip_bit, leftovers, seeded_random

from accord.crypto.sealed import SealedReader, SealSummary, seal_file, unseal_file
from accord.crypto.sealed.header import PREAMBLE_SIZE
from accord.errors import IntegrityError, KeyMaterialError, UsageError

Sealed = tuple[Path, SealSummary]


def unseal_fails(
    path: Path, out_dir: Path, error: type[Exception], *, chunk: int | None, **kwargs: object
) -> str:
    """Unseal ``path`` expecting ``error``; check the message and that nothing is left."""
    with pytest.raises(error) as caught:
        unseal_file(path, out_dir / "plain.csv", KEY_A, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert str(path) in message
    if chunk is not None:
        assert f"chunk {chunk}" in message, message
    assert leftovers(out_dir) == []
    return message


def tampered(sealed: Sealed, tmp_path: Path, change: bytes) -> Path:
    path = tmp_path / "tampered.sealed"
    path.write_bytes(change)
    return path


# --- bit flips -------------------------------------------------------------------------------


def test_flipped_bit_in_header_metadata(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    # a bit in the column names inside the metadata JSON: still parses, but the digest differs
    position = parts.header.index(b'"c1"') + 2
    parts.header = flip_bit(parts.header, position, 1)  # c1 -> c3 (c0 would repeat a name)
    message = unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=0)
    assert "failed authentication" in message


def test_flipped_bit_in_header_file_id(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    parts.header = flip_bit(parts.header, PREAMBLE_SIZE + 16 + 5)
    unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=0)


def test_flipped_bit_anywhere_after_the_key_id(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    original = parts.header
    for position in range(PREAMBLE_SIZE + 16, len(original)):
        parts.header = flip_bit(original, position, bit=position % 8)
        unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=0)


def test_flipped_bit_in_key_id_reads_as_wrong_key(sealed_csv: Sealed, tmp_path: Path, out_dir):
    parts = SealedParts.load(sealed_csv[0])
    parts.header = flip_bit(parts.header, PREAMBLE_SIZE + 3)
    message = unseal_fails(
        parts.write(tmp_path / "t.sealed"), out_dir, KeyMaterialError, chunk=None
    )
    assert KEY_A.key_id in message


def test_flipped_bit_in_chunk_body(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames[2] = flip_bit(parts.frames[2], 8 + 10, bit=3)
    message = unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=2)
    assert "chunk 2 of" in message


def test_flipped_bit_in_tag(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames[1] = flip_bit(parts.frames[1], len(parts.frames[1]) - 1, bit=7)
    unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=1)


def test_flipped_bit_in_frame_row_count(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames[3] = flip_bit(parts.frames[3], 3)
    unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=3)


def test_changed_frame_length_is_caught(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames[1] = flip_bit(parts.frames[1], 7, bit=1)  # ciphertext length - 2
    # the walk now reads chunk 2's frame header from the wrong place and blames that chunk
    message = unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=2)
    assert "damaged" in message


# --- truncation, dropped and added chunks ----------------------------------------------------


def test_truncated_mid_chunk(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    data = sealed_csv[0].read_bytes()
    parts = SealedParts.load(sealed_csv[0])
    cut = len(parts.header) + len(parts.frames[0]) + 100
    message = unseal_fails(
        tampered(sealed_csv, tmp_path, data[:cut]), out_dir, IntegrityError, chunk=1
    )
    assert "truncated" in message


def test_truncated_inside_a_frame_header(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    data = sealed_csv[0].read_bytes()
    parts = SealedParts.load(sealed_csv[0])
    cut = len(parts.header) + len(parts.frames[0]) + 5
    message = unseal_fails(
        tampered(sealed_csv, tmp_path, data[:cut]), out_dir, IntegrityError, chunk=1
    )
    assert "truncated" in message


def test_truncated_at_chunk_boundary(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames = parts.frames[:2]
    message = unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=1)
    assert "truncated" in message


def test_dropped_last_chunk(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    last = len(parts.frames) - 2
    parts.frames = parts.frames[:-1]
    message = unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=last)
    assert "truncated" in message and "missing" in message


def test_truncated_to_the_header(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames = []
    message = unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=0)
    assert "truncated" in message


def test_truncated_inside_the_header(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    data = sealed_csv[0].read_bytes()
    unseal_fails(tampered(sealed_csv, tmp_path, data[:40]), out_dir, IntegrityError, chunk=0)


def test_dropped_middle_chunk(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    del parts.frames[1]
    last = len(parts.frames) - 1
    # the last chunk is checked before any is released: it was sealed with the next index
    message = unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=last)
    assert "dropped" in message


def test_reordered_chunks(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames[1], parts.frames[2] = parts.frames[2], parts.frames[1]
    unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=1)


def test_duplicated_chunk(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames.insert(2, parts.frames[1])
    last = len(parts.frames) - 1
    message = unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=last)
    assert "duplicated" in message


def test_appended_chunk(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    parts = SealedParts.load(sealed_csv[0])
    last = len(parts.frames) - 1
    parts.frames.append(parts.frames[0])
    message = unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=last)
    assert "appended" in message


# --- splicing and swapping between files sealed with the same key ----------------------------


@pytest.fixture
def other_sealed(tmp_path: Path) -> Path:
    """A second file, same columns, same key, same chunk size, another file id."""
    plain = tmp_path / "other.csv"
    plain.write_bytes(csv_text(200, seed=9))
    path = tmp_path / "other.sealed"
    seal_file(plain, path, KEY_A, chunk_size=512, random_bytes=seeded_random(2))
    return path


def test_chunk_spliced_from_another_file(sealed_csv, other_sealed, tmp_path, out_dir):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames[2] = SealedParts.load(other_sealed).frames[2]
    message = unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=2)
    assert "spliced" in message


def test_header_of_one_file_with_chunks_of_another(sealed_csv, other_sealed, tmp_path, out_dir):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames = SealedParts.load(other_sealed).frames
    unseal_fails(parts.write(tmp_path / "t.sealed"), out_dir, IntegrityError, chunk=0)


def test_whole_file_swap_caught_by_expected_file_id(sealed_csv, other_sealed, out_dir):
    wanted = sealed_csv[1].header.file_id
    with pytest.raises(IntegrityError) as caught:
        unseal_file(other_sealed, out_dir / "plain.csv", KEY_A, expected_file_id=wanted)
    message = str(caught.value)
    assert str(other_sealed) in message
    assert wanted in message
    assert SealedParts.load(other_sealed) and leftovers(out_dir) == []
    with SealedReader.open(other_sealed, KEY_A) as reader:
        assert reader.header.file_id in message


def test_expected_file_id_accepts_the_right_file(sealed_csv: Sealed, out_dir: Path):
    path, summary = sealed_csv
    unseal_file(path, out_dir / "plain.csv", KEY_A, expected_file_id=summary.header.file_id)
    assert leftovers(out_dir) == ["plain.csv"]


# --- keys, versions, non-sealed files ---------------------------------------------------------


def test_wrong_party_key_names_the_wanted_key_id(sealed_csv: Sealed, out_dir: Path):
    path, _ = sealed_csv
    with pytest.raises(KeyMaterialError) as caught:
        unseal_file(path, out_dir / "plain.csv", KEY_B)
    message = str(caught.value)
    assert str(path) in message
    assert KEY_A.key_id in message and KEY_B.key_id in message
    assert KEY_A.key_id in caught.value.hint
    assert leftovers(out_dir) == []


def test_unknown_format_version(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    data = bytearray(sealed_csv[0].read_bytes())
    data[8:10] = (2).to_bytes(2, "big")
    path = tmp_path / "v2.sealed"
    path.write_bytes(bytes(data))
    message = unseal_fails(path, out_dir, UsageError, chunk=None)
    assert "version 2" in message and "version 1 only" in message


def test_unknown_flags(sealed_csv: Sealed, tmp_path: Path, out_dir: Path):
    data = bytearray(sealed_csv[0].read_bytes())
    data[11] = 4
    path = tmp_path / "flags.sealed"
    path.write_bytes(bytes(data))
    assert "flags 0x0004" in unseal_fails(path, out_dir, UsageError, chunk=None)


def test_not_a_sealed_file(plain_csv: Path, out_dir: Path):
    assert "not an Accord sealed file" in unseal_fails(plain_csv, out_dir, UsageError, chunk=None)


def test_empty_file_is_not_a_sealed_file(tmp_path: Path, out_dir: Path):
    path = tmp_path / "empty.sealed"
    path.write_bytes(b"")
    unseal_fails(path, out_dir, UsageError, chunk=None)


def test_failed_unseal_keeps_an_existing_output(sealed_csv: Sealed, tmp_path: Path, out_dir):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames[-1] = flip_bit(parts.frames[-1], 20)
    target = out_dir / "plain.csv"
    target.write_bytes(b"previous")
    with pytest.raises(IntegrityError):
        unseal_file(parts.write(tmp_path / "t.sealed"), target, KEY_A)
    assert target.read_bytes() == b"previous"
    assert leftovers(out_dir) == ["plain.csv"]


# --- the range reader refuses truncated files too --------------------------------------------


def test_range_read_detects_truncation_outside_the_range(sealed_csv: Sealed, tmp_path: Path):
    parts = SealedParts.load(sealed_csv[0])
    parts.frames = parts.frames[:-1]
    path = parts.write(tmp_path / "t.sealed")
    with SealedReader.open(path, KEY_A) as reader, pytest.raises(IntegrityError) as caught:
        next(reader.iter_chunks(0, 1))
    assert "truncated" in str(caught.value)
    assert f"chunk {len(parts.frames) - 1}" in str(caught.value)
