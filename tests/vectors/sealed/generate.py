"""Regenerate the sealed-file test vectors (format v1) and their manifest, deterministically.

Usage::

    python tests/vectors/sealed/generate.py [--out DIR]

The data keys are fixed test keys written into manifest.json (never use them for real data).
File ids come from seeded generators, so every run writes the same bytes (the ``arrow``
vector depends on the installed pyarrow's IPC and Parquet writers; its plaintext is checked
by content, not by bytes). Invalid vectors are valid ones cut, flipped, reordered or spliced
exactly as their description says.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import struct
from pathlib import Path
from typing import Any

from accord.crypto.keys import SECRET_KEY_ACCESS, DataKey
from accord.crypto.sealed import inspect_file, seal_file

HERE = Path(__file__).resolve().parent
KEYS = {"party-a": bytes(range(32)), "party-b": bytes(range(100, 132))}
NOT_BYTE_STABLE = ("valid-arrow.sealed", "plain/table.parquet")

PEOPLE_CSV = (
    b"id,name,score,label\n"
    b"1,Ada,3.5,1\n"
    b'2,"Lovelace, A.",4.25,0\n'
    b'3,"two\nlines",1,1\n'
    b"4,Grace,-2,0\r\n"
    b"\n"
    b'5,"say ""hi""",0.125,1\n'
    b"6,Alan,7,0\n"
    b"7,Edsger,8.5,1\n"
    b"8,Barbara,9,0\n"
    b"9,Donald,10,1\n"
    b"10,Frances,11.75,0\n"
)
SMALL_LIBSVM = (
    b"1 3:1 10:1 11:1 21:1\n"
    b"0 3:1 10:1 20:1\n"
    b"\n"
    b"1 1:0.5 9:-2.25e1\n"
    b"0 4:1\t7:1 14:1 22:1 29:1\n"
    b"1\n"
    b"0 2:3 5:4\n"
)


def seeded(seed: int) -> Any:
    return random.Random(seed).randbytes


def frames(path: Path) -> tuple[bytes, list[bytes]]:
    data = path.read_bytes()
    chunks = inspect_file(path).chunks
    parts = [data[c.offset : c.offset + 8 + c.ciphertext_length] for c in chunks]
    return data[: chunks[0].offset], parts


def flip(data: bytes, position: int, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 1 << bit
    return bytes(changed)


def write_valid(out: Path, key: DataKey) -> list[dict[str, Any]]:
    plain = out / "plain"
    plain.mkdir(parents=True, exist_ok=True)
    (plain / "people.csv").write_bytes(PEOPLE_CSV)
    (plain / "small.libsvm").write_bytes(SMALL_LIBSVM)
    (plain / "model.bin").write_bytes(bytes(random.Random(7).randbytes(100)))
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"x": [1.5, 2.5, None, 4.0, 5.0, 6.5], "y": [0, 1, 0, 1, 1, 0]})
    pq.write_table(table, plain / "table.parquet")
    specs = [
        ("valid-csv.sealed", "people.csv", {"chunk_size": 40, "label_column": "label"}, 11),
        ("valid-libsvm.sealed", "small.libsvm", {"chunk_size": 32}, 12),
        ("valid-bytes.sealed", "model.bin", {"chunk_size": 32, "name": "model"}, 13),
        ("valid-arrow.sealed", "table.parquet", {"chunk_size": 24, "label_column": "y"}, 14),
    ]
    entries = []
    for name, source, options, seed in specs:
        fmt = "bytes" if source.endswith(".bin") else None
        summary = seal_file(
            plain / source,
            out / name,
            key,
            input_format=fmt,
            random_bytes=seeded(seed),
            **options,  # type: ignore[arg-type]
        )
        entry: dict[str, Any] = {
            "file": name,
            "key": "party-a",
            "outcome": "valid",
            "description": f"plain/{source} sealed with {json.dumps(options, sort_keys=True)}",
            "plaintext": f"plain/{source}",
            "content_type": str(summary.header.content_type),
            "file_id": summary.header.file_id,
            "chunks": summary.chunks,
            "rows": summary.rows,
            "chunk_rows": [c.rows for c in inspect_file(out / name).chunks],
        }
        if summary.header.content_type != "arrow":
            entry["plaintext_sha256"] = hashlib.sha256((plain / source).read_bytes()).hexdigest()
        entries.append(entry)
    return entries


def invalid(
    out: Path, name: str, data: bytes, error: str, chunk: int | None, contains: list[str], what: str
) -> dict[str, Any]:
    (out / name).write_bytes(data)
    return {
        "file": name,
        "key": "party-a",
        "outcome": "error",
        "error": error,
        "chunk": chunk,
        "message_contains": contains,
        "description": what,
    }


def write_invalid(out: Path, valid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    csv_path = out / "valid-csv.sealed"
    header, parts = frames(csv_path)
    _, other_parts = frames(out / "valid-libsvm.sealed")
    whole = csv_path.read_bytes()
    last = len(parts) - 1
    integrity = "IntegrityError"
    # a bit in the header line's text: the metadata stays well formed, only the digest changes
    metadata_bit = header.index(b'"header_line":"') + len(b'"header_line":"') + 1
    cases = [
        (
            "invalid-header-bitflip.sealed",
            flip(header, metadata_bit) + b"".join(parts),
            integrity,
            0,
            ["failed authentication"],
            "valid-csv with one bit flipped in the header metadata",
        ),
        (
            "invalid-file-id-bitflip.sealed",
            flip(header, 16 + 16) + b"".join(parts),
            integrity,
            0,
            ["failed authentication"],
            "valid-csv with one bit flipped in the file id",
        ),
        (
            "invalid-chunk-bitflip.sealed",
            header + parts[0] + flip(parts[1], 8 + 3) + b"".join(parts[2:]),
            integrity,
            1,
            ["failed authentication"],
            "valid-csv with one bit flipped in chunk 1's ciphertext",
        ),
        (
            "invalid-tag-bitflip.sealed",
            header
            + b"".join(parts[:2])
            + flip(parts[2], len(parts[2]) - 1, 7)
            + b"".join(parts[3:]),
            integrity,
            2,
            ["failed authentication"],
            "valid-csv with one bit flipped in chunk 2's tag",
        ),
        (
            "invalid-rows-bitflip.sealed",
            header + parts[0] + flip(parts[1], 3) + b"".join(parts[2:]),
            integrity,
            1,
            ["failed authentication"],
            "valid-csv with chunk 1's row count changed",
        ),
        (
            "invalid-truncated-mid-chunk.sealed",
            whole[: len(header) + len(parts[0]) + 20],
            integrity,
            1,
            ["truncated"],
            "valid-csv cut 20 bytes into chunk 1's frame",
        ),
        (
            "invalid-truncated-header.sealed",
            whole[:30],
            integrity,
            0,
            ["header"],
            "valid-csv cut inside its header",
        ),
        (
            "invalid-no-chunks.sealed",
            header,
            integrity,
            0,
            ["truncated"],
            "valid-csv with every chunk removed",
        ),
        (
            "invalid-dropped-last-chunk.sealed",
            header + b"".join(parts[:-1]),
            integrity,
            last - 1,
            ["truncated"],
            "valid-csv without its last chunk",
        ),
        (
            "invalid-dropped-middle-chunk.sealed",
            header + parts[0] + b"".join(parts[2:]),
            integrity,
            last - 1,
            ["dropped"],
            "valid-csv without chunk 1",
        ),
        (
            "invalid-reordered-chunks.sealed",
            header + parts[0] + parts[2] + parts[1] + b"".join(parts[3:]),
            integrity,
            1,
            ["failed authentication"],
            "valid-csv with chunks 1 and 2 swapped",
        ),
        (
            "invalid-spliced-chunk.sealed",
            header + parts[0] + other_parts[1] + b"".join(parts[2:]),
            integrity,
            1,
            ["failed authentication"],
            "valid-csv with chunk 1 taken from valid-libsvm (same key)",
        ),
        (
            "invalid-header-swap.sealed",
            header + b"".join(other_parts),
            integrity,
            0,
            ["failed authentication"],
            "valid-csv's header followed by valid-libsvm's chunks",
        ),
        (
            "invalid-appended-chunk.sealed",
            whole + parts[0],
            integrity,
            last,
            ["appended"],
            "valid-csv with a copy of chunk 0 appended",
        ),
        (
            "invalid-version.sealed",
            whole[:8] + struct.pack(">H", 2) + whole[10:],
            "UsageError",
            None,
            ["version 2", "version 1 only"],
            "valid-csv with format version 2",
        ),
        (
            "invalid-magic.sealed",
            b"\x89ACSEAX\n" + whole[8:],
            "UsageError",
            None,
            ["not an Accord sealed file"],
            "valid-csv with a changed magic",
        ),
    ]
    cases += malformed_metadata(out, valid)
    entries = [invalid(out, *case) for case in cases]
    key_a = DataKey(KEYS["party-a"], SECRET_KEY_ACCESS).key_id
    entries.append(
        {
            "file": "valid-csv.sealed",
            "key": "party-b",
            "outcome": "error",
            "error": "KeyMaterialError",
            "chunk": None,
            "message_contains": [key_a],
            "description": "valid-csv opened with party-b's key: the error names party-a's key id",
        }
    )
    wanted = next(v["file_id"] for v in valid if v["file"] == "valid-libsvm.sealed")
    entries.append(
        {
            "file": "valid-csv.sealed",
            "key": "party-a",
            "expected_file_id": wanted,
            "outcome": "error",
            "error": "IntegrityError",
            "chunk": None,
            "message_contains": [wanted, valid[0]["file_id"]],
            "description": "valid-csv given where valid-libsvm (same key) was expected: swapped",
        }
    )
    return entries


def with_metadata(sealed: bytes, metadata: bytes) -> bytes:
    """Return ``sealed`` with its header metadata replaced by ``metadata`` (chunks unchanged)."""
    body_length = struct.unpack_from(">I", sealed, 12)[0]
    body = sealed[16 : 16 + body_length]
    type_length = body[36]
    fixed = body[: 37 + type_length]
    new_body = fixed + struct.pack(">I", len(metadata)) + metadata
    return sealed[:12] + struct.pack(">I", len(new_body)) + new_body + sealed[16 + body_length :]


def authentic(content_type: str, metadata: dict[str, Any], chunk: bytes, rows: int) -> bytes:
    """Seal one chunk with party-a's key and the given metadata, as a careless writer might."""
    from io import BytesIO

    from accord.crypto.sealed import ContentType, SealedWriter

    output = BytesIO()
    writer = SealedWriter(
        output,
        DataKey(KEYS["party-a"], SECRET_KEY_ACCESS),
        content_type=ContentType(content_type),
        metadata=metadata,
        random_bytes=seeded(len(content_type) + rows),
    )
    writer.add_chunk(chunk, rows)
    writer.finish()
    return output.getvalue()


def malformed_metadata(out: Path, valid: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Headers whose metadata every reader refuses before it decrypts anything."""
    model = (out / "valid-bytes.sealed").read_bytes()
    integrity = "IntegrityError"
    return [
        (
            "invalid-metadata-nested.sealed",
            with_metadata(model, b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"),
            integrity,
            None,
            ["metadata nests deeper than 16 levels"],
            "valid-bytes with metadata nested 5000 levels deep",
        ),
        (
            "invalid-metadata-surrogate.sealed",
            with_metadata(model, b'{"name":"\\ud800"}'),
            integrity,
            None,
            ["lone surrogate"],
            "valid-bytes whose name is a lone surrogate (not Unicode text)",
        ),
        (
            "invalid-metadata-repeated-member.sealed",
            with_metadata(model, b'{"name":"model","name":"other"}'),
            integrity,
            None,
            ["names member 'name' twice"],
            "valid-bytes whose metadata names a member twice",
        ),
        (
            "invalid-metadata-control-character.sealed",
            with_metadata(model, b'{"name":"\\u001b]52;c;aGk=\\u0007"}'),
            integrity,
            None,
            ["control character U+001B"],
            "valid-bytes whose name holds a terminal escape sequence",
        ),
        (
            "invalid-csv-columns-not-text.sealed",
            authentic(
                "csv", {"columns": [1, 2], "delimiter": ",", "header_line": "a,b\n"}, b"1,2\n", 1
            ),
            integrity,
            None,
            ["column 1 is not a string"],
            "authentic csv (party-a's key) whose columns are numbers",
        ),
        (
            "invalid-arrow-no-schema.sealed",
            authentic(
                "arrow",
                {"columns": [{"name": "x", "nullable": True, "type": "double"}]},
                b"\x00" * 8,
                1,
            ),
            integrity,
            None,
            ["member 'schema' is missing"],
            "authentic arrow (party-a's key) whose header records no schema",
        ),
    ]


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    key = DataKey(KEYS["party-a"], SECRET_KEY_ACCESS)
    valid = write_valid(out, key)
    vectors = valid + write_invalid(out, valid)
    manifest = {
        "format": "accord sealed file, version 1 (docs/sealed-format.md)",
        "warning": "test keys only: never seal real data with them",
        "keys": {name: raw.hex() for name, raw in KEYS.items()},
        "not_byte_stable": list(NOT_BYTE_STABLE),
        "vectors": vectors,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
