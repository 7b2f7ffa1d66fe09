"""Parsing authenticated chunks into record batches: Arrow tables and numpy arrays.

=============  =========================================================================
content type   one chunk parses to
=============  =========================================================================
``csv``        a ``pyarrow.Table`` with the header's column names (types inferred per
               chunk unless ``column_types`` fixes them)
``arrow``      a ``pyarrow.RecordBatch`` with the file's schema
``libsvm``     a :class:`~accord.crypto.sealed.libsvm.LibSvmBatch` (labels, CSR matrix)
``bytes``      nothing: opaque data has no records
=============  =========================================================================

Only plaintext that has been authenticated reaches these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from accord.crypto.sealed.csv_records import csv_parse_options
from accord.crypto.sealed.header import ContentType, SealedHeader
from accord.crypto.sealed.libsvm import LibSvmBatch, LibSvmSyntaxError, parse_libsvm
from accord.errors import IntegrityError, UsageError

__all__ = ["Batch", "parse_chunk"]

Batch: TypeAlias = Any
"""A parsed chunk: ``pyarrow.Table`` (CSV), ``pyarrow.RecordBatch`` (Arrow) or LibSvmBatch."""


def parse_chunk(
    header: SealedHeader,
    plaintext: bytes,
    *,
    index: int,
    rows: int,
    source: str,
    column_types: Mapping[str, Any] | None = None,
) -> Batch:
    """Parse one authenticated chunk into a record batch.

    Parameters
    ----------
    header
        The file's header (its content type and metadata say how to parse).
    plaintext
        The chunk's authenticated plaintext.
    index, rows
        The chunk's index and authenticated row count (checked against what parses).
    source
        The file's name, for error messages.
    column_types
        For CSV: Arrow types of some or all columns (for example ``{"age": pa.float32()}``),
        so every chunk gets the same schema; other columns are inferred per chunk.

    Returns
    -------
    Batch
        See the module's table.

    Raises
    ------
    UsageError
        For opaque ``bytes`` files, which have no records.
    IntegrityError
        If the chunk does not parse as its content type says, or its row count differs
        from the authenticated one.
    """
    content_type = header.content_type
    if content_type is ContentType.BYTES:
        raise UsageError(
            f"{source} holds opaque bytes, which have no records to parse",
            hint="Read its plaintext chunks instead of batches.",
        )
    if content_type is ContentType.CSV:
        batch = _parse_csv(header, plaintext, index, source, column_types)
    elif content_type is ContentType.ARROW:
        batch = _parse_arrow(header, plaintext, index, source)
    else:
        batch = _parse_libsvm(plaintext, index, source)
    if batch.num_rows != rows:
        raise IntegrityError(
            f"{source}: chunk {index} parses to {batch.num_rows} rows, but its frame says {rows}",
            hint="The file was written by a non-conforming writer; seal the data again.",
        )
    return batch


def _unparsable(source: str, index: int, what: str) -> IntegrityError:
    return IntegrityError(
        f"{source}: chunk {index} is authentic but does not parse as {what}",
        hint="The file was written by a non-conforming writer; seal the data again.",
    )


def _parse_csv(
    header: SealedHeader,
    plaintext: bytes,
    index: int,
    source: str,
    column_types: Mapping[str, Any] | None,
) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = header.metadata.get("columns")
    delimiter = header.metadata.get("delimiter", ",")
    if not isinstance(columns, list) or not isinstance(delimiter, str) or len(delimiter) != 1:
        raise _unparsable(source, index, "CSV (its header lacks columns or a delimiter)")
    try:
        return pacsv.read_csv(
            pa.py_buffer(plaintext),
            read_options=pacsv.ReadOptions(column_names=columns),
            parse_options=csv_parse_options(delimiter),
            convert_options=pacsv.ConvertOptions(column_types=dict(column_types or {})),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise _unparsable(source, index, "CSV") from None


def _parse_arrow(header: SealedHeader, plaintext: bytes, index: int, source: str) -> Any:
    import pyarrow as pa

    try:
        with pa.ipc.open_stream(pa.py_buffer(plaintext)) as reader:
            batches = list(reader)
            schema = reader.schema
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise _unparsable(source, index, "an Arrow IPC stream") from None
    if len(batches) != 1:
        raise _unparsable(source, index, f"one record batch (it holds {len(batches)})")
    expected = _header_schema(header)
    if expected is not None and not schema.equals(expected, check_metadata=False):
        raise _unparsable(source, index, "the schema its header records")
    return batches[0]


def _header_schema(header: SealedHeader) -> Any:
    import base64

    import pyarrow as pa

    encoded = header.metadata.get("schema")
    if not isinstance(encoded, str):
        return None
    try:
        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(encoded, validate=True)))
    except (ValueError, pa.ArrowInvalid):
        return None


def _parse_libsvm(plaintext: bytes, index: int, source: str) -> LibSvmBatch:
    try:
        return parse_libsvm(plaintext)
    except LibSvmSyntaxError as error:
        raise _unparsable(source, index, f"LibSVM (line {error.line + 1} of the chunk)") from None
