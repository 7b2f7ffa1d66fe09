"""Record-boundary chunking and input validation: CSV, LibSVM, bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from sealed_helpers import KEY_A, leftovers

from accord.crypto.sealed import seal_file
from accord.crypto.sealed.csv_records import csv_source, parse_header_line
from accord.crypto.sealed.libsvm import LibSvmSyntaxError, parse_libsvm
from accord.crypto.sealed.records import bytes_source, split_records
from accord.errors import UsageError


def split(data: bytes, chunk_size: int, quote: bytes | None = None) -> list[bytes]:
    return list(split_records(io.BytesIO(data), chunk_size, source="in", quote=quote))


# --- split_records ---------------------------------------------------------------------------


def test_chunks_take_as_many_whole_lines_as_fit():
    data = b"aaaa\nbb\ncccccc\nd\n"
    assert split(data, 8) == [b"aaaa\nbb\n", b"cccccc\n", b"d\n"]
    assert split(data, 100) == [data]


def test_a_line_longer_than_the_chunk_size_gets_a_chunk_of_its_own():
    data = b"a\n" + b"x" * 50 + b"\nb\nc\n"
    assert split(data, 4) == [b"a\n", b"x" * 50 + b"\n", b"b\nc\n"]


def test_last_line_without_newline_is_kept():
    assert split(b"a\nb\nlast", 3) == [b"a\n", b"b\n", b"last"]


def test_quoted_line_breaks_are_not_boundaries():
    data = b'1,"x\ny\nz"\n2,w\n'
    chunks = split(data, 6, quote=b'"')
    assert chunks == [b'1,"x\ny\nz"\n', b"2,w\n"]
    assert split(data, 6) == [b'1,"x\n', b'y\nz"\n', b"2,w\n"]


def test_doubled_quotes_keep_the_parity():
    data = b'1,"a""\nb"\n2,c\n'
    assert split(data, 8, quote=b'"') == [b'1,"a""\nb"\n', b"2,c\n"]


def test_unterminated_quote_is_refused_once_past_the_record_limit(monkeypatch):
    monkeypatch.setattr("accord.crypto.sealed.records.MAX_RECORD_BYTES", 64)
    data = b'1,"never closed\n' + b"x,y\n" * 100
    with pytest.raises(UsageError, match="longer than 64 bytes"):
        split(data, 16, quote=b'"')


def test_bytes_source_uses_fixed_chunks():
    source = bytes_source(io.BytesIO(b"0123456789"), chunk_size=4)
    # the chunks are views of two buffers used in turn: copy each one as it comes
    chunks = [(bytes(c.data), c.rows) for c in source.chunks]
    assert chunks == [(b"0123", 0), (b"4567", 0), (b"89", 0)]


class Trickle(io.RawIOBase):
    """A stream that returns at most 3 bytes per read, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        chunk = self._data.read(min(3, len(buffer)))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_short_reads_are_completed():
    data = b"line one\nline two\nline three\n"
    chunks = list(split_records(Trickle(data), 10, source="pipe"))  # type: ignore[arg-type]
    assert chunks == [b"line one\n", b"line two\n", b"line three\n"]


# --- CSV -------------------------------------------------------------------------------------


def test_header_line_parsing():
    assert parse_header_line(b'\xef\xbb\xbfa,"b,c",d\r\n', delimiter=",", source="f") == [
        "a",
        "b,c",
        "d",
    ]
    with pytest.raises(UsageError, match="twice"):
        parse_header_line(b"a,b,a\n", delimiter=",", source="f")
    with pytest.raises(UsageError, match="not UTF-8"):
        parse_header_line(b"a,\xff\n", delimiter=",", source="f")
    with pytest.raises(UsageError, match="empty"):
        parse_header_line(b"\n", delimiter=",", source="f")


def test_csv_metadata_records_the_header():
    source = csv_source(
        io.BytesIO(b"a;b;y\r\n1;2;3\r\n"),
        chunk_size=64,
        source="f",
        delimiter=";",
        label_column="y",
    )
    assert source.metadata == {
        "columns": ["a", "b", "y"],
        "delimiter": ";",
        "header_line": "a;b;y\r\n",
        "label_column": "y",
    }
    assert [(c.data, c.rows) for c in source.chunks] == [(b"1;2;3\r\n", 1)]


def test_unknown_label_column_is_refused():
    with pytest.raises(UsageError, match="no column 'z'"):
        csv_source(io.BytesIO(b"a,b\n1,2\n"), chunk_size=64, source="f", label_column="z")


@pytest.mark.parametrize("content", [b"", b"a,b,c", b"a,b,c\n", b"a,b,c\n\n\n"])
def test_empty_csv_is_refused_and_nothing_is_written(tmp_path: Path, content: bytes):
    plain = tmp_path / "empty.csv"
    plain.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UsageError, match="nothing to seal") as caught:
        seal_file(plain, out / "empty.sealed", KEY_A)
    assert str(plain) in str(caught.value)
    assert leftovers(out) == []


@pytest.mark.parametrize(
    ("content", "line", "chunk", "detail"),
    [
        (b"a,b,c\n1,2,3\n4,5\n", 3, 0, "has 2 fields, but the header has 3"),
        (b"a,b,c\n" + b"1,2,3\n" * 40 + b"1,2,3,4\n", 42, 2, "has 4 fields"),
        (b'a,b,c\n1,2,3\n4,"5\n', 3, 0, "quoting"),
    ],
)
def test_malformed_csv_line_names_file_line_and_chunk(tmp_path, content, line, chunk, detail):
    plain = tmp_path / "bad.csv"
    plain.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UsageError) as caught:
        seal_file(plain, out / "bad.sealed", KEY_A, chunk_size=100)
    message = str(caught.value)
    assert str(plain) in message
    assert f"line {line} " in message
    assert f"chunk {chunk}" in message
    assert detail in message
    assert "4,5" not in message  # records are never quoted in errors
    assert leftovers(out) == []


# --- LibSVM ----------------------------------------------------------------------------------


def test_libsvm_parses_to_csr():
    batch = parse_libsvm(b"1 0:0.5 3:2\n\n0 2:-1\t7:1e3\r\n-1\n")
    assert batch.num_rows == 3
    np.testing.assert_array_equal(batch.labels, np.array([1, 0, -1], dtype=np.float32))
    np.testing.assert_array_equal(batch.indptr, [0, 2, 4, 4])
    np.testing.assert_array_equal(batch.indices, [0, 3, 2, 7])
    np.testing.assert_array_equal(batch.values, np.array([0.5, 2, -1, 1000], dtype=np.float32))
    assert batch.labels.dtype == np.float32 and batch.indices.dtype == np.int32
    assert batch.indptr.dtype == np.int64 and batch.num_features == 8


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (b"1 1:1\nx 1:1\n", 1, "label is not a number"),
        (b"1 1:1:1\n", 0, "field 2 is not <index>:<value>"),
        (b"1 1:1 2\n", 0, "field 3 is not <index>:<value>"),
        (b"1 -1:1\n", 0, "index"),
        (b"1 2147483648:1\n", 0, "index"),
        (b"1 1:one\n", 0, "field 2 has a value that is not a number"),
        (b"1 qid:3 1:1\n", 0, "field 2 has an index"),
        (b"\n\n1 1:\xff\n", 2, "not UTF-8"),
    ],
)
def test_libsvm_errors_name_the_line(text: bytes, line: int, reason: str):
    with pytest.raises(LibSvmSyntaxError) as caught:
        parse_libsvm(text)
    assert caught.value.line == line
    assert reason in caught.value.reason


def test_malformed_libsvm_line_stops_sealing(tmp_path: Path):
    plain = tmp_path / "bad.libsvm"
    plain.write_bytes(b"1 1:1\n" * 30 + b"1 1:x\n")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UsageError) as caught:
        seal_file(plain, out / "bad.sealed", KEY_A, chunk_size=64)
    message = str(caught.value)
    assert str(plain) in message and "line 31 (chunk 3)" in message
    assert leftovers(out) == []


def test_libsvm_options_that_do_not_apply_are_refused(tmp_path: Path):
    plain = tmp_path / "a.libsvm"
    plain.write_bytes(b"1 1:1\n")
    with pytest.raises(UsageError, match="first field"):
        seal_file(plain, tmp_path / "a.sealed", KEY_A, label_column="y")


@pytest.mark.parametrize("suffix", [".libsvm", ".bin"])
def test_empty_input_is_refused(tmp_path: Path, suffix: str):
    plain = tmp_path / f"empty{suffix}"
    plain.write_bytes(b"\n\n" if suffix == ".libsvm" else b"")
    out = tmp_path / "out"
    out.mkdir()
    fmt = "libsvm" if suffix == ".libsvm" else "bytes"
    with pytest.raises(UsageError, match="nothing to seal"):
        seal_file(plain, out / "x.sealed", KEY_A, input_format=fmt)  # type: ignore[arg-type]
    assert leftovers(out) == []
