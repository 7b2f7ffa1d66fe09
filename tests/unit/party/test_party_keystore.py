"""The party.key file format: layout, KDF parameters, and authentication of its fields."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from party_helpers import FAST_ARGON2

from accord.errors import KeyMaterialError, UsageError
from accord.party import DEFAULT_ARGON2, Argon2Parameters
from accord.party.keystore import decode_key_file, encode_key_file, read_key_file_header

PAYLOAD = {"signing_key": "c2VjcmV0LXNpZ25pbmc=", "data_key": "c2VjcmV0LWRhdGE="}
PATH = Path("dir/party.key")


def _encode(passphrase: str | None) -> bytes:
    return encode_key_file(
        PAYLOAD, party="alice", card_digest="ab" * 32, passphrase=passphrase, argon2=FAST_ARGON2
    )


def test_default_cost_is_rfc9106_second_recommendation() -> None:
    assert Argon2Parameters(iterations=3, lanes=4, memory_cost_kib=65536) == DEFAULT_ARGON2
    assert DEFAULT_ARGON2.describe() == "argon2id t=3 p=4 m=64 MiB"


def test_default_cost_runs_in_about_a_second_at_most() -> None:
    started = time.perf_counter()
    data = encode_key_file(PAYLOAD, party="a", card_digest="0" * 64, passphrase="pw")
    assert time.perf_counter() - started < 3
    assert json.loads(data)["kdf"]["memory_cost_kib"] == 65536


@pytest.mark.parametrize(
    "values",
    [(0, 1, 8), (65, 1, 8), (1, 0, 8), (1, 65, 1024), (1, 4, 31), (1, 1, 2**23), (1.0, 1, 8)],
)
def test_out_of_range_kdf_parameters_are_refused(values) -> None:
    iterations, lanes, memory = values
    with pytest.raises(KeyMaterialError, match="outside the accepted range"):
        Argon2Parameters(iterations=iterations, lanes=lanes, memory_cost_kib=memory)


def test_unprotected_file_layout() -> None:
    document = json.loads(_encode(None))
    assert document == {
        "format": "accord-party-key/v1",
        "party": "alice",
        "card_digest": "ab" * 32,
        "kdf": {"algorithm": "none"},
        "payload": PAYLOAD,
    }
    header, payload = decode_key_file(_encode(None), path=PATH, passphrase=None)
    assert payload == PAYLOAD
    assert not header.protected and header.argon2 is None


def test_protected_file_layout() -> None:
    data = _encode("pw")
    document = json.loads(data)
    assert set(document) == {"format", "party", "card_digest", "kdf", "encryption"}
    assert document["kdf"]["algorithm"] == "argon2id"
    assert document["kdf"]["version"] == 19
    assert (document["kdf"]["iterations"], document["kdf"]["lanes"]) == (1, 1)
    assert document["kdf"]["memory_cost_kib"] == 8
    assert len(document["kdf"]["salt"]) == 24  # 16 bytes
    assert document["encryption"]["algorithm"] == "aes-256-gcm"
    for secret in PAYLOAD.values():
        assert secret.encode() not in data
    header, payload = decode_key_file(data, path=PATH, passphrase="pw")
    assert payload == PAYLOAD
    assert header.argon2 == FAST_ARGON2 and header.party == "alice"


def test_salt_and_nonce_are_fresh_for_every_file() -> None:
    first, second = json.loads(_encode("pw")), json.loads(_encode("pw"))
    assert first["kdf"]["salt"] != second["kdf"]["salt"]
    assert first["encryption"]["nonce"] != second["encryption"]["nonce"]


def test_header_is_readable_without_passphrase(tmp_path) -> None:
    path = tmp_path / "party.key"
    path.write_bytes(_encode("pw"))
    header = read_key_file_header(path)
    assert header.protected and header.path == path and header.card_digest == "ab" * 32


def test_empty_passphrase_is_refused() -> None:
    with pytest.raises(UsageError, match="empty passphrase"):
        _encode("")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.__setitem__("format", "accord-party-key/v9"), "not a party key file"),
        (lambda d: d.__setitem__("kdf", {"algorithm": "scrypt"}), "unknown key derivation"),
        (lambda d: d["kdf"].__setitem__("version", 16), "unsupported Argon2 version"),
        (lambda d: d["kdf"].__setitem__("salt", "AAAA"), "salt is shorter than 16 bytes"),
        (lambda d: d["kdf"].__setitem__("salt", "%%%"), "'kdf.salt' is not valid base64"),
        (lambda d: d["encryption"].__setitem__("algorithm", "none"), "must be aes-256-gcm"),
        (lambda d: d["encryption"].__setitem__("nonce", "AAAA"), "wrong passphrase"),
        (lambda d: d.__setitem__("party", "bob"), "wrong passphrase"),
        (lambda d: d.__setitem__("party", 7), "must be text"),
    ],
)
def test_malformed_or_altered_protected_files_are_refused(edit, message) -> None:
    document = json.loads(_encode("pw"))
    edit(document)
    with pytest.raises(KeyMaterialError, match=message):
        decode_key_file(json.dumps(document).encode(), path=PATH, passphrase="pw")


@pytest.mark.parametrize(
    "payload", [None, [], {"signing_key": 1}, "text"], ids=["missing", "list", "non-text", "str"]
)
def test_malformed_unprotected_payload_is_refused(payload) -> None:
    document = json.loads(_encode(None))
    document["payload"] = payload
    with pytest.raises(KeyMaterialError, match="private payload is malformed"):
        decode_key_file(json.dumps(document).encode(), path=PATH, passphrase=None)


@pytest.mark.parametrize("data", [b"", b"not json", b"[1]"])
def test_non_key_files_are_refused(data) -> None:
    with pytest.raises(KeyMaterialError, match=r"dir/party.key is not a party key file"):
        decode_key_file(data, path=PATH, passphrase=None)
