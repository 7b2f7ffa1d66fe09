"""Forged header metadata: every reader refuses it cleanly, before decrypting anything.

The header is read before any chunk is authenticated, so these are attacks anyone who can
change the file can make (no key needed): absurd nesting, text that is not Unicode, terminal
escapes, repeated members, a header too large to parse cheaply.
"""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import pytest
from sealed_helpers import KEY_A, leftovers

from accord.crypto.sealed import SealedReader, inspect_file, seal_bytes, unseal_bytes, unseal_file
from accord.crypto.sealed.header import MAX_HEADER_BODY, read_header
from accord.crypto.sealed.metadata import (
    MAX_METADATA_DEPTH,
    MetadataError,
    check_metadata,
    decode_metadata,
)
from accord.errors import IntegrityError

CSV_METADATA = {"columns": ["a", "b"], "delimiter": ",", "header_line": "a,b\n"}


def with_metadata(sealed: bytes, metadata: bytes, content_type: bytes | None = None) -> bytes:
    """Return a sealed file with its header metadata (and content type) replaced."""
    (body_length,) = struct.unpack_from(">I", sealed, 12)
    body = sealed[16 : 16 + body_length]
    type_length = body[36]
    kind = body[37 : 37 + type_length] if content_type is None else content_type
    new_body = body[:36] + bytes([len(kind)]) + kind + struct.pack(">I", len(metadata)) + metadata
    return sealed[:12] + struct.pack(">I", len(new_body)) + new_body + sealed[16 + body_length :]


@pytest.fixture
def model() -> bytes:
    """A small authentic sealed blob (content type bytes, three chunks)."""
    return seal_bytes(b"0123456789" * 5, KEY_A, chunk_size=20, name="model")


def every_reader_refuses(tmp_path: Path, data: bytes, *texts: str) -> None:
    """inspect, SealedReader, unseal_file and unseal_bytes all refuse, naming file and cause."""
    path = tmp_path / "forged.sealed"
    path.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    attempts = [
        (lambda: inspect_file(path), str(path)),
        (lambda: SealedReader(io.BytesIO(data), KEY_A, source=str(path)), str(path)),
        (lambda: unseal_file(path, out / "plain", KEY_A), str(path)),
        (lambda: unseal_bytes(data, KEY_A), "the sealed data"),
    ]
    for attempt, source in attempts:
        with pytest.raises(IntegrityError) as caught:
            attempt()
        message = str(caught.value)
        assert message.startswith(f"{source}: the header (before chunk 0) is damaged or malformed")
        for text in texts:
            assert text in message
    assert leftovers(out) == []


def test_deeply_nested_metadata_is_refused_not_a_recursion_error(tmp_path: Path, model: bytes):
    forged = with_metadata(model, b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    every_reader_refuses(tmp_path, forged, "nests deeper than 16 levels")


def test_nesting_just_past_the_limit_is_refused(tmp_path: Path, model: bytes):
    nested = b"[" * MAX_METADATA_DEPTH + b"]" * MAX_METADATA_DEPTH  # object + 16 = 17 levels
    every_reader_refuses(tmp_path, with_metadata(model, b'{"a":' + nested + b"}"), "16 levels")
    allowed = b"[" * (MAX_METADATA_DEPTH - 1) + b"]" * (MAX_METADATA_DEPTH - 1)
    assert decode_metadata(b'{"a":' + allowed + b"}")["a"] == [[[[[[[[[[[[[[[]]]]]]]]]]]]]]]


@pytest.mark.parametrize(
    ("metadata", "cause"),
    [
        (b'{"name":"\\ud800"}', "lone surrogate"),
        (b'{"\\udfff":1}', "lone surrogate"),
        (b'{"x":[{"y":"ok \\udc80"}]}', "lone surrogate"),
        (b'{"name":"a","name":"b"}', "names member 'name' twice"),
        (b'{"x":NaN}', "not valid JSON"),
        (b'{"x":-Infinity}', "not valid JSON"),
        (b'{"name":"\xff"}', "not UTF-8"),
        (b'["name"]', "not a JSON object"),
        (b'{"name":"x\\u001b[2K\\rAUTHENTICATED OK"}', "'name' holds control character U+001B"),
        (b'{"name":"\\u009b31m"}', "control character U+009B"),
        (b'{"name":""}', "'name' is empty"),
        (b'{"name":5}', "'name' is not a string"),
    ],
)
def test_malformed_metadata_is_refused(tmp_path: Path, model: bytes, metadata: bytes, cause: str):
    every_reader_refuses(tmp_path, with_metadata(model, metadata), cause)


def test_a_valid_surrogate_pair_is_text(model: bytes):
    header, _, _ = read_header(
        io.BytesIO(with_metadata(model, b'{"name":"\\ud83d\\ude00"}')), source="f"
    )
    assert header.name == "\U0001f600"


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"columns": [1, 2]}, "column 1 is not a string"),
        ({"columns": [["a"], {"b": 1}]}, "column 1 is not a string"),
        ({"columns": ["a", "a"]}, "column 2 repeats the name 'a'"),
        ({"columns": ["a", ""]}, "column 2 is empty"),
        ({"columns": ["a\tb"]}, "column 1 holds control character U+0009"),
        ({"columns": []}, "'columns' is not a non-empty array"),
        ({"delimiter": '"'}, "'delimiter' is the quote character"),
        ({"delimiter": "\n"}, "'delimiter' is not tab or a printable ASCII character"),
        ({"delimiter": "\u00e9"}, "'delimiter' is not tab or a printable ASCII character"),
        ({"delimiter": ",,"}, "'delimiter' is not one character"),
        ({"header_line": 5}, "'header_line' is not one line"),
        ({"header_line": "a,b"}, "'header_line' is not one line"),
        ({"header_line": "a\nb\n"}, "'header_line' is not one line"),
        ({"label_column": "z"}, "'label_column' names no column"),
        ({"weight_column": ["a"]}, "'weight_column' is not a string"),
    ],
)
def test_csv_members_must_have_their_documented_form(changes: dict[str, object], cause: str):
    metadata = {**CSV_METADATA, **changes}
    with pytest.raises(MetadataError, match=re.escape(cause)):
        check_metadata("csv", metadata)


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"schema": None}, "'schema' is missing"),
        ({"schema": "not base64!"}, "'schema' is not base64"),
        ({"columns": [{"name": "x", "type": "double"}]}, "'nullable' is not true or false"),
        ({"columns": [{"name": "x", "nullable": True}]}, "column 1's type is not a string"),
        ({"columns": ["x"]}, "column 1 is not an object"),
        (
            {"columns": [{"name": "x", "type": "d", "nullable": True}] * 2},
            "column 2 repeats the name 'x'",
        ),
    ],
)
def test_arrow_members_must_have_their_documented_form(changes: dict[str, object], cause: str):
    metadata = {
        "columns": [{"name": "x", "type": "double", "nullable": True}],
        "schema": "AAAA",
        **changes,
    }
    metadata = {key: value for key, value in metadata.items() if value is not None}
    with pytest.raises(MetadataError, match=re.escape(cause)):
        check_metadata("arrow", metadata)


def test_unknown_members_are_ignored():
    check_metadata("bytes", {"columns": [1, {}], "future": {"x": [None]}})
    check_metadata("libsvm", {"delimiter": 7})


def test_header_larger_than_one_mebibyte_is_refused_before_it_is_read(model: bytes):
    preamble = model[:12] + struct.pack(">I", MAX_HEADER_BODY + 1)
    with pytest.raises(IntegrityError, match="limit 1048576"):
        read_header(io.BytesIO(preamble + bytes(MAX_HEADER_BODY + 1)), source="f")


def test_a_full_size_header_of_tiny_objects_parses_quickly(tmp_path: Path, model: bytes):
    """1 MiB of "{}," (about 350,000 objects) is parsed in linear time and memory."""
    count = (MAX_HEADER_BODY - 64) // 3
    metadata = b'{"columns":[' + b"{}," * (count - 1) + b"{}]}"
    forged = with_metadata(model, metadata)
    path = tmp_path / "big.sealed"
    path.write_bytes(forged)
    info = inspect_file(path)
    assert len(info.header.metadata["columns"]) == count
    # the same metadata on a CSV file is not column names: refused, naming the column
    every_reader_refuses(tmp_path, with_metadata(model, metadata, b"csv"), "column 1 is not")
