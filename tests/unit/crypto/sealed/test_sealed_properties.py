"""Property tests: round trips over arbitrary content, chunk sizes and formats."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sealed_helpers import KEY_A

from accord.crypto.sealed import (
    SealedReader,
    inspect_file,
    seal_bytes,
    seal_file,
    unseal_bytes,
    unseal_file,
)
from accord.crypto.sealed.records import split_records

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
chunk_sizes = st.integers(min_value=1, max_value=300)


def round_trip(name: str, content: bytes, **options: object) -> tuple[bytes, int, int]:
    """Seal and unseal ``content`` in a fresh folder; return plaintext, chunks and rows."""
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / name
        plain.write_bytes(content)
        sealed = Path(folder) / "x.sealed"
        summary = seal_file(plain, sealed, KEY_A, **options)  # type: ignore[arg-type]
        back = Path(folder) / ("back" + plain.suffix)
        unsealed = unseal_file(sealed, back, KEY_A)
        assert unsealed.rows == summary.rows
        assert len(inspect_file(sealed).chunks) == summary.chunks
        return back.read_bytes(), summary.chunks, summary.rows


@SETTINGS
@given(data=st.binary(min_size=1, max_size=3000), chunk_size=chunk_sizes)
def test_bytes_round_trip(data: bytes, chunk_size: int):
    assert unseal_bytes(seal_bytes(data, KEY_A, chunk_size=chunk_size), KEY_A) == data
    back, chunks, _ = round_trip("x.bin", data, input_format="bytes", chunk_size=chunk_size)
    assert back == data
    assert chunks == -(-len(data) // chunk_size)


@SETTINGS
@given(data=st.binary(max_size=2000), chunk_size=chunk_sizes, quote=st.booleans())
def test_split_records_keeps_every_byte_and_cuts_only_at_boundaries(
    data: bytes, chunk_size: int, quote: bool
):
    chunks = list(
        split_records(io.BytesIO(data), chunk_size, source="x", quote=b'"' if quote else None)
    )
    assert b"".join(chunks) == data
    assert all(chunks)
    for chunk in chunks[:-1]:
        assert chunk.endswith(b"\n")
        if quote:
            assert chunk.count(b'"') % 2 == 0
        if len(chunk) > chunk_size:  # an oversized chunk holds a single record
            assert chunk.rfind(b"\n", 0, chunk_size) < 0 or quote


cells = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12
).filter(lambda s: "\r" not in s)


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    columns = draw(
        st.lists(
            st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
            min_size=1,
            max_size=5,
            unique=True,
        )
    )
    rows = draw(
        st.lists(
            st.lists(cells, min_size=len(columns), max_size=len(columns)), min_size=1, max_size=40
        )
    )
    # a row whose only field is empty would be a blank line, which CSV readers skip
    rows = [row for row in rows if len(row) > 1 or row[0] != ""] or [["x"] * len(columns)]
    return columns, rows


@SETTINGS
@given(table=csv_tables(), chunk_size=chunk_sizes, crlf=st.booleans())
def test_csv_round_trip(table: tuple[list[str], list[list[str]]], chunk_size: int, crlf: bool):
    columns, rows = table
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(columns)
    writer.writerows(rows)
    content = buffer.getvalue().encode()
    back, _, row_count = round_trip("t.csv", content, chunk_size=chunk_size)
    assert back == content
    assert row_count == len(rows)


@st.composite
def libsvm_files(draw: st.DrawFn) -> tuple[bytes, int]:
    lines = []
    records = 0
    for _ in range(draw(st.integers(1, 30))):
        if draw(st.booleans()) and lines:
            lines.append(draw(st.sampled_from(["", "  ", "\t"])))
            continue
        label = draw(st.sampled_from(["0", "1", "-1", "+1", "0.5", "3e2"]))
        pairs = draw(
            st.lists(
                st.tuples(st.integers(0, 2**31 - 1), st.floats(-1e6, 1e6, width=32)),
                max_size=6,
                unique_by=lambda pair: pair[0],
            )
        )
        fields = [label] + [f"{i}:{v!r}" for i, v in pairs]
        lines.append(draw(st.sampled_from([" ", "\t"])).join(fields))
        records += 1
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(lines) + draw(st.sampled_from(["", ending]))
    return text.encode(), records


@SETTINGS
@given(file=libsvm_files(), chunk_size=chunk_sizes)
def test_libsvm_round_trip(file: tuple[bytes, int], chunk_size: int):
    content, records = file
    back, _, rows = round_trip("t.libsvm", content, chunk_size=chunk_size)
    assert back == content
    assert rows == records


@st.composite
def arrow_tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(1, 60))
    ints = draw(
        st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=rows, max_size=rows)
    )
    texts = draw(st.lists(cells, min_size=rows, max_size=rows))
    floats = draw(st.lists(st.floats(allow_nan=False), min_size=rows, max_size=rows))
    return pa.table({"i": pa.array(ints, pa.int64()), "s": texts, "f": floats})


@settings(max_examples=15, deadline=None)
@given(table=arrow_tables(), chunk_size=st.integers(1, 400))
def test_parquet_round_trip(table: pa.Table, chunk_size: int):
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "t.parquet"
        pq.write_table(table, plain)
        sealed = Path(folder) / "t.sealed"
        summary = seal_file(plain, sealed, KEY_A, chunk_size=chunk_size)
        assert summary.rows == table.num_rows
        with SealedReader.open(sealed, KEY_A) as reader:
            assert pa.Table.from_batches(list(reader.iter_batches())).equals(table)
        unseal_file(sealed, Path(folder) / "back.parquet", KEY_A)
        assert pq.read_table(Path(folder) / "back.parquet").equals(table)
