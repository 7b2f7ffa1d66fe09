"""CSV input: the header line, record-boundary chunks, and validation of every record.

The header line goes into the sealed file's metadata (``columns``, ``header_line``,
``delimiter``); the chunks hold the data lines exactly as in the input, so every chunk parses
on its own and unsealing gives back the input byte for byte. Each chunk is parsed with Arrow's
CSV reader (C++) before it is sealed: a record whose field count differs from the header's
stops sealing with an error naming its line. Dialect: RFC 4180 (``"`` quotes, doubled inside
a quoted field; quoted fields may hold line breaks); blank lines are skipped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, Final

from accord.crypto.sealed.header import ContentType
from accord.crypto.sealed.records import MAX_RECORD_BYTES, ChunkSource, RecordChunk, split_records
from accord.errors import UsageError

__all__ = [
    "CsvRecordError",
    "count_csv_rows",
    "csv_parse_options",
    "csv_source",
    "parse_header_line",
]

QUOTE: Final = '"'


def csv_parse_options(delimiter: str) -> Any:
    """Return the ``pyarrow.csv.ParseOptions`` of the sealed CSV dialect."""
    import pyarrow.csv as pacsv

    return pacsv.ParseOptions(
        delimiter=delimiter,
        quote_char=QUOTE,
        double_quote=True,
        escape_char=False,
        newlines_in_values=True,
        ignore_empty_lines=True,
    )


def parse_header_line(line: bytes, *, delimiter: str, source: str) -> list[str]:
    """Return the column names of a CSV header line.

    Raises
    ------
    UsageError
        If the line is not UTF-8, is empty, or names a column twice.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{source}: the header line (line 1) is not UTF-8 text") from None
    text = text.removeprefix("\ufeff").rstrip("\r\n")
    if not text.strip():
        raise UsageError(
            f"{source}: line 1 is empty; a CSV file must start with a header line naming "
            "its columns"
        )
    try:
        rows = list(csv.reader([text], delimiter=delimiter, quotechar=QUOTE, strict=True))
    except csv.Error:
        raise UsageError(f"{source}: the header line (line 1) has malformed quoting") from None
    columns = rows[0] if rows else []
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise UsageError(f"{source}: the header line names column {column!r} twice")
        seen.add(column)
    return columns


def csv_source(
    stream: BinaryIO,
    *,
    chunk_size: int,
    source: str,
    delimiter: str = ",",
    label_column: str | None = None,
    weight_column: str | None = None,
) -> ChunkSource:
    """Read a CSV file's header line and return its validated record chunks.

    Parameters
    ----------
    stream
        The CSV input, at its start.
    chunk_size
        Target plaintext bytes per chunk.
    source
        The input's name, for error messages.
    delimiter
        The field delimiter (one character).
    label_column, weight_column
        Optional column names, recorded in the metadata; they must be header columns.

    Raises
    ------
    UsageError
        For an empty input, a bad header, an unknown label or weight column, or (while the
        chunks are read) a record that does not match the header.
    """
    if len(delimiter) != 1 or delimiter in "\r\n" + QUOTE:
        raise UsageError(f"CSV delimiter {delimiter!r} must be one character, not a quote or EOL")
    header_line = stream.readline(MAX_RECORD_BYTES)
    if not header_line.endswith(b"\n"):
        raise UsageError(
            f"{source} holds no records (at most a header line); there is nothing to seal"
        )
    if header_line.count(QUOTE.encode()) % 2:
        raise UsageError(f"{source}: the header line (line 1) has an unterminated quote")
    columns = parse_header_line(header_line, delimiter=delimiter, source=source)
    metadata: dict[str, Any] = {
        "columns": columns,
        "delimiter": delimiter,
        "header_line": header_line.decode("utf-8"),
    }
    for member, column in (("label_column", label_column), ("weight_column", weight_column)):
        if column is None:
            continue
        if column not in columns:
            raise UsageError(
                f"{source} has no column {column!r} (its columns: {', '.join(columns)})",
                hint="Name one of the header's columns.",
            )
        metadata[member] = column
    chunks = _validated_chunks(stream, chunk_size, source, columns, delimiter)
    return ChunkSource(ContentType.CSV, metadata, chunks)


def _validated_chunks(
    stream: BinaryIO, chunk_size: int, source: str, columns: list[str], delimiter: str
) -> Iterator[RecordChunk]:
    offset = stream.tell()
    chunks = split_records(stream, chunk_size, source=source, quote=QUOTE.encode())
    for index, data in enumerate(chunks):
        try:
            rows = count_csv_rows(data, columns, delimiter)
        except CsvRecordError as error:
            first_line = _line_number_at(stream, offset)
            where = (
                f"line {first_line + error.line - 1} (chunk {index}"
                if first_line is not None
                else f"line {error.line} of chunk {index} ("
            )
            raise UsageError(
                f"{source}: {where}, record {error.record} of the chunk) {error.detail}",
                hint="Fix the line named above (or its quoting) and seal again.",
            ) from None
        yield RecordChunk(data, rows, len(data))
        offset += len(data)


def _line_number_at(stream: BinaryIO, offset: int) -> int | None:
    """Return the line number of byte ``offset`` by reading the input again (errors only)."""
    try:
        stream.seek(0)
        lines = 1
        remaining = offset
        while remaining > 0:
            block = stream.read(min(remaining, 1 << 20))
            if not block:
                return None
            lines += block.count(b"\n")
            remaining -= len(block)
    except (OSError, ValueError):
        return None
    return lines


class CsvRecordError(Exception):
    """A record that does not match the header (internal; sealing turns it into UsageError).

    Attributes
    ----------
    line
        Line within the chunk (from 1) where the record starts.
    record
        Record number within the chunk (from 1).
    detail
        What is wrong, without quoting the record.
    """

    def __init__(self, line: int, record: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line = line
        self.record = record
        self.detail = detail


def count_csv_rows(data: bytes | memoryview, columns: Sequence[str], delimiter: str) -> int:
    """Parse one chunk of CSV records and return how many records it holds.

    Parameters
    ----------
    data
        Whole CSV records (no header line).
    columns
        The header's column names.
    delimiter
        The field delimiter.

    Raises
    ------
    CsvRecordError
        Naming the line and record (within the chunk) of the first record that does not
        match the header.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    first = columns[0]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=list(columns), use_threads=False),
            parse_options=csv_parse_options(delimiter),
            convert_options=pacsv.ConvertOptions(
                include_columns=[first], column_types={first: pa.binary()}
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise _locate_error(bytes(data), len(columns), delimiter) from None
    return int(table.num_rows)


def _locate_error(data: bytes, expected: int, delimiter: str) -> CsvRecordError:
    """Find the first bad record of a chunk the fast parser refused (no record is quoted)."""
    text = data.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    record = 0
    try:
        for row in reader:
            if row:
                record += 1
                if len(row) != expected:
                    return CsvRecordError(
                        start,
                        record,
                        f"has {len(row)} fields, but the header has {expected} columns",
                    )
            start = reader.line_num + 1
    except csv.Error:
        return CsvRecordError(
            start, record + 1, "has malformed quoting (an unterminated or stray '\"')"
        )
    return CsvRecordError(
        1, 1, f"starts a chunk that is not valid CSV with delimiter {delimiter!r}"
    )
