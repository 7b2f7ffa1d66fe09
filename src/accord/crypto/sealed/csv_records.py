"""CSV input: the header line, record-boundary chunks, and validation of every record.

The header line goes into the sealed file's metadata (``columns``, ``header_line``,
``delimiter``); the chunks hold the data lines exactly as in the input, so every chunk parses
on its own and unsealing gives back the input byte for byte. Each chunk is parsed with Arrow's
CSV reader (C++) before it is sealed: a record whose field count differs from the header's
stops sealing with an error naming its line. Dialect: RFC 4180 (``"`` quotes, doubled inside
a quoted field; quoted fields may hold line breaks); blank lines are skipped.

A quote is special only where RFC 4180 allows one: opening a field, doubled inside a quoted
field, or closing it just before a delimiter or a line break. A quote anywhere else (``x"y``,
``"a"b``) is refused, because parsers disagree about what it means and because the chunk
splitter finds record boundaries by counting quotes: with stray quotes refused, the count
is right, so whether a file seals never depends on the chunk size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, Final

from accord.crypto.sealed.header import ContentType
from accord.crypto.sealed.metadata import csv_delimiter_problem, text_problem
from accord.crypto.sealed.records import MAX_RECORD_BYTES, ChunkSource, RecordChunk, split_records
from accord.errors import UsageError

__all__ = [
    "CsvRecordError",
    "count_csv_rows",
    "csv_parse_options",
    "csv_source",
    "first_stray_quote",
    "parse_header_line",
]

QUOTE: Final = '"'
_QUOTE_BYTE: Final = 0x22
_LF: Final = 0x0A
_CR: Final = 0x0D


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
        If the line is not UTF-8, is empty, has a stray quote, leaves a column name empty,
        puts a control character in one, or names a column twice.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{source}: the header line (line 1) is not UTF-8 text") from None
    if first_stray_quote(line, delimiter) is not None:
        raise UsageError(
            f"{source}: the header line (line 1) has a stray '\"' (a quote may only open or "
            "close a field)"
        )
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
    for position, column in enumerate(columns, start=1):
        problem = text_problem(column)
        if problem is not None:
            raise UsageError(
                f"{source}: the header line (line 1) names no valid column {position}: its "
                f"name {problem}",
                hint="Give every column a name of printable text.",
            )
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
    problem = csv_delimiter_problem(delimiter)
    if problem is not None:
        raise UsageError(
            f"CSV delimiter {delimiter!r} {problem}",
            hint="Use one ASCII character such as ',' ';' '|' or a tab.",
        )
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
            _check_text_and_quotes(data, delimiter)
            rows = count_csv_rows(data, columns, delimiter)
        except CsvRecordError as error:
            first_line = _line_number_at(stream, offset)
            record = f", record {error.record} of the chunk" if error.record else ""
            where = (
                f"line {first_line + error.line - 1} (chunk {index}{record})"
                if first_line is not None
                else f"line {error.line} of chunk {index}{record}"
            )
            raise UsageError(
                f"{source}: {where} {error.detail}",
                hint="Fix the line named above (or its quoting) and seal again.",
            ) from None
        yield RecordChunk(data, rows, len(data))
        offset += len(data)


def _check_text_and_quotes(data: bytes, delimiter: str) -> None:
    """Refuse a chunk that is not UTF-8 or holds a stray quote (naming the line in the chunk)."""
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise CsvRecordError(line, 0, "is not UTF-8 text") from None
    stray = first_stray_quote(data, delimiter)
    if stray is not None:
        line = data.count(b"\n", 0, stray) + 1
        raise CsvRecordError(
            line,
            0,
            "has a stray '\"' (a quote may only open a field, be doubled inside a "
            "quoted field, or close it before a delimiter or line break)",
        )


def first_stray_quote(data: bytes, delimiter: str) -> int | None:
    """Return the offset of the first quote RFC 4180 does not allow, or None.

    ``data`` starts at a record boundary. Counting quotes from there, an even-numbered
    quote (the 0th, 2nd...) must open a field: the byte before it is the start, a line
    break, the delimiter, or the quote just before it (the pair is a doubled quote inside a
    quoted field). An odd-numbered quote closes the field: the byte after it is the end, a
    line break, the delimiter, or a quote (a doubled quote). Where every quote obeys this,
    a line break is inside a quoted field exactly when an odd number of quotes precede it,
    which is how :func:`~accord.crypto.sealed.records.split_records` finds record ends.

    Parameters
    ----------
    data
        Whole CSV records (or a header line).
    delimiter
        The field delimiter (one ASCII character).
    """
    if QUOTE.encode() not in data:
        return None
    import numpy as np

    codes = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(codes == _QUOTE_BYTE)
    separator = ord(delimiter)
    openers = quotes[0::2]
    before = codes[openers - 1]
    opens = (before == _LF) | (before == _CR) | (before == separator) | (before == _QUOTE_BYTE)
    opens |= openers == 0
    closers = quotes[1::2]
    after = codes[np.minimum(closers + 1, codes.size - 1)]
    closes = (after == _LF) | (after == _CR) | (after == separator) | (after == _QUOTE_BYTE)
    closes |= closers == codes.size - 1
    bad = np.concatenate((openers[~opens], closers[~closes]))
    return int(bad.min()) if bad.size else None


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
        Record number within the chunk (from 1), or 0 when the fault is not in one record.
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
