"""The header codec and the chunk cryptography, checked against the byte layout in the docs."""

from __future__ import annotations

import hashlib
import io
import pickle
import struct

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sealed_helpers import KEY_A

from accord.crypto.keys import SECRET_KEY_ACCESS
from accord.crypto.sealed import ContentType, SealedHeader, seal_bytes
from accord.crypto.sealed.frames import ChunkCipher, ChunkTagError
from accord.crypto.sealed.header import MAGIC, read_header
from accord.errors import IntegrityError, UsageError

FILE_ID = "00112233445566778899aabbccddeeff"


def make_header(**changes: object) -> SealedHeader:
    fields: dict[str, object] = {
        "key_id": KEY_A.key_id,
        "file_id": FILE_ID,
        "chunk_size": 4096,
        "content_type": ContentType.CSV,
        "metadata": {"columns": ["a", "b"], "name": "trial"},
    }
    fields.update(changes)
    return SealedHeader(**fields)  # type: ignore[arg-type]


def test_layout_matches_the_specification():
    header = make_header()
    encoded = header.encode()
    metadata = b'{"columns":["a","b"],"name":"trial"}'
    body = (
        bytes.fromhex(KEY_A.key_id)
        + bytes.fromhex(FILE_ID)
        + struct.pack(">I", 4096)
        + b"\x03csv"
        + struct.pack(">I", len(metadata))
        + metadata
    )
    assert encoded == MAGIC + struct.pack(">HHI", 1, 0, len(body)) + body
    assert bytes.fromhex("894143534541 4c0a") == MAGIC
    assert header.digest == hashlib.sha256(encoded).digest()


def test_round_trip_and_digest_of_the_bytes_read():
    header = make_header(content_type=ContentType.BYTES, metadata={})
    stream = io.BytesIO(header.encode() + b"rest")
    parsed, digest, length = read_header(stream, source="f")
    assert parsed == header
    assert digest == header.digest
    assert length == len(header.encode())
    assert parsed.name is None and make_header().name == "trial"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key_id": "abc"}, "key id"),
        ({"file_id": "G" * 32}, "file id"),
        ({"chunk_size": 0}, "chunk size"),
        ({"chunk_size": 2**30 + 1}, "chunk size"),
    ],
)
def test_invalid_fields_are_refused(change: dict[str, object], message: str):
    with pytest.raises(UsageError, match=message):
        make_header(**change)


def test_metadata_that_is_not_json_is_refused():
    with pytest.raises(UsageError, match="canonical JSON"):
        make_header(metadata={"x": b"bytes"}).encode()


def corrupt(body_change) -> bytes:  # type: ignore[no-untyped-def]
    encoded = bytearray(make_header().encode())
    body_change(encoded)
    return bytes(encoded)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", UsageError, "not an Accord sealed file"),
        (b"PK\x03\x04 zip file", UsageError, "not an Accord sealed file"),
        (MAGIC[:5], IntegrityError, "preamble"),
        (MAGIC + b"\x00\x01\x00\x00\xff\xff\xff\xff", IntegrityError, "claims"),
        (MAGIC + b"\x00\x01\x00\x00\x00\x00\x01\x00" + b"x" * 20, IntegrityError, "ends inside"),
        (corrupt(lambda b: b.__setitem__(slice(8, 10), b"\x00\x07")), UsageError, "version 7"),
        (corrupt(lambda b: b.__setitem__(16 + 36, 9)), IntegrityError, "add up"),
        (corrupt(lambda b: b.__setitem__(16 + 37, ord("x"))), IntegrityError, "content type"),
        (corrupt(lambda b: b.__setitem__(-1, ord("]"))), IntegrityError, "JSON"),
        (
            corrupt(lambda b: b.__setitem__(slice(16 + 32, 16 + 36), bytes(4))),
            IntegrityError,
            "chunk size",
        ),
    ],
)
def test_malformed_headers(data: bytes, error: type[Exception], message: str):
    with pytest.raises(error, match=message) as caught:
        read_header(io.BytesIO(data), source="some/file.sealed")
    assert "some/file.sealed" in str(caught.value)


def test_metadata_must_be_an_object():
    header = bytearray(make_header(metadata={}).encode())
    header[-2:] = b"[]"
    with pytest.raises(IntegrityError, match="not a JSON object"):
        read_header(io.BytesIO(bytes(header)), source="f")


def test_chunk_key_nonce_and_aad_follow_the_specification():
    """Decrypt a chunk with nothing but `cryptography` and the documented derivation."""
    sealed = seal_bytes(b"hello, world", KEY_A, chunk_size=5)
    header, digest, start = read_header(io.BytesIO(sealed), source="x")
    chunk_key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=bytes.fromhex(header.file_id),
        info=b"accord/v1/sealed/chunk-key",
    ).derive(KEY_A.export_bytes(SECRET_KEY_ACCESS))
    offset = start
    plaintext = b""
    for index in range(3):
        rows, length = struct.unpack_from(">II", sealed, offset)
        ciphertext = sealed[offset + 8 : offset + 8 + length]
        final = index == 2
        nonce = bytes(4) + struct.pack(">Q", index)
        aad = digest + struct.pack(">QBI", index, int(final), rows)
        plaintext += AESGCM(chunk_key).decrypt(nonce, ciphertext, aad)
        offset += 8 + length
    assert offset == len(sealed)
    assert plaintext == b"hello, world"


def test_chunk_cipher_rejects_wrong_index_flag_or_rows():
    cipher = ChunkCipher(KEY_A, bytes(16), bytes(32))
    sealed = cipher.seal(3, b"data", final=False, rows=2)
    assert cipher.open(3, sealed, final=False, rows=2) == b"data"
    for index, final, rows in [(4, False, 2), (3, True, 2), (3, False, 3)]:
        with pytest.raises(ChunkTagError):
            cipher.open(index, sealed, final=final, rows=rows)
    with pytest.raises(ChunkTagError):
        ChunkCipher(KEY_A, b"\x01" * 16, bytes(32)).open(3, sealed, final=False, rows=2)
    assert repr(cipher) == "ChunkCipher()"
    with pytest.raises(TypeError):
        pickle.dumps(cipher)
