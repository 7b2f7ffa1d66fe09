"""Parsing authenticated chunks into record batches: Arrow tables and numpy arrays.

=============  =========================================================================
content type   one chunk parses to
=============  =========================================================================
``csv``        a ``pyarrow.Table`` with the header's column names (types inferred per
               chunk unless ``column_types`` fixes them)
``arrow``      a ``pyarrow.RecordBatch`` with the file's schema (every chunk the same)
``libsvm``     a :class:`~accord.crypto.sealed.libsvm.LibSvmBatch` (labels, CSR matrix)
``bytes``      nothing: opaque data has no records
=============  =========================================================================

Only plaintext that has been authenticated reaches these functions, and a
:class:`BatchParser` is made only once a chunk of the file has been authenticated (so the
header it reads is authentic). Authentic is not the same as well formed: a party can seal
anything with its own key, so every failure to parse is an
:class:`~accord.errors.IntegrityError` naming the file and the chunk, never an exception
from the parser underneath.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, TypeAlias

from accord.crypto.sealed.csv_records import csv_parse_options
from accord.crypto.sealed.header import ContentType, SealedHeader
from accord.crypto.sealed.libsvm import LibSvmBatch, LibSvmSyntaxError, parse_libsvm
from accord.crypto.sealed.metadata import MetadataError, check_metadata
from accord.errors import IntegrityError, UsageError

__all__ = ["Batch", "BatchParser", "parse_chunk"]

Batch: TypeAlias = Any
"""A parsed chunk: ``pyarrow.Table`` (CSV), ``pyarrow.RecordBatch`` (Arrow) or LibSvmBatch."""

_NON_CONFORMING_HINT = "The file was written by a non-conforming writer; seal the data again."


class BatchParser:
    """Parse the authenticated chunks of one file; its metadata is checked and decoded once.

    Parameters
    ----------
    header
        The file's header, authenticated (its content type and metadata say how to parse).
    source
        The file's name, for error messages.
    column_types
        For CSV: Arrow types of some or all columns (for example ``{"age": pa.float32()}``),
        so every chunk gets the same schema; other columns are inferred per chunk.

    Raises
    ------
    UsageError
        For opaque ``bytes`` files, which have no records, or ``column_types`` that are
        not Arrow types.
    IntegrityError
        If the metadata does not describe the records (for Arrow: no valid schema, or a
        schema that differs from the column list).
    """

    def __init__(
        self,
        header: SealedHeader,
        *,
        source: str,
        column_types: Mapping[str, Any] | None = None,
    ) -> None:
        self._content_type = header.content_type
        self._source = source
        if self._content_type is ContentType.BYTES:
            raise UsageError(
                f"{source} holds opaque bytes, which have no records to parse",
                hint="Read its plaintext chunks instead of batches.",
            )
        try:
            check_metadata(self._content_type, header.metadata)
        except MetadataError as error:
            raise IntegrityError(
                f"{source}: the header's metadata {error.reason}", hint=_NON_CONFORMING_HINT
            ) from None
        self._csv_options: tuple[Any, Any, Any] | None = None
        self._schema: Any = None
        if self._content_type is ContentType.CSV:
            self._csv_options = _csv_options(header.metadata, column_types)
        elif self._content_type is ContentType.ARROW:
            self._schema = _header_schema(header.metadata, source)

    def parse(self, plaintext: bytes | memoryview, *, index: int, rows: int) -> Batch:
        """Parse one authenticated chunk into a record batch.

        Parameters
        ----------
        plaintext
            The chunk's authenticated plaintext.
        index, rows
            The chunk's index and authenticated row count (checked against what parses).

        Returns
        -------
        Batch
            See the module's table.

        Raises
        ------
        IntegrityError
            If the chunk does not parse as its content type says, or its row count differs
            from the authenticated one; the message names the file and the chunk.
        """
        if self._csv_options is not None:
            batch = self._parse_csv(self._csv_options, plaintext, index)
        elif self._content_type is ContentType.ARROW:
            batch = self._parse_arrow(plaintext, index)
        else:
            batch = self._parse_libsvm(plaintext, index)
        if batch.num_rows != rows:
            raise IntegrityError(
                f"{self._source}: chunk {index} parses to {batch.num_rows} rows, but its frame "
                f"says {rows}",
                hint=_NON_CONFORMING_HINT,
            )
        return batch

    def _unparsable(self, index: int, what: str) -> IntegrityError:
        return IntegrityError(
            f"{self._source}: chunk {index} is authentic but does not parse as {what}",
            hint=_NON_CONFORMING_HINT,
        )

    def _parse_csv(
        self, options: tuple[Any, Any, Any], plaintext: bytes | memoryview, index: int
    ) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        read_options, parse_options, convert_options = options
        try:
            return pacsv.read_csv(
                pa.py_buffer(plaintext),
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except (pa.ArrowException, OSError, TypeError, ValueError):
            raise self._unparsable(
                index, "CSV with the header's columns (and the column types asked for)"
            ) from None

    def _parse_arrow(self, plaintext: bytes | memoryview, index: int) -> Any:
        import pyarrow as pa

        try:
            with pa.ipc.open_stream(pa.py_buffer(plaintext)) as reader:
                schema = reader.schema
                batches = list(reader)
            for batch in batches:
                batch.validate(full=True)
        except (pa.ArrowException, OSError, TypeError, ValueError):
            raise self._unparsable(index, "an Arrow IPC stream") from None
        if not schema.equals(self._schema, check_metadata=False):
            raise self._unparsable(index, "the schema its header records")
        if len(batches) != 1:
            raise self._unparsable(index, f"one record batch (it holds {len(batches)})")
        return batches[0]

    def _parse_libsvm(self, plaintext: bytes | memoryview, index: int) -> LibSvmBatch:
        try:
            return parse_libsvm(bytes(plaintext))
        except LibSvmSyntaxError as error:
            raise self._unparsable(
                index, f"LibSVM (line {error.line + 1} of the chunk: {error.reason})"
            ) from None


def parse_chunk(
    header: SealedHeader,
    plaintext: bytes,
    *,
    index: int,
    rows: int,
    source: str,
    column_types: Mapping[str, Any] | None = None,
) -> Batch:
    """Parse one authenticated chunk (a :class:`BatchParser` made for this chunk alone).

    Raises
    ------
    UsageError, IntegrityError
        As :class:`BatchParser` and :meth:`BatchParser.parse`.
    """
    parser = BatchParser(header, source=source, column_types=column_types)
    return parser.parse(plaintext, index=index, rows=rows)


def _csv_options(
    metadata: Mapping[str, Any], column_types: Mapping[str, Any] | None
) -> tuple[Any, Any, Any]:
    """Return Arrow's read, parse and convert options for the file's CSV records."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        convert_options = pacsv.ConvertOptions(column_types=dict(column_types or {}))
    except (pa.ArrowException, TypeError, ValueError):
        raise UsageError(
            "column_types must map column names to Arrow types, e.g. {'age': pa.float64()}"
        ) from None
    return (
        pacsv.ReadOptions(column_names=list(metadata["columns"])),
        csv_parse_options(metadata["delimiter"]),
        convert_options,
    )


def _header_schema(metadata: Mapping[str, Any], source: str) -> Any:
    """Decode the schema the header records and check it against its column list."""
    import pyarrow as pa

    from accord.crypto.sealed.arrow_records import describe_columns

    try:
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(metadata["schema"])))
    except (pa.ArrowException, OSError, TypeError, ValueError):
        raise IntegrityError(
            f"{source}: the header's schema is not an Arrow IPC schema message",
            hint=_NON_CONFORMING_HINT,
        ) from None
    if describe_columns(schema) != metadata["columns"]:
        raise IntegrityError(
            f"{source}: the header's schema does not match its column list",
            hint=_NON_CONFORMING_HINT,
        )
    return schema
