"""A malicious party's own files: authentic (sealed with its real key) but not well formed.

Such a file passes every tag check, so only the reader's own checks stand between it and the
parsers underneath (Arrow's CSV and IPC readers, numpy). Each attack must end in an
IntegrityError naming the file (and the chunk, where one is at fault), never in a TypeError,
ValueError or OSError from below.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pytest
from sealed_helpers import KEY_A, seeded_random

from accord.crypto.sealed import ContentType, SealedReader, SealedWriter, unseal_bytes
from accord.crypto.sealed.arrow_records import describe_schema, serialize_batch
from accord.errors import IntegrityError, UsageError

CSV_OK: dict[str, Any] = {"columns": ["a", "b"], "delimiter": ",", "header_line": "a,b\n"}
BATCH = pa.record_batch({"x": pa.array([1, 2], pa.int64())})


def authentic(content_type: ContentType, metadata: dict[str, Any], *chunks: tuple[bytes, int]):
    """Seal ``chunks`` with KEY_A and ``metadata`` exactly as given (no checks on the way)."""
    output = io.BytesIO()
    writer = SealedWriter(
        output, KEY_A, content_type=content_type, metadata=metadata, random_bytes=seeded_random(3)
    )
    for data, rows in chunks:
        writer.add_chunk(data, rows)
    writer.finish()
    return output.getvalue()


def batches_fail(blob: bytes, *texts: str, error: type[Exception] = IntegrityError) -> str:
    """Open and read every batch; expect ``error`` whose message holds ``texts``."""
    with pytest.raises(error) as caught:
        reader = SealedReader(io.BytesIO(blob), KEY_A, source="mallory.sealed")
        for _ in reader.iter_batches():
            pass
    message = str(caught.value)
    assert message.startswith("mallory.sealed")
    for text in texts:
        assert text in message, message
    return message


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"columns": [1, 2]}, "column 1 is not a string"),
        ({"columns": [["a"], {"b": 1}]}, "column 1 is not a string"),
        ({"columns": ["a", "a"]}, "column 2 repeats the name 'a'"),
        ({"columns": []}, "'columns' is not a non-empty array"),
        ({"delimiter": '"'}, "the quote character"),
        ({"delimiter": "\n"}, "not tab or a printable ASCII character"),
        ({"delimiter": "\u00e9"}, "not tab or a printable ASCII character"),
        ({"header_line": 5}, "'header_line' is not one line"),
    ],
)
def test_csv_with_malformed_metadata_is_refused_by_every_reader(
    changes: dict[str, Any], cause: str
):
    blob = authentic(ContentType.CSV, {**CSV_OK, **changes}, (b"1,2\n", 1))
    batches_fail(blob, "header (before chunk 0) is damaged or malformed", cause)
    with pytest.raises(IntegrityError, match="damaged or malformed"):
        unseal_bytes(blob, KEY_A)


def test_csv_chunk_that_does_not_match_the_columns_names_the_chunk():
    blob = authentic(ContentType.CSV, CSV_OK, (b"1,2\n", 1), (b"1,2,3\n", 1))
    batches_fail(blob, "chunk 1 is authentic but does not parse as CSV")


def test_csv_row_count_that_differs_from_the_frame_names_the_chunk():
    blob = authentic(ContentType.CSV, CSV_OK, (b"1,2\n3,4\n", 5))
    batches_fail(blob, "chunk 0 parses to 2 rows, but its frame says 5")


def test_csv_column_types_that_are_not_types_are_a_usage_error():
    blob = authentic(ContentType.CSV, CSV_OK, (b"1,2\n", 1))
    reader = SealedReader(io.BytesIO(blob), KEY_A)
    with pytest.raises(UsageError, match="column_types"):
        next(reader.iter_batches(column_types={"a": 42}))
    with pytest.raises(IntegrityError, match="column types asked for"):
        next(reader.iter_batches(column_types={"a": pa.timestamp("s")}))


def test_arrow_garbage_chunk_is_an_integrity_error_not_an_oserror():
    blob = authentic(ContentType.ARROW, describe_schema(BATCH.schema), (b"\xff" * 64, 2))
    batches_fail(blob, "chunk 0 is authentic but does not parse as an Arrow IPC stream")


def test_arrow_without_a_schema_is_refused():
    metadata = describe_schema(BATCH.schema)
    del metadata["schema"]
    blob = authentic(ContentType.ARROW, metadata, (serialize_batch(BATCH), 2))
    batches_fail(blob, "'schema' is missing")


def test_arrow_whose_schema_is_not_a_schema_is_refused_after_authentication():
    metadata = {**describe_schema(BATCH.schema), "schema": "AAAAAAAA"}
    blob = authentic(ContentType.ARROW, metadata, (serialize_batch(BATCH), 2))
    batches_fail(blob, "the header's schema is not an Arrow IPC schema message")


def test_arrow_whose_schema_differs_from_its_column_list_is_refused():
    other = pa.schema([pa.field("x", pa.float64())])
    metadata = {**describe_schema(BATCH.schema), "schema": describe_schema(other)["schema"]}
    blob = authentic(ContentType.ARROW, metadata, (serialize_batch(BATCH), 2))
    batches_fail(blob, "the header's schema does not match its column list")


def test_arrow_chunks_with_another_schema_are_refused_naming_the_chunk():
    strings = pa.record_batch({"y": pa.array(["s"]), "z": pa.array([1.5])})
    blob = authentic(
        ContentType.ARROW,
        describe_schema(BATCH.schema),
        (serialize_batch(BATCH), 2),
        (serialize_batch(strings), 1),
    )
    batches_fail(blob, "chunk 1 is authentic but does not parse as the schema its header records")


def test_arrow_chunk_with_two_batches_is_refused():
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, BATCH.schema) as writer:
        writer.write_batch(BATCH)
        writer.write_batch(BATCH)
    two = sink.getvalue().to_pybytes()
    blob = authentic(ContentType.ARROW, describe_schema(BATCH.schema), (two, 4))
    batches_fail(blob, "chunk 0", "one record batch (it holds 2)")


def test_arrow_chunk_with_corrupt_offsets_is_refused_by_full_validation():
    strings = pa.record_batch({"s": pa.array(["ab", "cd"])})
    data = bytearray(serialize_batch(strings))
    offsets = bytes(pa.array([0, 2, 4], pa.int32()).buffers()[1])
    position = bytes(data).rindex(offsets)
    data[position + 4 : position + 8] = (1 << 30).to_bytes(4, "little")
    blob = authentic(ContentType.ARROW, describe_schema(strings.schema), (bytes(data), 2))
    batches_fail(blob, "chunk 0 is authentic but does not parse as an Arrow IPC stream")


@pytest.mark.parametrize(
    ("chunk", "cause"),
    [
        (b"1 0x10:1\n", "index that is not a decimal integer"),
        (b"1 1:1 1:2\n", "repeats the index"),
        (b"1e400 1:1\n", "label is not a finite number"),
    ],
)
def test_libsvm_chunk_that_the_sealer_would_refuse_is_refused_naming_the_chunk(
    chunk: bytes, cause: str
):
    blob = authentic(ContentType.LIBSVM, {}, (b"1 1:1\n", 1), (chunk, 1))
    batches_fail(blob, "chunk 1 is authentic but does not parse as LibSVM (line 1", cause)
