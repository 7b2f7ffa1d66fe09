"""The reader API: round trips, parsed batches, chunk ranges, inspect, progress, in-memory use."""

from __future__ import annotations

import stat
from io import BytesIO
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sealed_helpers import KEY_A, csv_text, leftovers, seeded_random

from accord.crypto.sealed import (
    ContentType,
    LibSvmBatch,
    SealedReader,
    guess_input_format,
    inspect_file,
    seal_bytes,
    seal_file,
    unseal_bytes,
    unseal_file,
)
from accord.errors import UsageError


def libsvm_text(rows: int) -> bytes:
    """Agaricus-like LibSVM lines: label 0/1, ascending 1-based indices, value 1."""
    lines = []
    for row in range(rows):
        features = " ".join(f"{index}:1" for index in range(1 + row % 5, 120, 7 + row % 3))
        lines.append(f"{row % 2} {features}")
    return ("\n".join(lines) + "\n").encode()


def test_csv_round_trip_is_byte_exact_and_private(sealed_csv, plain_csv, out_dir):
    path, summary = sealed_csv
    result = unseal_file(path, out_dir / "plain.csv", KEY_A)
    assert (out_dir / "plain.csv").read_bytes() == plain_csv.read_bytes()
    assert stat.S_IMODE((out_dir / "plain.csv").stat().st_mode) == 0o600
    assert result.rows == summary.rows == 200
    assert result.chunks == summary.chunks
    assert result.output_bytes == plain_csv.stat().st_size


def test_csv_batches_use_the_header_columns(sealed_csv):
    path, summary = sealed_csv
    with SealedReader.open(path, KEY_A) as reader:
        tables = list(reader.iter_batches(column_types={"c0": pa.float64()}))
    assert len(tables) == summary.chunks
    assert all(t.column_names == ["c0", "c1", "c2"] for t in tables)
    assert all(t.schema.field("c0").type == pa.float64() for t in tables)
    assert sum(t.num_rows for t in tables) == 200


def test_chunk_ranges_cover_the_file(sealed_csv):
    path, summary = sealed_csv
    with SealedReader.open(path, KEY_A) as reader:
        count = reader.chunk_count
        whole = [c.data for c in reader.iter_chunks()]
        halves = [c.data for c in reader.iter_chunks(0, 2)] + [
            c.data for c in reader.iter_chunks(2, count)
        ]
        assert whole == halves
        assert [c.index for c in reader.iter_chunks(1, 3)] == [1, 2]
        assert sum(reader.chunk_rows(i) for i in range(count)) == summary.rows
        assert list(reader.iter_chunks(2, 2)) == []
        with pytest.raises(UsageError, match="outside"):
            list(reader.iter_chunks(0, count + 1))
        with pytest.raises(UsageError, match="not chunk"):
            reader.read_chunk(count)


def test_inspect_needs_no_key(sealed_csv):
    path, summary = sealed_csv
    info = inspect_file(path)
    assert info.header == summary.header
    assert len(info.chunks) == summary.chunks
    assert info.total_rows == 200
    assert info.file_size == path.stat().st_size == summary.sealed_bytes
    assert info.header.metadata["columns"] == ["c0", "c1", "c2"]


def test_libsvm_round_trip_and_batches(tmp_path: Path, out_dir: Path):
    plain = tmp_path / "agaricus.libsvm"
    plain.write_bytes(libsvm_text(1611))
    sealed = tmp_path / "a.sealed"
    summary = seal_file(plain, sealed, KEY_A, chunk_size=4096)
    assert summary.chunks > 10
    assert summary.rows == 1611 and summary.header.content_type is ContentType.LIBSVM
    unseal_file(sealed, out_dir / "back.libsvm", KEY_A)
    assert (out_dir / "back.libsvm").read_bytes() == plain.read_bytes()
    with SealedReader.open(sealed, KEY_A) as reader:
        batches = list(reader.iter_batches())
    assert all(isinstance(b, LibSvmBatch) for b in batches)
    assert sum(b.num_rows for b in batches) == 1611
    first = batches[0]
    np.testing.assert_array_equal(first.indices[:3], [1, 8, 15])
    np.testing.assert_array_equal(first.labels[:3], [0, 1, 0])
    assert first.indptr[1] == len(range(1, 120, 7))


def sample_table(rows: int) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "name": [f"row-{i}" for i in range(rows)],
            "score": pa.array([i / 3 for i in range(rows)], pa.float32()),
            "flag": [i % 3 == 0 if i % 7 else None for i in range(rows)],
        }
    )


def test_parquet_round_trip_as_arrow_batches(tmp_path: Path, out_dir: Path):
    table = sample_table(500)
    plain = tmp_path / "t.parquet"
    pq.write_table(table, plain, row_group_size=128)
    sealed = tmp_path / "t.sealed"
    summary = seal_file(plain, sealed, KEY_A, chunk_size=2048, label_column="score")
    assert summary.header.content_type is ContentType.ARROW
    assert summary.chunks > 3 and summary.rows == 500
    metadata = summary.header.metadata
    assert metadata["label_column"] == "score"
    assert [c["name"] for c in metadata["columns"]] == ["id", "name", "score", "flag"]
    with SealedReader.open(sealed, KEY_A) as reader:
        batches = list(reader.iter_batches())
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert pa.Table.from_batches(batches).equals(table)
    unseal_file(sealed, out_dir / "back.parquet", KEY_A)
    assert pq.read_table(out_dir / "back.parquet").equals(table)


def test_empty_parquet_is_refused(tmp_path: Path):
    plain = tmp_path / "empty.parquet"
    pq.write_table(sample_table(0), plain)
    with pytest.raises(UsageError, match="no rows"):
        seal_file(plain, tmp_path / "e.sealed", KEY_A)
    assert not (tmp_path / "e.sealed").exists()


def test_bytes_round_trip_in_memory():
    data = bytes(range(256)) * 41
    sealed = seal_bytes(data, KEY_A, name="model", chunk_size=1000)
    assert unseal_bytes(sealed, KEY_A) == data
    with pytest.raises(UsageError, match="no records"):
        list(SealedReader(BytesIO(sealed), KEY_A).iter_batches())
    with pytest.raises(UsageError, match="empty"):
        seal_bytes(b"", KEY_A)


def test_file_ids_are_random_unless_injected(plain_csv: Path, tmp_path: Path):
    ids = {seal_file(plain_csv, tmp_path / f"{i}.sealed", KEY_A).header.file_id for i in range(3)}
    assert len(ids) == 3
    first = tmp_path / "fixed1.sealed"
    second = tmp_path / "fixed2.sealed"
    seal_file(plain_csv, first, KEY_A, random_bytes=seeded_random(5))
    seal_file(plain_csv, second, KEY_A, random_bytes=seeded_random(5))
    assert first.read_bytes() == second.read_bytes()


def test_progress_reports_input_bytes(plain_csv: Path, tmp_path: Path, out_dir: Path):
    seen: list[int] = []
    seal_file(plain_csv, tmp_path / "p.sealed", KEY_A, chunk_size=300, progress=seen.append)
    assert seen == sorted(seen) and len(seen) > 3
    assert seen[-1] == plain_csv.stat().st_size - len(b"c0,c1,c2\n")
    unsealed: list[int] = []
    unseal_file(tmp_path / "p.sealed", out_dir / "p.csv", KEY_A, progress=unsealed.append)
    assert (
        unsealed[-1]
        == (tmp_path / "p.sealed").stat().st_size
        - inspect_file(tmp_path / "p.sealed").chunks[0].offset
    )


def test_name_is_stored_in_the_header(plain_csv: Path, tmp_path: Path):
    summary = seal_file(plain_csv, tmp_path / "n.sealed", KEY_A, name="cohort 2024")
    assert inspect_file(tmp_path / "n.sealed").header.name == "cohort 2024" == summary.header.name


def test_tsv_uses_tab(tmp_path: Path, out_dir: Path):
    plain = tmp_path / "t.tsv"
    plain.write_bytes(b"a\tb\n1\t2\n")
    summary = seal_file(plain, tmp_path / "t.sealed", KEY_A)
    assert summary.header.metadata["delimiter"] == "\t" and summary.rows == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.csv", "csv"), ("A.CSV", "csv"), ("b.libsvm", "libsvm"), ("c.parquet", "parquet")],
)
def test_guess_input_format(name: str, expected: str):
    assert guess_input_format(Path(name)) == expected


def test_guess_fails_clearly():
    with pytest.raises(UsageError, match=r"agaricus\.txt\.test.*'\.test'") as caught:
        guess_input_format(Path("agaricus.txt.test"))
    assert "--format" in caught.value.hint


def test_sealing_onto_the_input_is_refused(plain_csv: Path):
    with pytest.raises(UsageError, match="is the input"):
        seal_file(plain_csv, plain_csv, KEY_A)


def test_overwrite_false_refuses_existing_output(plain_csv: Path, tmp_path: Path):
    target = tmp_path / "exists.sealed"
    target.write_bytes(b"keep")
    with pytest.raises(UsageError, match="already exists"):
        seal_file(plain_csv, target, KEY_A, overwrite=False)
    assert target.read_bytes() == b"keep"
    assert "exists.sealed" in leftovers(tmp_path)


def test_csv_input_rows_for_many_sizes(tmp_path: Path):
    plain = tmp_path / "m.csv"
    plain.write_bytes(csv_text(50, columns=5))
    for chunk_size in (1, 7, 64, 10_000):
        summary = seal_file(plain, tmp_path / "m.sealed", KEY_A, chunk_size=chunk_size)
        assert summary.rows == 50
