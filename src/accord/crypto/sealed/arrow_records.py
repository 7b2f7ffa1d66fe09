"""Parquet input: record batches of about one chunk each, stored as Arrow IPC streams.

Each chunk is one complete Arrow IPC stream (schema, one record batch, end-of-stream), so
any chunk parses on its own. The metadata records the schema (as an IPC schema message,
base64) and a readable column list. Memory is bounded by one Parquet row group plus a chunk.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from accord.crypto.sealed.header import ContentType
from accord.crypto.sealed.metadata import text_problem
from accord.crypto.sealed.records import ChunkSource, RecordChunk
from accord.errors import UsageError

__all__ = ["describe_columns", "describe_schema", "parquet_source", "serialize_batch"]


def describe_columns(schema: Any) -> list[dict[str, Any]]:
    """Return the header's readable column list for an Arrow schema (name, type, nullable)."""
    return [{"name": f.name, "nullable": bool(f.nullable), "type": str(f.type)} for f in schema]


def describe_schema(schema: Any) -> dict[str, Any]:
    """Return the header metadata members that describe an Arrow schema."""
    return {
        "columns": describe_columns(schema),
        "schema": base64.b64encode(schema.serialize().to_pybytes()).decode("ascii"),
    }


def serialize_batch(batch: Any) -> bytes:
    """Write one record batch as a complete Arrow IPC stream."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _check_column_names(names: list[str], source: str) -> None:
    """Refuse column names a sealed header cannot carry (empty, repeated, control characters)."""
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        problem = text_problem(name)
        if problem is not None:
            raise UsageError(f"{source}: the name of column {position} {problem}")
        if name in seen:
            raise UsageError(f"{source}: the table has two columns named {name!r}")
        seen.add(name)


def parquet_source(
    path: Path,
    *,
    chunk_size: int,
    source: str,
    label_column: str | None = None,
    weight_column: str | None = None,
) -> ChunkSource:
    """Open a Parquet file and return chunks of about ``chunk_size`` uncompressed bytes.

    Raises
    ------
    UsageError
        If the file is not Parquet, has no rows, or lacks the label or weight column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise UsageError(
            f"{source} is not a readable Parquet file ({type(exc).__name__})"
        ) from None
    schema = parquet.schema_arrow
    _check_column_names(schema.names, source)
    metadata = describe_schema(schema)
    for member, column in (("label_column", label_column), ("weight_column", weight_column)):
        if column is None:
            continue
        if column not in schema.names:
            raise UsageError(
                f"{source} has no column {column!r} (its columns: {', '.join(schema.names)})",
                hint="Name one of the table's columns.",
            )
        metadata[member] = column
    total_rows = parquet.metadata.num_rows
    if total_rows == 0:
        raise UsageError(f"{source} holds no rows; there is nothing to seal")
    uncompressed = sum(
        parquet.metadata.row_group(i).total_byte_size for i in range(parquet.num_row_groups)
    )
    row_bytes = max(1, uncompressed // total_rows)
    batch_rows = max(1, chunk_size // row_bytes)
    file_size = path.stat().st_size

    def chunks() -> Iterator[RecordChunk]:
        done = 0
        try:
            for batch in parquet.iter_batches(batch_size=batch_rows):
                if batch.num_rows == 0:
                    continue
                data = serialize_batch(batch)
                previous = done * file_size // total_rows
                done += batch.num_rows
                yield RecordChunk(data, batch.num_rows, done * file_size // total_rows - previous)
        except pa.ArrowException as exc:
            raise UsageError(
                f"{source}: the Parquet data cannot be read ({type(exc).__name__}, after "
                f"{done} rows)"
            ) from None
        finally:
            parquet.close()

    return ChunkSource(ContentType.ARROW, metadata, chunks())
